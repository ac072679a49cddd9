"""The benchmark's arithmetic: what it counts as a transition, what a switch costs, and how
the time from green's first 5xx to traffic restored is read from what happened."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_bench.__main__ import render_text, restore_table
from bluegreen_bench.restore import (
    AlarmFired,
    NotMeasured,
    RestoreRow,
    Scenario,
    alarm_sample,
    analysis_sample,
    first_error_at,
    gate_to_rollback,
    restored_write,
)
from bluegreen_bench.switch_runs import (
    CallLog,
    Invoked,
    Moment,
    SwitchRun,
    configured_waits,
    in_function,
    transitions_of,
)

pytestmark = pytest.mark.unit


def test_transitions_are_states_entered_plus_task_retries() -> None:
    # Given a history: a task retried once, a choice, a wait and the end
    history = [
        {"type": t}
        for t in (
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskFailed",
            "TaskScheduled",
            "TaskSucceeded",
            "TaskStateExited",
            "ChoiceStateEntered",
            "WaitStateEntered",
            "SucceedStateEntered",
            "ExecutionSucceeded",
        )
    ]
    # Then four states entered and one retry are five billed transitions
    assert transitions_of(history) == 5


def test_a_switch_costs_its_transitions_and_its_lambda_gb_seconds() -> None:
    # Given 19 transitions and two invocations: 256 MB for 100.2 ms, 1024 MB for 10 ms
    run = SwitchRun(
        label="canary",
        status="SUCCEEDED",
        seconds=0.5,
        configured_wait_s=300,
        transitions=19,
        invocations=(Invoked("Shift", 100.2, 256), Invoked("Alarm", 10.0, 1024)),
        aws_calls=10,
    )
    # Then Lambda bills 101 ms x 0.25 GB + 10 ms x 1 GB, plus two requests
    assert run.gb_seconds == pytest.approx(0.101 * 0.25 + 0.010)
    assert run.step_functions_usd == pytest.approx(19 * 0.000025)
    assert run.lambda_usd == pytest.approx(0.03525 * 0.0000133334 + 2 * 0.0000002)
    assert run.usd == pytest.approx(run.step_functions_usd + run.lambda_usd)


def test_configured_waits_are_the_bakes_of_the_planned_steps() -> None:
    strategy = {"type": "linear", "stepPercent": 25, "stepBakeSeconds": 120}
    assert configured_waits({"strategy": strategy}) == 4 * 120


# -- time to restore: from green's first 5xx to every production route back on blue ----------
LISTENER, RULE, TEST_LISTENER = "listener/prod", "rule/api", "listener/test"
BLUE, GREEN = "tg/blue", "tg/green"
T0 = 1_700_000_000.0


def _write(function: str, route: str, green: int, at: float, calls: int, wall: float) -> Moment:
    operation = "ModifyRule" if route.startswith("rule/") else "ModifyListener"
    return Moment(function, operation, at, wall, calls, route, {BLUE: 100 - green, GREEN: green})


def _invoked(function: str, at: float, calls: int, wall: float) -> Moment:
    return Moment(function, "invoked", at, wall, calls)


def _canary_rolled_back_by_its_gate() -> list[Moment]:
    """A canary shifted at T0, judged 300 s later, restored by the settle after it."""
    return [
        _invoked("ShiftFunction", T0, 10, wall=1.0),
        _write("TestTrafficFunction", TEST_LISTENER, 100, T0, 11, wall=1.1),
        _write("ShiftFunction", LISTENER, 10, T0, 12, wall=1.2),
        _write("ShiftFunction", RULE, 10, T0, 13, wall=1.3),
        _invoked("GateFunction", T0 + 300, 20, wall=2.0),
        _invoked("SettleFunction", T0 + 301, 24, wall=2.4),
        _write("SettleFunction", LISTENER, 0, T0 + 302, 26, wall=2.5),
        _write("SettleFunction", RULE, 0, T0 + 302, 28, wall=2.6),
        _write("SettleFunction", TEST_LISTENER, 0, T0 + 302, 29, wall=2.7),
    ]


def _entered(kind: str, name: str) -> dict[str, Any]:
    return {"type": kind, "stateEnteredEventDetails": {"name": name}}


HISTORY = [
    _entered("TaskStateEntered", "ShiftTraffic"),
    _entered("WaitStateEntered", "Bake"),
    _entered("TaskStateEntered", "Gate"),
    {"type": "TaskScheduled"},
    {"type": "TaskFailed"},
    _entered("TaskStateEntered", "RollBack"),
    {"type": "TaskScheduled"},
    _entered("ChoiceStateEntered", "Settled"),
    _entered("FailStateEntered", "RolledBack"),
]


def test_the_analysis_path_is_timed_from_greens_first_5xx_to_the_last_route_restored() -> None:
    # Given green's first 5xx at T0, its Gate 300 s later, the settle's writes after it
    sample = analysis_sample(
        _canary_rolled_back_by_its_gate(), HISTORY, T0, [LISTENER, RULE], GREEN
    )
    # Then traffic counts as restored at the rule's write (the listener alone is not
    # enough; the test listener is no production route), 302 s after the first 5xx
    assert sample.restored_by == "SettleFunction"
    assert sample.restored > sample.first_5xx
    assert sample.seconds == pytest.approx(302)
    assert (sample.window, sample.evaluation, sample.restore) == pytest.approx((300, 1, 1))
    assert sample.window + sample.evaluation + sample.restore == pytest.approx(sample.seconds)
    # and from the Gate: 2 transitions (Gate, RollBack), 8 calls, 0.6 s of wall time
    assert sample.transitions == 2
    assert sample.calls == 28 - 20
    assert sample.wall_seconds == pytest.approx(0.6)


def test_a_canary_never_restored_is_not_measured() -> None:
    # Given the settle restored the listener but not the rule
    moments = _canary_rolled_back_by_its_gate()[:-2]
    # Then there is no figure to report
    with pytest.raises(NotMeasured, match="no write restored every production route"):
        analysis_sample(moments, HISTORY, T0, [LISTENER, RULE], GREEN)


def test_routes_that_never_served_green_are_not_a_restore() -> None:
    # Given writes that keep production on blue (a switch refused before any shift)
    moments = [_write("SettleFunction", LISTENER, 0, T0, 1, 1.0), _write("S", RULE, 0, T0, 2, 1.1)]
    with pytest.raises(NotMeasured):
        restored_write(moments, [LISTENER, RULE], GREEN)


def test_a_rollback_without_a_gate_before_it_is_not_the_analysis_path() -> None:
    history = [e for e in HISTORY if e.get("stateEnteredEventDetails", {}).get("name") != "Gate"]
    with pytest.raises(NotMeasured, match="no Gate"):
        gate_to_rollback(history)


def test_the_alarm_path_is_timed_from_the_alarms_state_change() -> None:
    # Given green's 5xx alarm set to ALARM at T0 + 60, while the machine bakes
    moments = [
        *_canary_rolled_back_by_its_gate()[:4],
        _invoked("AlarmRollbackFunction", T0 + 60, 15, wall=1.5),
        _write("AlarmRollbackFunction", LISTENER, 0, T0 + 60, 17, wall=1.7),
        _write("AlarmRollbackFunction", RULE, 0, T0 + 60, 18, wall=1.8),
    ]
    fired = AlarmFired(emulated=T0 + 60, wall=1.4, calls=14, fired=True)
    history = [*HISTORY[:2], {"type": "ExecutionAborted"}]
    sample = alarm_sample(moments, history, T0, fired, [LISTENER, RULE], GREEN)
    # Then the figure is the 60 s before the state change, and nothing after it
    assert sample.restored_by == "AlarmRollbackFunction"
    assert sample.seconds == pytest.approx(60)
    assert (sample.window, sample.evaluation, sample.restore) == pytest.approx((60, 0, 0))
    assert (sample.transitions, sample.calls) == (0, 4)
    assert sample.wall_seconds == pytest.approx(0.4)
    # and without the state change there is nothing to measure
    with pytest.raises(NotMeasured, match="never set to ALARM"):
        alarm_sample(moments, history, T0, AlarmFired(), [LISTENER, RULE], GREEN)


def test_greens_first_5xx_is_the_later_of_the_waits_start_and_its_minute() -> None:
    minute = 1_700_000_040.0  # a whole minute (divisible by 60)
    # the users of a wait that began 45 s into the minute: their bucket is stamped at :30
    assert first_error_at(minute + 30, serving_from=minute + 45) == minute + 45
    # a later minute of the same wait starts at the minute
    assert first_error_at(minute + 90, serving_from=minute + 45) == minute + 60
    # a probe's answer carries its own time
    assert first_error_at(minute + 7.5, serving_from=None) == minute + 7.5


def test_route_writes_are_logged_with_their_weights_on_the_injected_clock() -> None:
    log = CallLog(epoch=lambda: T0 + 5)
    actions = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": BLUE, "Weight": 90},
                    {"TargetGroupArn": GREEN, "Weight": 10},
                ]
            },
        }
    ]
    with in_function("ShiftFunction"):
        log.record("ModifyRule")
        log.route_written("ModifyRule", {"RuleArn": RULE, "Actions": actions})
        log.route_written("DescribeRules", {"RuleArns": [RULE]})
    log.route_written("ModifyRule", {"RuleArn": RULE, "Actions": actions})  # not a function's
    (moment,) = log.moments
    assert (moment.function, moment.what, moment.route) == ("ShiftFunction", "ModifyRule", RULE)
    assert moment.weights == {BLUE: 90, GREEN: 10}
    assert (moment.emulated, moment.calls) == (T0 + 5, 1)


def test_the_restore_table_has_a_cell_per_column() -> None:
    sample = analysis_sample(
        _canary_rolled_back_by_its_gate(), HISTORY, T0, [LISTENER, RULE], GREEN, "FAILED"
    )
    row = RestoreRow(Scenario("comparative analysis", "analysis", 300), (sample, sample))
    title, header, (cells,) = restore_table([row])
    assert len(cells) == len(header)
    assert cells[5] == "302" and cells[6] == "300 + 1 + 1"
    assert render_text((title, header, [cells])).count("302") == 1
