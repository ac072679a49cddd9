"""Fault injection at every AWS call an EC2 switch makes: traffic is never stranded.

The switch under test is a canary with every optional part on (test traffic and probes,
a manual approval given at once, a metric check), so its path makes every call an EC2
switch can make. Each parametrized run fails exactly one of those calls, the first time
a given function makes it (or the first time at the 100 % step), with the throttling
error AWS would answer after the SDK's own retries, raised by a botocore `before-call`
hook on the clients the functions create. Whatever failed, the run must end:

- with the production listener *and* rule either fully on green (the switch succeeded,
  and the record says SUCCEEDED) or back on the snapshot, fully on blue (the execution
  FAILED, naming the call, and the record, if Begin wrote one, says ROLLED_BACK);
- with no lock or alarm guard left;
- without ever having written a weight on a target group with no healthy target.

A second set fails the settle itself (after a gate error at 10 %), once per call it
makes: the state machine retries the settle, and traffic still ends on the snapshot.

`test_the_fault_list_covers_every_call_the_switch_makes` records a run without faults
and fails if the path makes a call the lists below do not name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet
from tests.integration import ec2_helpers
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    ALL_ON_GREEN,
    AwsCalls,
    Call,
    Run,
    approval_token,
    everything_on,
    locks_and_guards,
    on_announcement,
    on_test_listener,
    production,
    record,
    run_switch,
)
from tests.integration.sweep import fault_cases

pytestmark = pytest.mark.integration


def _calls(function: str, *operations: str) -> list[Call]:
    result = []
    for operation in operations:
        service, name = operation.split(":")
        result.append(Call(function, service, name))
    return result


# Every call of a successful switch, by the function that makes it, in order. Every task
# after Begin renews its lease first (one TransactWriteItems): the ownership check. Begin
# looks at its own execution once it holds the lock (it may have been stopped meanwhile).
SWITCH_CALLS = [
    *_calls(
        "PlanFunction",
        "elbv2:DescribeListeners",
        "elbv2:DescribeRules",
        "elbv2:DescribeLoadBalancers",
        "elbv2:DescribeTargetGroups",
        "elbv2:DescribeTags",
        "elbv2:DescribeTargetGroupAttributes",  # the fleet checks of the idle group
        "elbv2:DescribeTargetHealth",
        "cloudwatch:DescribeAlarms",
    ),
    *_calls(
        "BeginFunction",
        "elbv2:DescribeListeners",
        "elbv2:DescribeRules",
        "dynamodb:TransactWriteItems",
        "stepfunctions:DescribeExecution",
        "events:PutEvents",
    ),
    *_calls("CheckHealthFunction", "dynamodb:TransactWriteItems", "elbv2:DescribeTargetHealth"),
    *_calls(
        "TestTrafficFunction",
        "dynamodb:TransactWriteItems",
        "elbv2:DescribeListeners",
        "elbv2:ModifyListener",
        "elbv2:DescribeLoadBalancers",
        "dynamodb:UpdateItem",
    ),
    *_calls(
        "RequestApprovalFunction",
        "dynamodb:TransactWriteItems",
        "dynamodb:UpdateItem",
        "events:PutEvents",
    ),
    *_calls(
        "ShiftFunction",
        "dynamodb:TransactWriteItems",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "elbv2:DescribeTargetHealth",
        "elbv2:DescribeListeners",
        "elbv2:DescribeRules",
        "elbv2:ModifyListener",
        "elbv2:ModifyRule",
        "events:PutEvents",
    ),
    *_calls(
        "GateFunction",
        "dynamodb:TransactWriteItems",
        "cloudwatch:DescribeAlarms",
        "elbv2:DescribeTargetHealth",
        "cloudwatch:GetMetricData",
        "dynamodb:UpdateItem",
        "events:PutEvents",
    ),
    *_calls(
        "SettleFunction",
        "dynamodb:UpdateItem",
        "elbv2:ModifyListener",
        "elbv2:DescribeListeners",
        "elbv2:DescribeRules",
        "dynamodb:DeleteItem",
        "events:PutEvents",
    ),
]
# How many times the first Shift invocation makes each call (its snapshot and its
# read-back both describe the routes; it keeps the approval, then the step): the call at
# the 100 % step is the next one. Reading the record for the approval is the first's only.
PER_SHIFT = {"DescribeListeners": 2, "DescribeRules": 2, "TransactWriteItems": 1, "UpdateItem": 2}
FIRST_SHIFT_ONLY = {"GetItem"}
SWITCH_FAULTS = [
    *[(call, 1) for call in SWITCH_CALLS],
    *[
        (call, PER_SHIFT.get(call.operation, 1) + 1)
        for call in SWITCH_CALLS
        if call.function == "ShiftFunction" and call.operation not in FIRST_SHIFT_ONLY
    ],
    # TestTraffic reads the test listener again, for the probes' address
    (Call("TestTrafficFunction", "elbv2", "DescribeListeners"), 2),
]
ROLLBACK_CALLS = _calls(
    "SettleFunction",
    "dynamodb:UpdateItem",
    "elbv2:ModifyListener",
    "elbv2:ModifyRule",
    "elbv2:DescribeListeners",
    "elbv2:DescribeRules",
    "dynamodb:DeleteItem",
    "events:PutEvents",
)
GATE_ERROR = Call("GateFunction", "cloudwatch", "DescribeAlarms")


def _id(fault: tuple[Call, int]) -> str:
    call, nth = fault
    where = "" if nth == 1 else "@100%" if call.function == "ShiftFunction" else f"@call{nth}"
    return f"{call.function.removesuffix('Function')}-{call.service}:{call.operation}{where}"


# -- one emulator for the module, hooked before its functions' first cold start -------------
# one hooked emulator for the module (fixtures from ec2_helpers)
calls = ec2_helpers.calls_fixture
shared_aws = ec2_helpers.hooked_shared_aws_fixture
aws = ec2_helpers.hooked_aws_fixture
fleets = ec2_helpers.fleets_fixture
fleet = ec2_helpers.fleet_fixture


def _everything_on(aws: Emulator, fleet: Ec2Fleet) -> dict[str, Any]:
    """A canary with every optional part, approved as soon as it asks."""
    sfn = aws.client("stepfunctions")
    on_announcement(
        aws,
        "Switch Approval Needed",
        lambda detail: sfn.send_task_success(
            taskToken=approval_token(aws, detail["executionArn"]), output="{}"
        ),
    )
    return fleet.request(
        approval={"required": True, "timeoutSeconds": 600},
        # its window reaches back to the test-traffic probes, the only requests green gets
        # here: a window without a request is inconclusive and would extend the bake
        metricChecks=[
            {"id": "green-5xx", "type": "target5xxRatio", "threshold": 0.05, "windowSeconds": 1800}
        ],
    )


def assert_never_stranded(aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls, run: Run) -> None:
    """Traffic ends wholly on the new colour (and success is recorded) or wholly back on the
    snapshot (and the failure is); no lock is left; no weight went to an unhealthy group."""
    assert run.status in {"SUCCEEDED", "FAILED"}, (run.status, run.cause)
    now = production(aws, fleet)
    saved = record(aws, run.name)
    if now == everything_on(ALL_ON_GREEN):
        assert run.status == "SUCCEEDED", run.cause
        assert saved is not None
        assert saved["status"] == "SUCCEEDED"
        assert on_test_listener(aws, fleet) == {"blue": 1}
    else:
        assert now == everything_on(ALL_ON_BLUE), f"traffic stranded: {now} ({run.cause})"
        assert run.status == "FAILED"
        assert saved is None or saved["status"] == "ROLLED_BACK", saved and saved["status"]
        assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}
    assert locks_and_guards(aws, fleet) == []
    assert calls.unsafe_writes(fleet) == []


@pytest.mark.parametrize(
    "fault",
    fault_cases([(f,) for f in SWITCH_FAULTS], lambda c: c[0][0].operation, lambda c: _id(c[0])),
)
def test_a_failed_call_never_strands_traffic(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls, fault: tuple[Call, int]
) -> None:
    call, nth = fault
    # Given a switch with every optional part, and AWS failing one of its calls
    request = _everything_on(aws, fleet)
    injected = calls.fail(call, nth)

    # When the switch runs
    run = run_switch(aws, request, name=f"fault-{_id(fault)}")

    # Then the call failed, and the run ended whole: on green, or back on blue
    assert injected.fired, f"{call} #{nth} was never made"
    assert_never_stranded(aws, fleet, calls, run)
    if run.status == "FAILED":
        # and the cause says which call failed
        assert run.cause is not None
        assert call.operation in run.cause, run.cause


@pytest.mark.parametrize("call", ROLLBACK_CALLS, ids=lambda c: f"Settle-{c.service}:{c.operation}")
def test_a_failed_call_during_the_rollback_is_retried_until_traffic_is_restored(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls, call: Call
) -> None:
    # Given a switch whose first gate fails (with 10 % on green), and AWS failing one of
    # the rollback's calls once
    request = _everything_on(aws, fleet)
    calls.fail(GATE_ERROR)
    injected = calls.fail(call)

    # When the switch runs
    run = run_switch(aws, request, name=f"rollback-fault-{call.service}-{call.operation}")

    # Then the settle was retried, traffic is back on the snapshot, and it says why
    assert injected.fired
    assert run.states.count("RollBack") == 1
    assert_never_stranded(aws, fleet, calls, run)
    assert run.status == "FAILED"
    assert run.cause is not None
    assert run.cause.startswith("Gate: "), run.cause
    assert calls.counts()[Call("SettleFunction", "dynamodb", "UpdateItem")] >= 2


def test_the_fault_list_covers_every_call_the_switch_makes(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given a switch with every optional part, and no fault
    request = _everything_on(aws, fleet)

    # When it runs
    run = run_switch(aws, request, name="fault-free-1")

    # Then it succeeded, and every call it made is in SWITCH_CALLS (add new ones there)
    assert run.status == "SUCCEEDED", run.cause
    made = list(dict.fromkeys(calls.calls))
    assert made == SWITCH_CALLS, json.dumps([str(c) for c in made], indent=1)


def test_the_rollback_fault_list_covers_every_call_the_rollback_makes(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given a switch whose first gate fails, and no other fault
    request = _everything_on(aws, fleet)
    calls.fail(GATE_ERROR)

    # When it runs
    run = run_switch(aws, request, name="rollback-fault-free-1")

    # Then it rolled back, and every call the rollback made is in ROLLBACK_CALLS
    assert run.status == "FAILED"
    made = [c for c in dict.fromkeys(calls.calls) if c.function == "SettleFunction"]
    assert sorted(made, key=str) == sorted(ROLLBACK_CALLS, key=str)
