"""The EC2 switch succeeds with every strategy, and a dry run changes nothing.

Each test runs the real state machine (statemachine/switch.asl.json) on the emulated AWS,
with the real task functions, against a realistic fleet: a production listener and an
/api/* rule forwarding 100/0 to blue/green, a test listener on green, two healthy
instances per colour, two guarding alarms and an HTTP endpoint answering the probes.

The state transitions each strategy costs (Step Functions Standard bills per transition)
are asserted here, so the table in the README cannot drift:

| strategy (with test traffic and probes) | steps           | transitions |
|-----------------------------------------|-----------------|-------------|
| all-at-once                             | 100             | 15          |
| canary 10 %                             | 10, 100         | 19          |
| linear 25 %                             | 25, 50, 75, 100 | 27          |
| explicit steps                          | 5, 20, 50, 100  | 27          |
| + manual approval                       |                 | +1          |
| without a test listener                 |                 | -1          |
| dry run                                 | (the plan only) | 3           |

In general 11 + 4 x steps (no revision, the idle group healthy at the first look).

The tests share one emulator (its functions stay warm) and build a fresh fleet each, so
they cannot see each other's listeners, alarms, locks or records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet
from tests.integration import ec2_helpers
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    ALL_ON_GREEN,
    Fleets,
    announced,
    approval_token,
    by_colour,
    detail_types,
    everything_on,
    fresh_listeners,
    locks_and_guards,
    on_announcement,
    on_test_listener,
    production,
    record,
    records,
    run_switch,
)

pytestmark = pytest.mark.integration

STRATEGIES = {
    "all-at-once": ({"type": "all-at-once"}, [100], 16),
    "canary": ({"type": "canary", "percent": 10, "bakeSeconds": 300}, [10, 100], 20),
    "linear": ({"type": "linear", "stepPercent": 25, "stepBakeSeconds": 60}, [25, 50, 75, 100], 28),
    "steps": (
        {
            "type": "steps",
            "steps": [
                {"percent": 5, "bakeSeconds": 120},
                {"percent": 20, "bakeSeconds": 120},
                {"percent": 50, "bakeSeconds": 300},
                {"percent": 100},
            ],
        },
        [5, 20, 50, 100],
        28,
    ),
}


@pytest.fixture(scope="module")
def shared_aws() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def aws(shared_aws: Emulator) -> Iterator[Emulator]:
    with fresh_listeners(shared_aws):
        yield shared_aws


fleets = ec2_helpers.fleets_fixture
fleet = ec2_helpers.fleet_fixture


def _watch_weights_at_each_step(aws: Emulator, fleet: Ec2Fleet) -> list[dict[str, Any]]:
    """What the load balancer really does each time the switch announces a step."""
    seen: list[dict[str, Any]] = []
    on_announcement(aws, "Switch Step", lambda _detail: seen.append(production(aws, fleet)))
    return seen


@pytest.mark.parametrize("strategy_name", list(STRATEGIES))
def test_a_switch_moves_all_traffic_to_green_step_by_step(
    aws: Emulator, fleet: Ec2Fleet, strategy_name: str
) -> None:
    strategy, percents, transitions = STRATEGIES[strategy_name]
    # Given a fleet live on blue, and a request to move it to green with this strategy
    seen = _watch_weights_at_each_step(aws, fleet)
    request = fleet.request(strategy=strategy)

    # When the switch runs
    run = run_switch(aws, request, name=f"happy-{strategy_name}")

    # Then it succeeded, and says green is live and blue idle
    assert run.status == "SUCCEEDED", run.cause
    assert by_colour(fleet, {run.output["live"]: 1, run.output["idle"]: 0}) == {
        "green": 1,
        "blue": 0,
    }
    assert run.output["status"] == "SUCCEEDED"
    # and the load balancer went through exactly the planned steps, listener and rule alike
    assert seen == [everything_on({"blue": 100 - p, "green": p}) for p in percents]
    # and now sends everything to green, while the test listener points at the new idle blue
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    assert on_test_listener(aws, fleet) == {"blue": 1}
    # and it cost the documented number of state transitions
    assert run.transitions == transitions, run.states

    # and the record tells the whole story
    saved = record(aws, run.name)
    assert saved is not None
    assert saved["status"] == "SUCCEEDED"
    assert by_colour(fleet, {saved["from"]: 0, saved["to"]: 1}) == {"blue": 0, "green": 1}
    assert (saved["requestedBy"], saved["strategy"]) == ("demo@example.com", strategy)
    assert saved["plannedSteps"] == percents
    assert saved["startedAt"] <= saved["endedAt"]
    _assert_steps_recorded(fleet, saved["steps"], percents)

    # and nothing is left locked or guarded
    assert locks_and_guards(aws, fleet) == []
    # and the bus heard the switch start, each step, and succeed
    assert detail_types(aws, run.name) == [
        "Switch Started",
        *["Switch Step", "Switch Gate"] * len(percents),
        "Switch Succeeded",
    ]
    steps = [e["detail"] for e in announced(aws, run.name) if e["detail-type"] == "Switch Step"]
    assert [(s["index"], s["percent"]) for s in steps] == list(enumerate(percents))
    assert [by_colour(fleet, s["weights"]) for s in steps] == [
        {"blue": 100 - p, "green": p} for p in percents
    ]


def _assert_steps_recorded(
    fleet: Ec2Fleet, steps: list[dict[str, Any]], percents: list[int]
) -> None:
    probes, *traffic = steps
    assert probes["phase"] == "test-traffic"
    assert probes["verdicts"][0]["outcome"] == "PASSED"
    assert [p["ok"] for p in probes["verdicts"][0]["details"]["probes"]] == [True, True]
    assert [(s["phase"], s["percent"]) for s in traffic] == [
        (phase, p) for p in percents for phase in ("shift", "gate")
    ]
    for step in traffic:
        assert step["at"].endswith("Z")
        if step["phase"] == "shift":
            observed = {o["kind"]: by_colour(fleet, o["weights"]) for o in step["observed"]}
            want = {"blue": 100 - step["percent"], "green": step["percent"]}
            assert observed == {"listener": want, "rule": want}
        else:
            verdicts = {v["check"]: v["outcome"] for v in step["verdicts"]}
            assert verdicts == {"alarms": "PASSED", "targetHealth": "PASSED"}
            assert (step["outcome"], step["decision"]) == ("PASSED", "pass")


def test_a_dry_run_returns_the_plan_and_changes_nothing(aws: Emulator, fleet: Ec2Fleet) -> None:
    # Given a fleet live on blue and a linear switch request marked dryRun
    request = fleet.request(
        strategy={"type": "linear", "stepPercent": 40, "stepBakeSeconds": 60}, dryRun=True
    )

    # When the switch runs
    run = run_switch(aws, request, name="dry-1")

    # Then it succeeded with the plan: the steps and the weights each would set
    assert run.status == "SUCCEEDED", run.cause
    plan = run.output
    assert plan["dryRun"] is True
    assert by_colour(fleet, {plan["from"]: 0, plan["to"]: 1}) == {"blue": 0, "green": 1}
    assert [(s["percent"], by_colour(fleet, s["weights"])) for s in plan["steps"]] == [
        (40, {"blue": 60, "green": 40}),
        (80, {"blue": 20, "green": 80}),
        (100, {"blue": 0, "green": 100}),
    ]
    # and it stopped right after validating (3 transitions)
    assert run.states == ["ValidateInput", "IsDryRun", "DryRunPlan"]
    # and nothing changed: weights, test listener, no record, no lock, no event
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}
    assert record(aws, run.name) is None
    assert locks_and_guards(aws, fleet) == []
    assert detail_types(aws, run.name) == []


def test_an_approved_switch_waits_for_the_token_then_succeeds(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a canary that needs a manual approval, and an approver who says yes as soon as
    # the switch asks (with the token from the announcement)
    sfn = aws.client("stepfunctions")
    weights_when_asked: list[dict[str, Any]] = []

    def approve(detail: dict[str, Any]) -> None:
        weights_when_asked.append(production(aws, fleet))
        sfn.send_task_success(
            taskToken=approval_token(aws, detail["executionArn"]),
            output=json.dumps({"approvedBy": "lead@example.com"}),
        )

    on_announcement(aws, "Switch Approval Needed", approve)
    request = fleet.request(approval={"required": True, "timeoutSeconds": 600})

    # When the switch runs
    run = run_switch(aws, request, name="approved-1")

    # Then it asked before moving any production traffic, and succeeded once approved
    assert weights_when_asked == [everything_on(ALL_ON_BLUE)]
    assert run.status == "SUCCEEDED", run.cause
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    assert "WaitForApproval" in run.states
    assert run.transitions == STRATEGIES["canary"][2] + 1
    # and the record says the approval was given
    saved = record(aws, run.name)
    assert saved is not None
    assert saved["status"] == "SUCCEEDED"
    assert saved["approval"]["state"] == "APPROVED"
    assert detail_types(aws, run.name) == [
        "Switch Started",
        "Switch Approval Needed",
        "Switch Step",
        "Switch Gate",
        "Switch Step",
        "Switch Gate",
        "Switch Succeeded",
    ]
    assert locks_and_guards(aws, fleet) == []


def test_without_a_test_listener_the_switch_skips_the_probes(aws: Emulator, fleets: Fleets) -> None:
    # Given a fleet without an HTTP endpoint, and a request without test traffic
    fleet = fleets.build(with_http=False)
    request = fleet.request(strategy={"type": "all-at-once"})

    # When the switch runs
    run = run_switch(aws, request, name="no-test-1")

    # Then it succeeded without the TestTraffic state (one transition fewer)
    assert run.status == "SUCCEEDED", run.cause
    assert "TestTraffic" not in run.states
    assert run.transitions == STRATEGIES["all-at-once"][2] - 1
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    # and the test listener, never used, was left alone
    assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}


def test_a_switch_holds_its_lock_for_as_long_as_it_may_bake(aws: Emulator, fleet: Ec2Fleet) -> None:
    # Given a canary that bakes for a day at 10 % (longer than the 2-hour lock TTL)
    holders: list[dict[str, Any]] = []
    on_announcement(
        aws, "Switch Step", lambda _: holders.append(records(aws).holder(fleet.listener_arn) or {})
    )
    request = fleet.request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 86400})

    # When the switch runs (the emulator's clock makes the day pass at once)
    started = aws.clock.epoch()  # the account's date, which the functions read
    run = run_switch(aws, request, name="long-bake-1")

    # Then at every step the lease was renewed past the bake that followed, plus the margin
    assert run.status == "SUCCEEDED", run.cause
    assert [h["owner"] for h in holders] == ["long-bake-1", "long-bake-1"]
    assert holders[0]["leaseUntil"] >= int(started) + 86400 + 7200, holders
    assert holders[1]["leaseUntil"] >= int(started) + 7200, holders
