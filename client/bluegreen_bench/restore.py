"""Time to restore: from green's first 5xx to production back on blue, on one timeline.

Each sample is a real 10% canary (the real state machine and task functions) on a fresh
EC2 fleet, with users on the production listener (`fixtures.traffic.user_traffic`: every
emulated wait carries their requests, served by the emulated ALB and published as its
per-target-group metrics). Green answers a share of its requests with a 503 from its
first request on, blue a smaller share (`FleetHttp.degrade`). Two moments are taken on
the emulator's clock (`Clock.epoch`, the clock the metrics are stamped with):

- t0, green's first 5xx: the start of the first stretch of emulated time in which the
  emulated ALB served green a 5xx (it serves the users of a wait minute by minute, so
  this is the wait's start or the minute's, whichever is later; a probe's 5xx is stamped
  with its own time);
- t1, traffic restored: the function's write after which every production route (the
  listener's default action and the rule) forwards nothing to green again, stamped with
  the writing function's own emulated time.

Two paths end the canary:

- **comparative analysis**: the canary's Gate judges green against blue over the step's
  window and fails; the machine's RollBack settles. t1 - t0 is the window the Gate waited
  for (the bake) + the Gate's own time + the settle's time to its restoring write.
- **alarm**: green's 5xx alarm changes to ALARM at t0 (the emulator does not evaluate
  alarms: the benchmark sets the state, on the emulated clock, when green's first 5xx is
  served); CloudWatch's `Alarm State Change` reaches the alarm function through
  EventBridge, which claims the deployment, stops the execution and restores. t1 - t0 is
  then only what the emulated account adds after the state change.

Per sample it also counts the state transitions from detection (the deciding Gate
entered; the alarm's state change) to the restoring state, the AWS calls functions made
from detection to the restoring write (that write included), and the wall seconds from
detection to restore: the orchestration overhead a real run adds to the emulated figure.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bluegreen_emulator import Emulator
from bluegreen_emulator.core import clock as clocks
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet
from bluegreen_emulator.fixtures.traffic import user_traffic

from .switch_runs import CallLog, Fleets, Moment, transitions_of

USERS_PER_SECOND = 150
GREEN_ERRORS, BLUE_ERRORS = 0.05, 0.001
CANARY_PERCENT = 10
ANALYSIS: dict[str, Any] = {"signals": ["errorRate", "latency"]}  # the defaults otherwise
GATE, ROLLBACK, ALARM_FUNCTION = "GateFunction", "RollBack", "AlarmRollbackFunction"


@dataclass(frozen=True)
class Scenario:
    label: str
    path: str  # "analysis" or "alarm"
    bake_seconds: int


@dataclass(frozen=True)
class RestoreSample:
    path: str
    status: str  # the execution's
    first_5xx: float  # t0 (emulated epoch seconds)
    detected: float  # the deciding Gate's start, or the alarm's state change
    restoring: float  # the restoring function's invocation start
    restored: float  # t1
    restored_by: str
    transitions: int  # states entered from detection to the restoring state
    calls: int  # AWS calls of functions from detection to the restoring write, included
    wall_seconds: float  # wall time from detection to restore
    switch_wall_seconds: float

    @property
    def seconds(self) -> float:
        return self.restored - self.first_5xx

    @property
    def window(self) -> float:
        return self.detected - self.first_5xx

    @property
    def evaluation(self) -> float:
        return self.restoring - self.detected

    @property
    def restore(self) -> float:
        return self.restored - self.restoring


class NotMeasured(RuntimeError):
    """The sample did not show what it is meant to (no 5xx, no restore, no detection)."""


# -- t0: green's first 5xx -------------------------------------------------------------------
def first_error_at(when: float, serving_from: float | None) -> float:
    """When a published bucket's first 5xx was served: a probe's bucket is stamped with its
    own time (`serving_from` None); the users' buckets of a wait that started at
    `serving_from` are stamped within their minute, so the later of the two starts."""
    if serving_from is None:
        return when
    return max(serving_from, math.floor(when / 60) * 60)


@contextmanager
def first_5xx(aws: Emulator, target_group_arn: str) -> Iterator[list[float]]:
    """While active, the list holds the emulated time `target_group_arn` first served a
    5xx (empty until it does)."""
    alb = aws.alb_http
    found: list[float] = []
    local = threading.local()
    simulate, publish = alb.simulate, alb._publish

    def simulating(
        listener_arn: str, rate_per_second: float, start: float, seconds: float, path: str = "/"
    ) -> int:
        local.start = start
        try:
            return simulate(listener_arn, rate_per_second, start, seconds, path)
        finally:
            local.start = None

    def publishing(listener_arn: str, target_group: str, when: float, figures: Any) -> None:
        if target_group == target_group_arn and figures.errors and not found:
            found.append(first_error_at(when, getattr(local, "start", None)))
        publish(listener_arn, target_group, when, figures)

    alb.simulate = simulating  # type: ignore[method-assign,assignment]
    alb._publish = publishing  # type: ignore[method-assign]
    try:
        yield found
    finally:
        del alb.simulate, alb._publish


@dataclass
class AlarmFired:
    emulated: float = 0.0
    wall: float = 0.0
    calls: int = 0
    fired: bool = False


@contextmanager
def alarm_at_first_5xx(
    aws: Emulator, log: CallLog, alarm: str, found: list[float]
) -> Iterator[AlarmFired]:
    """Set `alarm` to ALARM at the emulated time of green's first 5xx, from inside the
    first wait that served one (so the alarm function runs while the machine bakes)."""
    clock = aws.clock
    inner = clock.wait
    fired = AlarmFired()

    def wait(event: threading.Event, emulated_seconds: float) -> None:
        cloudwatch_time = clocks.Timeline(clock, "cloudwatch")  # the waiter's now
        inner(event, emulated_seconds)
        if fired.fired or not found:
            return
        fired.fired = True
        cloudwatch_time.advance(found[0] - clock.origin - cloudwatch_time.now())
        with clocks.running_on(cloudwatch_time), acting_as(None):
            fired.emulated, fired.wall = clock.epoch(), time.perf_counter()
            fired.calls = len(log.calls)
            aws.client("cloudwatch").set_alarm_state(
                AlarmName=alarm,
                StateValue="ALARM",
                StateReason="Threshold Crossed: green's 5xx above the threshold",
            )

    clock.wait = wait  # type: ignore[method-assign]
    try:
        yield fired
    finally:
        clock.wait = inner  # type: ignore[method-assign]


# -- t1: traffic restored --------------------------------------------------------------------
def restored_write(moments: Sequence[Moment], routes: Sequence[str], green: str) -> Moment:
    """The write after which no production route forwards to green, once one had."""
    weights = {route: 0 for route in routes}
    shifted = False
    for moment in moments:
        if moment.what == "invoked" or moment.route not in weights:
            continue
        weights[moment.route] = moment.weights.get(green, 0)
        shifted = shifted or weights[moment.route] > 0
        if shifted and not any(weights.values()):
            return moment
    raise NotMeasured("no write restored every production route to blue after a shift")


def invocation_before(moments: Sequence[Moment], function: str, write: Moment) -> Moment:
    """The last start of `function` logged before `write`."""
    index = moments.index(write)
    for moment in reversed(moments[:index]):
        if moment.function == function and moment.what == "invoked":
            return moment
    raise NotMeasured(f"no invocation of {function} before the restoring write")


def _entered(event: dict[str, Any]) -> str | None:
    if not event["type"].endswith("StateEntered"):
        return None
    return str(event.get("stateEnteredEventDetails", {}).get("name", ""))


def gate_to_rollback(history: Sequence[dict[str, Any]]) -> int:
    """Transitions from the last Gate entered before RollBack to RollBack, both included."""
    names = [_entered(e) for e in history]
    if ROLLBACK not in names:
        raise NotMeasured("the execution never entered RollBack")
    rollback = names.index(ROLLBACK)
    gates = [i for i, name in enumerate(names[:rollback]) if name == "Gate"]
    if not gates:
        raise NotMeasured("no Gate was entered before RollBack")
    return transitions_of(list(history[gates[-1] : rollback + 1]))


def after_last_wait(history: Sequence[dict[str, Any]]) -> int:
    """Transitions after the last Wait state entered (where the alarm found the machine)."""
    waits = [i for i, event in enumerate(history) if event["type"] == "WaitStateEntered"]
    return transitions_of(list(history[waits[-1] + 1 if waits else 0 :]))


def analysis_sample(
    moments: Sequence[Moment],
    history: Sequence[dict[str, Any]],
    first: float,
    routes: Sequence[str],
    green: str,
    status: str = "",
    switch_wall: float = 0.0,
) -> RestoreSample:
    """The comparative analysis's figures: the deciding Gate to the restoring write."""
    write = restored_write(moments, routes, green)
    gate = invocation_before(moments, GATE, write)
    restoring = invocation_before(moments, write.function, write)
    return RestoreSample(
        path="analysis",
        status=status,
        first_5xx=first,
        detected=gate.emulated,
        restoring=restoring.emulated,
        restored=write.emulated,
        restored_by=write.function,
        transitions=gate_to_rollback(history),
        calls=write.calls - gate.calls,
        wall_seconds=write.wall - gate.wall,
        switch_wall_seconds=switch_wall,
    )


def alarm_sample(
    moments: Sequence[Moment],
    history: Sequence[dict[str, Any]],
    first: float,
    fired: AlarmFired,
    routes: Sequence[str],
    green: str,
    status: str = "",
    switch_wall: float = 0.0,
) -> RestoreSample:
    """The alarm path's figures: the alarm's state change to the restoring write."""
    if not fired.fired:
        raise NotMeasured("the alarm was never set to ALARM")
    write = restored_write(moments, routes, green)
    restoring = invocation_before(moments, write.function, write)
    return RestoreSample(
        path="alarm",
        status=status,
        first_5xx=first,
        detected=fired.emulated,
        restoring=restoring.emulated,
        restored=write.emulated,
        restored_by=write.function,
        transitions=after_last_wait(history),
        calls=write.calls - fired.calls,
        wall_seconds=write.wall - fired.wall,
        switch_wall_seconds=switch_wall,
    )


# -- one sample, end to end ------------------------------------------------------------------
def analysis_configured() -> str:
    """The request's analysis as the switch parses it: what the figures were measured with."""
    from bluegreen.checks.analysis_config import parse_analysis_config

    config = parse_analysis_config(ANALYSIS, "analysis")
    signals = ["error rate"] if config.error_rate is not None else []
    if config.latency is not None:
        signals.append("/".join(config.latency.stats) + " latency")
    return (
        f"{' + '.join(signals)}, {config.period_seconds} s periods, "
        f"alpha {config.alpha:g}, inconclusive rule {config.inconclusive_rule}"
    )


def canary_request(fleet: Ec2Fleet, bake_seconds: int) -> dict[str, Any]:
    return fleet.request(
        strategy={"type": "canary", "percent": CANARY_PERCENT, "bakeSeconds": bake_seconds},
        analysis=ANALYSIS,
    )


def _errors_alarm(fleet: Ec2Fleet) -> str:
    return next(a for a in fleet.alarms if a.endswith("-5xx"))


def sample(
    aws: Emulator, log: CallLog, fleets: Fleets, scenario: Scenario, name: str
) -> RestoreSample:
    fleet = fleets.build()
    assert fleet.http is not None
    fleet.http.degrade("green", error_rate=GREEN_ERRORS)
    fleet.http.degrade("blue", error_rate=BLUE_ERRORS)
    request = canary_request(fleet, scenario.bake_seconds)
    first_moment = len(log.moments)
    with (
        first_5xx(aws, fleet.green_arn) as found,
        user_traffic(aws, fleet.listener_arn, USERS_PER_SECOND),
        _maybe_alarm(aws, log, fleet, scenario, found) as fired,
    ):
        started = time.perf_counter()
        execution = aws.start_execution(aws.output("SwitchStateMachineArn"), request, name=name)
        described = aws.wait_for_execution(execution, timeout=120)
        switch_wall = time.perf_counter() - started
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=execution, maxResults=1000
    )["events"]
    if not found:
        raise NotMeasured(f"{name}: green never served a 5xx")
    moments = log.moments[first_moment:]
    routes = [fleet.listener_arn, fleet.rule_arn]
    status = str(described["status"])
    if fired is None:
        return analysis_sample(
            moments, history, found[0], routes, fleet.green_arn, status, switch_wall
        )
    return alarm_sample(
        moments, history, found[0], fired, routes, fleet.green_arn, status, switch_wall
    )


@contextmanager
def _maybe_alarm(
    aws: Emulator, log: CallLog, fleet: Ec2Fleet, scenario: Scenario, found: list[float]
) -> Iterator[AlarmFired | None]:
    if scenario.path != "alarm":
        yield None
        return
    with alarm_at_first_5xx(aws, log, _errors_alarm(fleet), found) as fired:
        yield fired


# -- the table's rows ------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreRow:
    scenario: Scenario
    samples: tuple[RestoreSample, ...]

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(s, attribute) for s in self.samples))

    def span(self, attribute: str) -> tuple[float, float]:
        values = [float(getattr(s, attribute)) for s in self.samples]
        return min(values), max(values)


SCENARIOS = (
    Scenario("comparative analysis", "analysis", 120),
    Scenario("comparative analysis", "analysis", 300),
    Scenario("alarm (state set at t0)", "alarm", 300),
)


def measure(
    aws: Emulator,
    log: CallLog,
    fleets: Fleets,
    runs: int,
    scenarios: Sequence[Scenario] = SCENARIOS,
) -> list[RestoreRow]:
    rows = []
    for index, scenario in enumerate(scenarios):
        samples = tuple(
            sample(aws, log, fleets, scenario, name=f"restore-{index}-{n}") for n in range(runs)
        )
        rows.append(RestoreRow(scenario, samples))
    return rows
