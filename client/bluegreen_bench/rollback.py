"""Time to rollback: the alarm function's latency, cold and warm, and its calls before restore.

Each sample is a real switch on the emulated AWS, held after Begin (it waits for a manual
approval: locks, record and alarm guards are written, the snapshot is taken), then the
alarm function is invoked with the guarding alarm's `CloudWatch Alarm State Change`. A
cold sample forgets the function's module first (the emulator's cold start: the handler
module is executed again and new clients are built; the interpreter-level import cost is
the cold-init table's). Latency is the handler's duration; "calls before restore" counts
the AWS calls made before the first write that puts traffic back.
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen_emulator import Emulator

from .switch_runs import CallLog, Fleets

FUNCTION = "AlarmRollbackFunction"
RESTORES = {"ModifyListener", "ModifyRule", "StopDeployment", "StopServiceDeployment"}
EVENT = Path(__file__).resolve().parents[2] / "events" / "alarm-state-change-guarded.json"


@dataclass(frozen=True)
class RollbackSample:
    cold: bool
    duration_ms: float
    calls_before_restore: int
    error: str | None


@dataclass(frozen=True)
class Percentiles:
    label: str
    samples: int
    p50_ms: float
    p95_ms: float
    calls_before_restore: int  # the most seen


def available(aws: Emulator) -> bool:
    try:
        aws.function(FUNCTION)
    except KeyError:
        return False
    return True


def _held_switch(aws: Emulator, fleets: Fleets, name: str) -> str:
    """Start a canary that needs approval; return the alarm guarding it once it waits."""
    fleet = fleets.build(with_http=False)
    request = fleet.request(approval={"required": True, "timeoutSeconds": 3600})
    aws.start_execution(aws.output("SwitchStateMachineArn"), request, name=name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(
            e["detail-type"] == "Switch Approval Needed" and e["detail"]["deploymentId"] == name
            for e in aws.events
        ):
            return fleet.alarms[0]
        time.sleep(0.005)
    raise TimeoutError(f"{name} never reached its approval wait")


def _alarm_event(alarm: str) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(json.loads(EVENT.read_text(encoding="utf-8")))
    event["detail"]["alarmName"] = alarm
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"]
    return event


def sample(aws: Emulator, log: CallLog, fleets: Fleets, name: str, cold: bool) -> RollbackSample:
    alarm = _held_switch(aws, fleets, name)
    spec = aws.function(FUNCTION)
    if cold:
        aws.runtime.reset_cold_start(spec.name)
    mark = log.mark()
    invocation = aws.runtime.invoke(spec.name, _alarm_event(alarm))
    mine = [op for function, op in log.since(mark) if function == FUNCTION]
    before = next((i for i, op in enumerate(mine) if op in RESTORES), len(mine))
    return RollbackSample(cold, invocation.duration_ms, before, invocation.error_type)


def measure(aws: Emulator, log: CallLog, fleets: Fleets, runs: int) -> list[Percentiles]:
    samples = [sample(aws, log, fleets, f"rollback-{i}", cold=i % 2 == 0) for i in range(2 * runs)]
    failed = [s for s in samples if s.error]
    if failed:
        raise RuntimeError(f"{len(failed)} alarm invocations failed: {failed[0].error}")
    return [
        _percentiles("cold", [s for s in samples if s.cold]),
        _percentiles("warm", [s for s in samples if not s.cold]),
    ]


def _percentiles(label: str, samples: list[RollbackSample]) -> Percentiles:
    durations = sorted(s.duration_ms for s in samples)
    cuts = statistics.quantiles(durations, n=20, method="inclusive") if len(durations) > 1 else []
    return Percentiles(
        label=label,
        samples=len(samples),
        p50_ms=statistics.median(durations),
        p95_ms=cuts[-1] if cuts else durations[0],
        calls_before_restore=max(s.calls_before_restore for s in samples),
    )
