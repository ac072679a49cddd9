"""A task's traffic write that lands after another path settled the switch is undone.

An alarm's rollback, or the reaper after a stop, claims the ending, restores the
snapshot, reads it back and records ROLLED_BACK, while a Shift or TestTraffic task
that was already running goes on: its writes may land after that restore. Nobody runs
the machine's settle after the execution ended, so the task itself must notice
(`ec2.fenced`) and put the snapshot back, whatever its own call then did (the step
cannot be recorded, or a read-back disagrees because the restore came between two of
its writes).

The settle is run just before each AWS call those tasks make, in turn: whichever call
it lands before, production, the record and the locks agree afterwards. The same holds
for DeployRevision's in-place install on the idle fleet: started after the settle
looked, it is stopped by the task itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.codedeploy.models import codedeploy_backends

from bluegreen.platforms.codedeploy_ec2 import RUNNING, description
from bluegreen.store import ENDED
from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet
from tests.integration import ec2_helpers, sweep
from tests.integration.ec2_helpers import (
    AwsCalls,
    assert_one_truthful_ending,
    finished,
    hooked_layer_clients,
    record,
    start_switch,
)
from tests.integration.stopping import stop_by_hand

pytestmark = pytest.mark.integration

# The calls each task makes on a canary with test traffic, in order: the lease renewal,
# the idle group's health, the routes read, a Modify* per route, the read-back, the
# step's record and its announcement (Shift, once per step); the test listener's write,
# its read-back, the probes' address and the record (TestTraffic).
SHIFT_STEP = ("TransactWriteItems", "DescribeTargetHealth", "DescribeListeners",
              "DescribeRules", "ModifyListener", "ModifyRule", "DescribeListeners",
              "DescribeRules", "UpdateItem", "PutEvents")  # fmt: skip
TEST_TRAFFIC = ("TransactWriteItems", "DescribeListeners", "ModifyListener",
                "DescribeListeners", "DescribeListeners", "DescribeLoadBalancers",
                "UpdateItem")  # fmt: skip
CALLS = {"ShiftFunction": SHIFT_STEP * 2, "TestTrafficFunction": TEST_TRAFFIC}
# DeployRevision: the lease renewal, the group's deployments (one of this switch's would
# be reused), the install's start, the step's record
DEPLOY_REVISION = ("TransactWriteItems", "ListDeployments", "CreateDeployment", "UpdateItem")


def _points() -> list[Any]:
    """Every (function, nth call, operation, settler); the bounded sample keeps the calls
    from the task's first traffic write to its step's record (where a settle can come
    between the task's write and its check) of the first step and the test listener,
    the two settlers taking turns."""
    points, turn = [], 0
    for function, operations in CALLS.items():
        first_write = next(n for n, op in enumerate(operations, 1) if op.startswith("Modify"))
        recorded = operations.index("UpdateItem") + 1
        for nth, operation in enumerate(operations, start=1):
            in_window = first_write <= nth <= recorded
            for settler in SETTLERS:
                chosen = in_window and settler == list(SETTLERS)[turn % 2]
                if sweep.everything() or chosen:
                    case = (function, nth, operation, settler)
                    points.append(pytest.param(*case, id="-".join(map(str, case)),
                                               marks=pytest.mark.sweep))  # fmt: skip
            turn += in_window
    return points


@dataclass
class SettleBeforeCall(AwsCalls):
    """Runs `act` once, just before the `nth` AWS call `function` makes."""

    function: str = ""
    nth: int = 0
    act: Callable[[], None] | None = None
    seen: int = 0
    fired: str = ""

    def arm(self, function: str, nth: int, act: Callable[[], None]) -> None:
        self.function, self.nth, self.act, self.seen, self.fired = function, nth, act, 0, ""

    def _before_call(self, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        call = self._call(model)
        if call.function == self.function and not self.fired:
            self.seen += 1
            if self.seen == self.nth and self.act is not None:
                self.fired = f"{call.service}:{call.operation}"
                with acting_as(None):  # CloudWatch or the operator, not the task's role
                    self.act()
        return super()._before_call(model, params, **kwargs)


@pytest.fixture(scope="module", name="calls")
def settling_calls_fixture() -> Iterator[SettleBeforeCall]:
    with hooked_layer_clients(SettleBeforeCall()) as hooked:
        yield hooked


shared_aws = ec2_helpers.hooked_shared_aws_fixture
aws = ec2_helpers.hooked_aws_fixture
fleets = ec2_helpers.fleets_fixture
fleet = ec2_helpers.fleet_fixture


def alarm_fires(aws: Emulator, fleet: Ec2Fleet, execution_arn: str) -> Callable[[], None]:
    """The guarding alarm goes to ALARM: the alarm function settles and stops the execution."""

    def act() -> None:
        aws.client("cloudwatch").set_alarm_state(
            AlarmName=fleet.alarms[0], StateValue="ALARM", StateReason="Threshold Crossed: 5xx"
        )

    return act


def stopped_and_reaped(aws: Emulator, fleet: Ec2Fleet, execution_arn: str) -> Callable[[], None]:
    """StopExecution by hand; the reaper (the status change on EventBridge, on its own
    thread) has settled it before the task's call goes on."""

    def act() -> None:
        stop_by_hand(aws, execution_arn)
        name = execution_arn.rsplit(":", 1)[-1]
        give_up = time.monotonic() + 120  # a safety net for a hung reaper, not a budget
        while (record(aws, name) or {}).get("status") not in ENDED:
            assert time.monotonic() < give_up, f"{name}: the reaper never settled"
            time.sleep(0.01)

    return act


SETTLERS = {"alarm": alarm_fires, "stop": stopped_and_reaped}


@pytest.mark.parametrize(("function", "nth", "operation", "settler"), _points())
def test_a_settle_landing_before_any_call_of_a_traffic_task_leaves_production_on_one_colour(
    aws: Emulator,
    fleet: Ec2Fleet,
    calls: SettleBeforeCall,
    function: str,
    nth: int,
    operation: str,
    settler: str,
) -> None:
    name = f"late-{settler}-{function[:5]}-{nth}".lower()
    arn = aws.output("SwitchStateMachineArn").replace(":stateMachine:", ":execution:")
    # Given a canary whose traffic task is about to make its nth call
    calls.arm(function, nth, SETTLERS[settler](aws, fleet, f"{arn}:{name}"))
    # When the switch is settled by another path just then
    run = finished(aws, start_switch(aws, fleet.request(), name=name))
    # Then it was settled there, and the execution did not go on
    assert calls.fired.endswith(f":{operation}"), f"{function} call #{nth}: {calls.fired!r}"
    assert run.status == "ABORTED", (run.status, run.error, run.cause)
    # and whatever the task did after, production serves blue, as the record says
    status = assert_one_truthful_ending(aws, fleet, name, f"{function}#{nth} {operation}")
    assert status == "ROLLED_BACK"


def _revision_points() -> list[Any]:
    """Every (nth call, operation, settler) of DeployRevision; the bounded sample keeps
    the one between the install's start and its record, for both settlers."""
    points = []
    for nth, operation in enumerate(DEPLOY_REVISION, start=1):
        for settler in SETTLERS:
            if sweep.everything() or operation == "UpdateItem":
                case = (nth, operation, settler)
                points.append(pytest.param(*case, id="-".join(map(str, case)),
                                           marks=pytest.mark.sweep))  # fmt: skip
    return points


@pytest.mark.parametrize(("nth", "operation", "settler"), _revision_points())
def test_a_settle_landing_before_any_call_of_deploy_revision_leaves_no_install_running(
    aws: Emulator, fleet: Ec2Fleet, calls: SettleBeforeCall, nth: int, operation: str,
    settler: str,
) -> None:  # fmt: skip
    name = f"late-{settler}-revision-{nth}"
    arn = aws.output("SwitchStateMachineArn").replace(":stateMachine:", ":execution:")
    app = fleet.outputs["CodeDeployApplicationName"]
    revision = {
        "application": app,
        "deploymentGroup": fleet.outputs["GreenDeploymentGroupName"],
        "revision": {
            "revisionType": "S3",
            "s3Location": {"bucket": "shop-releases", "key": "v42.zip", "bundleType": "zip"},
        },
    }
    # Given a switch that installs a revision on the idle fleet, about to make its nth call
    calls.arm("DeployRevisionFunction", nth, SETTLERS[settler](aws, fleet, f"{arn}:{name}"))
    # When the switch is settled by another path just then
    run = finished(aws, start_switch(aws, fleet.request(revision=revision), name=name))
    # Then it was settled there, production serves blue as the record says
    assert calls.fired.endswith(f":{operation}"), f"DeployRevision call #{nth}: {calls.fired!r}"
    assert run.status == "ABORTED", (run.status, run.error, run.cause)
    status = assert_one_truthful_ending(aws, fleet, name, f"DeployRevision#{nth} {operation}")
    assert status == "ROLLED_BACK"
    # and no install of this switch still runs on the idle fleet (read where CodeDeploy
    # keeps it: a GetDeployment would move the emulated agents on)
    backend = codedeploy_backends[aws.account_id][aws.region]
    installs = {
        deployment_id: deployment.status
        for deployment_id, deployment in backend.deployments.items()
        if deployment.description == description(name)
    }
    assert not [i for i, state in installs.items() if state in RUNNING], installs
