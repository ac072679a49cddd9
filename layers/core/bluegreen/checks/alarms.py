"""Alarm checks, for every caller: the EC2 switch's plan and gates, and the hooks.

- `alarm_states(cloudwatch, names)`: every named alarm's state and reason, metric and
  composite alarms alike, 100 names a `DescribeAlarms` call, every page followed;
- `refuse_alarms_in_alarm`: before anything changes, every guarding alarm exists and
  none is in ALARM (unless the request allows it);
- `alarms_check`: no guarded alarm is in ALARM and every one exists (the EC2 gate's
  `alarms`, the hooks' `preflight`);
- `alarms_hold` (hooks): the same, and every configured metric holds its threshold over
  the look-back window (`thresholds.metric_threshold`: a window with no data is
  INCONCLUSIVE, never a pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidInput
from .model import CheckContext, CheckResult, Outcome, deciding
from .thresholds import metric_threshold

ALARMS = "alarms"
PREFLIGHT = "preflight"
ALARMS_HOLD = "alarmsHold"
NAMES_PER_CALL = 100  # DescribeAlarms takes at most 100 AlarmNames


def alarm_states(cloudwatch: Any, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """name -> {state, reason} for every named alarm (missing alarms are absent)."""
    states: dict[str, dict[str, str]] = {}
    paginator = cloudwatch.get_paginator("describe_alarms")
    for start in range(0, len(names), NAMES_PER_CALL):
        for page in paginator.paginate(
            AlarmNames=list(names[start : start + NAMES_PER_CALL]),
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        ):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = {
                    "state": alarm["StateValue"],
                    "reason": alarm.get("StateReason", ""),
                }
    return states


def refuse_alarms_in_alarm(cloudwatch: Any, names: Sequence[str], allow: bool) -> None:
    """Before anything changes: every guarding alarm exists, and none is in ALARM
    unless the request says so (`allowStartInAlarm`)."""
    if not names:
        return
    states = alarm_states(cloudwatch, names)
    for index, name in enumerate(names):
        if name not in states:
            raise InvalidInput(f"alarms[{index}]", f"no CloudWatch alarm named {name!r}")
    firing = [n for n in names if states[n]["state"] == "ALARM"]
    if firing and not allow:
        raise InvalidInput(
            "alarms",
            f"{', '.join(firing)} already in ALARM; fix it first or set allowStartInAlarm: true",
        )


def alarms_check(cloudwatch: Any, names: Sequence[str], check: str = ALARMS) -> CheckResult:
    """No named alarm is in ALARM, and every one exists."""
    if not names:
        return CheckResult.passed(check, "no guarding alarms configured", alarms={})
    states = alarm_states(cloudwatch, names)
    figures = {"alarms": {n: states[n]["state"] for n in names if n in states}}
    missing = [n for n in names if n not in states]
    if missing:
        return CheckResult.failed(
            check, f"guarded alarm(s) do not exist: {', '.join(missing)}", **figures
        )
    firing = [
        f"{n} is ALARM ({states[n]['reason']})" for n in names if states[n]["state"] == "ALARM"
    ]
    if firing:
        return CheckResult.failed(check, "; ".join(firing), **figures)
    return CheckResult.passed(check, f"{len(names)} alarm(s) not in ALARM", **figures)


def preflight(ctx: CheckContext) -> CheckResult:
    """No guarded alarm is in ALARM (and every guarded alarm exists)."""
    return alarms_check(ctx.clients.cloudwatch, tuple(ctx.config.alarms), PREFLIGHT)


def alarms_hold(ctx: CheckContext) -> CheckResult:
    """Alarms are not firing and every metric held its threshold over the window.

    The window looks back from now. Where the contract can wait (ECS-native re-invokes
    the hook), the check stays PENDING until the hook has waited the whole window.
    """
    config = ctx.config
    alarms = alarms_check(ctx.clients.cloudwatch, tuple(config.alarms), ALARMS_HOLD)
    look_back = max(
        [config.window_seconds, int(ctx.waited_seconds)]
        + [m.period_seconds for m in config.metrics]
    )
    now = datetime.fromtimestamp(ctx.wall_clock(), UTC)
    metrics = [
        metric_threshold(ctx.clients.cloudwatch, m.as_check(look_back), "", "", now)
        for m in config.metrics
    ]
    figures = {**alarms.details, "lookBackSeconds": look_back}
    figures["metrics"] = [m.as_record() for m in metrics]
    results = [alarms, *metrics]
    if ctx.waits_for_window and ctx.waited_seconds < config.window_seconds:
        held = f"held {ctx.waited_seconds:.0f}s of {config.window_seconds}s"
        results.append(CheckResult.pending(ALARMS_HOLD, f"verification window open: {held}"))
    outcome, why = deciding(results)
    if outcome is Outcome.PASSED:
        if not config.alarms and not metrics:
            return CheckResult.passed(ALARMS_HOLD, "no alarms or metrics configured to verify")
        held = f"{len(config.alarms)} alarm(s) and {len(metrics)} metric(s) held"
        return CheckResult.passed(ALARMS_HOLD, f"{held} over {look_back}s", **figures)
    return CheckResult(ALARMS_HOLD, outcome, "; ".join(r.reason for r in why), figures)
