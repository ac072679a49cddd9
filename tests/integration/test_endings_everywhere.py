"""Every way a switch can end, at every point it can end there: production, the record and
the locks agree afterwards.

The switch is stopped (StopExecution, as from the console or the CLI) as it enters and as
it leaves each state of the EC2 path, for every strategy: the execution is ABORTED at
once, the reaper settles it, and the task that was running finishes late. Whatever the
point, once everything is quiet:

- production (the listener and the rule) serves one colour, all of it;
- the record says which (ROLLED_BACK: blue, SUCCEEDED: green), or there is no record
  because nothing was written;
- no lock or alarm guard is left, and the ending was announced exactly once.

The exhaustive sweep (every state x both orders x every strategy) is marked `sweep`; the
suite runs a bounded sample of it (every state at least once, both orders) unless
`BLUEGREEN_SWEEP=all`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.core import clock as clocks
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, managed_tags

from . import sweep
from .ec2_helpers import (
    ALL_ON_GREEN,
    Fleets,
    approval_token,
    assert_one_truthful_ending,
    everything_on,
    finished,
    fresh_listeners,
    locks_and_guards,
    on_announcement,
    production,
    record,
    start_switch,
)
from .stopping import ORDERS, StopPoint, stop_at

pytestmark = pytest.mark.integration

REVISION = {
    "application": "shop-app",
    "deploymentGroup": "shop-green",
    "revision": {
        "revisionType": "S3",
        "s3Location": {"bucket": "shop-releases", "key": "shop-v42.zip", "bundleType": "zip"},
    },
}
STRATEGIES = {
    "canary": {"type": "canary", "percent": 10, "bakeSeconds": 300},
    "linear": {"type": "linear", "stepPercent": 50, "stepBakeSeconds": 60},
    "all-at-once": {"type": "all-at-once"},
}
STEPS = {"canary": 2, "linear": 2, "all-at-once": 1}
BEFORE_BEGIN = ("ValidateInput", "IsDryRun")
CHOICES = {"IsDryRun", "HasRevision", "RevisionDone", "IdleHealthy", "HasTestTraffic",
           "NeedsApproval", "LastStep", "Settled"}  # fmt: skip


def _points(strategy: str) -> list[tuple[str, int]]:
    """Every state the full EC2 path enters (revision, test traffic, approval), with
    every entry of the states a traffic step repeats."""
    once = [
        "ValidateInput", "IsDryRun", "Begin", "HasRevision", "DeployRevision",
        "WaitForRevision", "CheckRevision", "RevisionDone", "CheckIdleHealth", "IdleHealthy",
        "HasTestTraffic", "TestTraffic", "NeedsApproval", "WaitForApproval",
    ]  # fmt: skip
    repeated = ["ShiftTraffic", "Bake", "Gate", "LastStep"]
    if strategy == "all-at-once":
        repeated = ["ShiftTraffic", "Gate", "LastStep"]
    points = [(state, 1) for state in once]
    for step in range(1, STEPS[strategy] + 1):
        points += [(state, step) for state in repeated]
    return [*points, ("Finish", 1), ("Settled", 1)]


def _sweep() -> list[Any]:
    """Every (strategy, state, entry, order); outside BLUEGREEN_SWEEP=all, a bounded
    sample: the canary at every task and wait, in one order or the other in turn (a
    Choice state's entry is the state before it leaving), and the other strategies as
    their first traffic step starts."""
    everything = sweep.everything()
    cases = []
    for strategy in STRATEGIES:
        points = _points(strategy)
        turns = [p for p in points if p[0] not in CHOICES]
        for state, nth in points:
            for order in ORDERS:
                turn = turns.index((state, nth)) if (state, nth) in turns else -1
                sampled = (strategy == "canary" and turn >= 0 and ORDERS[turn % 2] == order) or (
                    (state, nth, order) == ("ShiftTraffic", 1, "entering")
                )
                if sampled or everything:
                    cases.append(
                        pytest.param(
                            strategy, state, nth, order,
                            id=f"{strategy}-{state}{nth}-{order}", marks=pytest.mark.sweep,
                        )
                    )  # fmt: skip
    return cases


# -- one emulator for the module; a fresh fleet per test ----------------------------------
@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Emulator, Fleets]]:
    with Emulator() as aws:
        codedeploy = aws.client("codedeploy")
        codedeploy.create_application(  # registered, as the stack's registry expects
            applicationName="shop-app", computePlatform="Server", tags=managed_tags(aws)
        )
        codedeploy.create_deployment_group(
            applicationName="shop-app",
            deploymentGroupName="shop-green",
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
            ec2TagFilters=[{"Key": "colour", "Value": "green", "Type": "KEY_AND_VALUE"}],
            tags=managed_tags(aws),
        )
        yield aws, Fleets(aws)


@pytest.fixture
def aws(shared: tuple[Emulator, Fleets]) -> Iterator[Emulator]:
    with fresh_listeners(shared[0]) as aws:
        yield aws


@pytest.fixture
def fleet(shared: tuple[Emulator, Fleets]) -> Iterator[Ec2Fleet]:
    built = shared[1].build()
    yield built
    shared[1].retire(built)


def approve_when_asked(aws: Emulator) -> None:
    """An approver (not the switch) who approves as soon as the switch asks."""

    def approve(detail: dict[str, Any]) -> None:
        with acting_as(None):
            aws.client("stepfunctions").send_task_success(
                taskToken=approval_token(aws, detail["executionArn"]),
                output=json.dumps({"approvedBy": "lead@example.com"}),
            )

    on_announcement(aws, "Switch Approval Needed", approve)


def full_request(fleet: Ec2Fleet, strategy: str) -> dict[str, Any]:
    return fleet.request(
        strategy=STRATEGIES[strategy],
        revision=REVISION,
        approval={"required": True, "timeoutSeconds": 600},
    )


@pytest.mark.parametrize(("strategy", "state", "nth", "order"), _sweep())
def test_a_switch_stopped_anywhere_ends_with_production_and_record_agreeing(
    aws: Emulator, fleet: Ec2Fleet, strategy: str, state: str, nth: int, order: str
) -> None:
    # Given a full switch (revision, test traffic, approval, every step of the strategy)
    approve_when_asked(aws)
    name = f"stop-{strategy}-{state}-{nth}-{order}".lower()
    point = StopPoint(state, nth, order)
    # When it is stopped by hand as it enters, or as it leaves, this state
    with stop_at(aws, point):
        run = finished(aws, start_switch(aws, full_request(fleet, strategy), name))
    # Then the stop landed there and the execution was aborted
    assert point.stopped, f"the switch never reached {point.label}: {point.seen}"
    assert run.status == "ABORTED", (run.status, run.error, run.cause)
    # and production, the record and the table agree on one ending
    status = assert_one_truthful_ending(aws, fleet, name, point.label)
    if state in BEFORE_BEGIN:
        assert status == "NO_RECORD"
    elif (state, order) in {("Finish", "leaving"), ("Settled", "entering"),
                            ("Settled", "leaving")}:  # fmt: skip
        assert status == "SUCCEEDED"  # it had already finished
    elif (state, order) == ("Finish", "entering"):
        # the stopped Finish task still runs to its end, racing the reaper the abort
        # invokes: whichever claims the ending first decides it, and production says which
        assert status in {"SUCCEEDED", "ROLLED_BACK"}
    else:
        assert status == "ROLLED_BACK"  # a stop before the end is a rollback
        saved = record(aws, name)
        assert saved is not None
        assert saved["outcome"]["actor"]["kind"] in {"reaper", "execution"}
        assert "aborted" in saved["outcome"]["failedAt"]


# -- an alarm at every point -------------------------------------------------------------------
def _alarm_points() -> list[Any]:
    """The canary's tasks and waits, in one order or the other in turn (bounded like the
    stops; BLUEGREEN_SWEEP=all: both orders everywhere)."""
    everything = sweep.everything()
    points = [p for p in _points("canary") if p[0] not in CHOICES]
    cases = []
    for index, (state, nth) in enumerate(points):
        for order in ORDERS:
            if everything or ORDERS[(index + 1) % 2] == order:
                cases.append(
                    pytest.param(state, nth, order, id=f"{state}{nth}-{order}",
                                 marks=pytest.mark.sweep)
                )  # fmt: skip
    return cases


@pytest.mark.parametrize(("state", "nth", "order"), _alarm_points())
def test_an_alarm_at_any_point_ends_with_production_and_record_agreeing(
    aws: Emulator, fleet: Ec2Fleet, state: str, nth: int, order: str
) -> None:
    # Given a full canary switch, and a guarding alarm that goes off at this point
    approve_when_asked(aws)
    name = f"alarm-{state}-{nth}-{order}".lower()

    def alarm(aws: Emulator, _: str) -> None:
        aws.client("cloudwatch").set_alarm_state(
            AlarmName=fleet.alarms[0], StateValue="ALARM", StateReason="Threshold Crossed: 5xx"
        )

    point = StopPoint(state, nth, order, act=alarm)
    # When the switch runs
    with stop_at(aws, point):
        run = finished(aws, start_switch(aws, full_request(fleet, "canary"), name))
    # Then whoever ended it (the alarm function, a gate, the first state), production,
    # the record and the table agree
    assert point.stopped, f"the switch never reached {point.label}: {point.seen}"
    status = assert_one_truthful_ending(aws, fleet, name, point.label)
    if (state, order) == ("ValidateInput", "entering"):
        assert (status, run.status) == ("NO_RECORD", "FAILED")  # refused: alarm firing
    elif (state, order) == ("Finish", "leaving"):
        assert (status, run.status) == ("SUCCEEDED", "SUCCEEDED")  # it had finished
    else:
        assert status == "ROLLED_BACK", run.cause
        assert run.status in {"ABORTED", "FAILED"}


# -- a stop during the machine's own rollback ------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
def test_a_stop_during_the_machines_rollback_still_ends_rolled_back(
    aws: Emulator, fleet: Ec2Fleet, order: str
) -> None:
    # Given a switch whose probe through the test listener fails (wrong version)
    request = fleet.request(
        testTraffic={
            "listenerArn": fleet.test_listener_arn,
            "probes": [{"path": "/version", "expect": 200, "contains": "v99"}],
        }
    )
    name = f"rollback-stopped-{order}"
    point = StopPoint("RollBack", 1, order)
    # When it is stopped by hand while the machine rolls it back
    with stop_at(aws, point):
        run = finished(aws, start_switch(aws, request, name))
    # Then traffic is on blue, the record says so, and nothing is held
    assert point.stopped, point.seen
    assert run.status == "ABORTED"
    assert assert_one_truthful_ending(aws, fleet, name, point.label) == "ROLLED_BACK"


# -- a replayed rollback -----------------------------------------------------------------------
def test_a_replayed_rollback_of_an_old_switch_changes_nothing(
    aws: Emulator, fleet: Ec2Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a switch that failed and was rolled back (its RollBack event kept) ...
    settle = aws.function("SettleFunction").name
    kept: list[Any] = []
    invoke = aws.runtime.invoke

    def keep(name: str, event: Any) -> Any:
        is_settle = aws.runtime.find(name).logical_id == "SettleFunction"
        if is_settle and event.get("intent") == "ROLLED_BACK":
            kept.append(json.loads(json.dumps(event)))
        return invoke(name, event)

    monkeypatch.setattr(aws.runtime, "invoke", keep)
    failing = fleet.request(
        testTraffic={
            "listenerArn": fleet.test_listener_arn,
            "probes": [{"path": "/version", "expect": 200, "contains": "v99"}],
        }
    )
    first = finished(aws, start_switch(aws, failing, "replayed-1"))
    assert first.status == "FAILED" and len(kept) == 1
    # ... and a later release of the same fleet that went live
    second = finished(aws, start_switch(aws, fleet.request(), "replayed-2"))
    assert second.status == "SUCCEEDED", second.cause
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    before = record(aws, "replayed-2")

    # When the old RollBack is replayed (a redrive, a console "invoke" with a saved event)
    replay = aws.runtime.invoke(settle, kept[0])

    # Then it answers what that ending recorded (a retry of the machine's own settle)
    # and does nothing: production stays on the later release
    answer = json.loads(replay.payload)
    assert replay.error_type is None, answer
    assert (answer["deploymentId"], answer["status"], answer["actions"]) == (
        "replayed-1", "ROLLED_BACK", [],
    )  # fmt: skip
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    assert record(aws, "replayed-2") == before
    assert locks_and_guards(aws, fleet) == []


# -- the record deleted mid-bake -------------------------------------------------------------
def test_a_record_deleted_mid_bake_is_written_back_from_the_execution_and_rolled_back(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a canary baking its first step, whose record someone deletes
    name = "record-deleted"

    def delete_record(aws: Emulator, _: str) -> None:
        aws.client("dynamodb").delete_item(
            TableName=aws.output("DeploymentsTableName"),
            Key={"pk": {"S": f"DEPLOY#{name}"}, "sk": {"S": "RECORD"}},
        )

    point = StopPoint("Bake", 1, "entering", act=delete_record)
    # When the switch goes on (its next task finds no record to renew)
    with stop_at(aws, point):
        run = finished(aws, start_switch(aws, fleet.request(), name))
    # Then the machine rolled back from what its own state carries, and wrote the record
    # back, saying what production serves
    assert point.stopped
    assert run.status == "FAILED"
    assert assert_one_truthful_ending(aws, fleet, name, point.label) == "ROLLED_BACK"
    saved = record(aws, name)
    assert saved is not None and "recreatedAt" in saved


# -- the switch timed out mid-bake -----------------------------------------------------------
def test_a_switch_timing_out_mid_bake_is_rolled_back_by_the_reaper(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a canary switch that starts baking one minute (emulated) before its execution
    # reaches the state machine's TimeoutSeconds (weeks pass, for the account, as it
    # enters the bake)
    name = "timed-out-mid-bake"

    def weeks_pass(aws: Emulator, _: str) -> None:
        execution = clocks.current()  # the stop point runs on the execution's thread
        assert execution is not None and execution.kind == "execution"
        remaining = execution.remaining()
        assert remaining is not None and remaining > 300  # the bake would end after it
        aws.clock.advance(remaining - 60)

    point = StopPoint("Bake", 1, "entering", act=weeks_pass)
    # When the switch runs on, and its five-minute bake reaches the deadline
    with stop_at(aws, point):
        run = finished(aws, start_switch(aws, fleet.request(), name))
    # Then the execution timed out in the bake, where it was
    assert point.stopped, point.seen
    assert run.status == "TIMED_OUT", (run.status, run.error, run.cause)
    assert run.states[-1] == "Bake", run.states
    # and the reaper put production back on blue, recorded it ROLLED_BACK, freed the
    # lock and the guards, and announced the ending once
    assert assert_one_truthful_ending(aws, fleet, name, point.label) == "ROLLED_BACK"
    saved = record(aws, name)
    assert saved is not None
    assert saved["outcome"]["actor"]["kind"] == "reaper"
    assert saved["outcome"]["failedAt"] == "Bake (timed out)"
