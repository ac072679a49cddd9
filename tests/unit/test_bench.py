"""The benchmark's arithmetic: what it counts as a transition and what a switch costs."""

from __future__ import annotations

import pytest

from bluegreen_bench.switch_runs import Invoked, SwitchRun, configured_waits, transitions_of

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
