"""Fuzzing every function's input, through the emulator's Lambda runtime.

Seeds are the events the functions really receive: captured from a switch that succeeds
(with test traffic and an approval) and one whose probes fail (so Rollback runs), the
sample events in events/ (hooks, alarms), and, for a function no run reached, the EC2
task envelope. Each example mutates a seed (fields replaced by any JSON value, removed or
added, at any depth) or is any JSON value at all, and invokes the real handler.

Properties, for every function in template.yaml:
- the only errors are the project's own (subclasses of BlueGreenError: InvalidInput,
  MalformedHookEvent, LockHeld...), never a KeyError, TypeError or other crash;
- an invocation that fails changed nothing in AWS: routes, records and locks, executions
  and announcements are as before (bad input is refused before anything changes).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bluegreen
from bluegreen.errors import BlueGreenError
from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from bluegreen_security.transform import load_template
from tests.fuzz.strategies import json_values, mutated
from tests.integration.ec2_helpers import approval_token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FUNCTIONS = sorted(
    logical_id
    for logical_id, resource in load_template(ROOT / "template.yaml")["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
)
# Examples per function: a few in the suite (each is a Lambda invocation on the emulator);
# BLUEGREEN_FUZZ_EXAMPLES=200 for a long hunt.
EXAMPLES = int(os.environ.get("BLUEGREEN_FUZZ_EXAMPLES", "10"))
# The errors that mean "this input is wrong": raised before anything changes. Other named
# errors (LockHeld, GateFailed, OutcomeAlreadyDecided...) are verdicts on valid input.
REFUSALS = {"InvalidInput", "MalformedHookEvent", "InvalidAlarmEvent"}
SAMPLE_EVENTS = {  # function -> events/ files it takes
    "AlarmRollbackFunction": "alarm-state-change-*.json",
    "EcsNativeHookFunction": "ecs-native-*.json",
    **{
        f"{event}HookFunction": f"codedeploy-{event}.json"
        for event in (
            "BeforeInstall",
            "AfterInstall",
            "AfterAllowTestTraffic",
            "BeforeAllowTraffic",
            "AfterAllowTraffic",
        )
    },
}


def project_errors() -> set[str]:
    """Names of every error the layer raises on purpose (Lambda reports the class name)."""
    package = Path(bluegreen.__file__).parent
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    found: set[str] = set()
    pending = [BlueGreenError]
    while pending:
        kind = pending.pop()
        found.add(kind.__name__)
        pending += kind.__subclasses__()
    return found


class World:
    """One emulated account, a fleet, and the events each function was seen to receive."""

    def __init__(self, aws: Emulator, fleet: Ec2Fleet) -> None:
        self.aws = aws
        self.fleet = fleet
        self.seeds: dict[str, list[Any]] = {}
        self.allowed = project_errors()

    def capture(self) -> None:
        aws, fleet = self.aws, self.fleet
        real_invoke = aws.runtime.invoke

        def invoke(name: str, event: Any) -> Any:
            logical_id = aws.runtime.find(name).logical_id
            self.seeds.setdefault(logical_id, []).append(json.loads(json.dumps(event)))
            return real_invoke(name, event)

        sfn = aws.client("stepfunctions")

        def approve(event: dict[str, Any]) -> None:
            if event["detail-type"] == "Switch Approval Needed":
                token = approval_token(aws, event["detail"]["executionArn"])
                sfn.send_task_success(taskToken=token, output="{}")

        aws.runtime.invoke = invoke  # type: ignore[method-assign]
        aws.on_event.append(approve)
        try:
            machine = aws.output("SwitchStateMachineArn")
            approved = fleet.request(approval={"required": True, "timeoutSeconds": 600})
            run = aws.start_execution(machine, approved, name="seed-ok")
            assert aws.wait_for_execution(run)["status"] == "SUCCEEDED"
            # back to blue, with the deep health check failing: TestTraffic fails, Rollback runs
            fleet.blue_arn, fleet.green_arn = fleet.green_arn, fleet.blue_arn
            assert fleet.http is not None
            fleet.http.broken.add(fleet.versions[fleet.green_arn])
            run = aws.start_execution(machine, fleet.request(), name="seed-probe-fails")
            assert aws.wait_for_execution(run)["status"] == "FAILED"
            fleet.http.broken.clear()
        finally:
            aws.runtime.invoke = real_invoke  # type: ignore[method-assign]
            aws.on_event.remove(approve)
        for function, pattern in SAMPLE_EVENTS.items():
            for path in sorted(EVENTS.glob(pattern)):
                self.seeds.setdefault(function, []).append(json.loads(path.read_text()))

    def seeds_for(self, function: str) -> list[Any]:
        if function in self.seeds:
            return self.seeds[function][:4]
        # a function no run reached: the envelope the switch tasks share
        plan = self.seeds["BeginFunction"][0]["plan"]
        return [
            {
                "plan": plan,
                "index": 0,
                "polls": 0,
                "progress": {},
                "deploymentId": "seed-ok",
                "failedAt": "Gate",
                "error": {"Error": "GateFailed", "Cause": "{}"},
            }
        ]

    def state(self) -> str:
        """Everything a refused invocation must leave as it was, as one comparable text."""
        aws = self.aws
        ddb, elbv2 = aws.client("dynamodb"), aws.client("elbv2")
        items = ddb.scan(TableName=aws.output("DeploymentsTableName"))["Items"]
        records = sorted(
            json.dumps(item, sort_keys=True)
            for item in items
            if not item["pk"]["S"].startswith("IDEMPOTENCY#")  # a hook's own bookkeeping
        )
        routes = []
        for balancer in elbv2.describe_load_balancers()["LoadBalancers"]:
            arn = balancer["LoadBalancerArn"]
            for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
                routes.append(listener["DefaultActions"])
                rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
                routes += [rule["Actions"] for rule in rules]
        sfn = aws.client("stepfunctions")
        executions = sorted(
            (run["name"], run["status"])
            for run in sfn.list_executions(stateMachineArn=aws.output("SwitchStateMachineArn"))[
                "executions"
            ]
        )
        announced = [e for e in aws.events if e["source"] != "aws.cloudwatch"]
        return json.dumps(
            [records, routes, executions, len(announced)], sort_keys=True, default=str
        )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # with a notification topic, so the (conditional) notifier exists and is fuzzed too
    topic = "arn:aws:sns:us-east-1:123456789012:fuzz-deployments"
    with Emulator(parameters={"NotificationTopicArn": topic}) as aws:
        aws.client("sns").create_topic(Name="fuzz-deployments")
        found = World(aws, build_ec2_fleet(aws, name="fuzz"))
        found.capture()
        yield found


def test_the_seeds_cover_the_switch_and_every_sample_event(world: World) -> None:
    # The runs reached every EC2 task (so the mutations start from real events)
    for function in (
        "PlanFunction",
        "BeginFunction",
        "CheckHealthFunction",
        "TestTrafficFunction",
        "RequestApprovalFunction",
        "ShiftFunction",
        "GateFunction",
        "SettleFunction",
        "ReaperFunction",
    ):
        assert function in world.seeds, function
    assert all(function in world.seeds for function in SAMPLE_EVENTS)


@pytest.mark.parametrize("function", FUNCTIONS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_event_is_handled_or_refused_by_name_and_a_refusal_changes_nothing(
    world: World, function: str, data: st.DataObject
) -> None:
    # Given an event: a real one with fields broken, or any JSON value
    seeds = world.seeds_for(function)
    event = data.draw(st.sampled_from(seeds).flatmap(mutated) | json_values, label="event")
    before = world.state()

    # When the function is invoked with it
    invocation = world.aws.runtime.invoke(world.aws.function(function).name, event)

    # Then it answered, or failed with one of the project's named errors
    if invocation.error_type is None:
        return
    assert invocation.error_type in world.allowed, invocation.payload.decode()[:2000]
    # and, if it refused the input, it changed nothing
    if invocation.error_type in REFUSALS:
        assert world.state() == before, invocation.payload.decode()[:2000]
