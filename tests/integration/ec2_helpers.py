"""What the EC2 switch tests share: running a switch, and observing what it left behind.

Everything here reads the emulated AWS the way an operator would (DescribeListeners,
DescribeRules, the deployments table, the event journal, GetExecutionHistory), so the
tests assert outcomes, not internals. Weights are reported by colour (`blue`/`green`)
so an assertion reads like the timeline a person would write.

`AwsCalls` hooks every boto3 client the *functions* create (the layer's `Clients`) with
botocore event handlers: `before-call` records each call (which function made it, which
service and operation) and can fail a chosen one with a throttling `ClientError` (as AWS
answers after the SDK's own retries); `after-call` can alter what a call returns;
`before-parameter-build` notes every weight a Modify* call writes, with the groups that
had a healthy target at that moment. Test and emulator clients are not hooked, so
observing never disturbs the switch.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from bluegreen import aws as layer_aws
from bluegreen.store import Deployments, RecordNotFound
from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet

ALL_ON_BLUE = {"blue": 100, "green": 0}
ALL_ON_GREEN = {"blue": 0, "green": 100}


# -- running a switch ----------------------------------------------------------------------
@dataclass
class Run:
    """One execution of the switch state machine, as GetExecutionHistory tells it."""

    name: str
    arn: str
    status: str
    error: str | None
    cause: str | None
    output: Any
    states: list[str]  # every state entered, in order

    @property
    def transitions(self) -> int:
        """State transitions (what Step Functions Standard bills): states entered."""
        return len(self.states)


def start_switch(aws: Emulator, request: dict[str, Any], name: str) -> str:
    return aws.start_execution(aws.output("SwitchStateMachineArn"), request, name=name)


def finished(aws: Emulator, execution_arn: str, timeout: float = 120.0) -> Run:
    """The execution once it ended and its thread has nothing left to run (a stopped
    execution is ABORTED at once, while the task it was in runs to its end)."""
    described = aws.wait_for_execution(execution_arn, timeout=timeout)
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    states = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    output = json.loads(described["output"]) if described.get("output") else None
    ended = history[-1] if history else {}
    details = ended.get("executionFailedEventDetails") or ended.get(
        "executionAbortedEventDetails", {}
    )
    return Run(
        name=described["name"],
        arn=execution_arn,
        status=described["status"],
        error=described.get("error") or details.get("error"),
        cause=described.get("cause") or details.get("cause"),
        output=output,
        states=states,
    )


def run_switch(aws: Emulator, request: dict[str, Any], name: str) -> Run:
    return finished(aws, start_switch(aws, request, name))


# -- what the load balancer does now ---------------------------------------------------------
def colours(fleet: Ec2Fleet) -> dict[str, str]:
    return {fleet.blue_arn: "blue", fleet.green_arn: "green"}


def by_colour(fleet: Ec2Fleet, weights: dict[str, int]) -> dict[str, int]:
    names = colours(fleet)
    return {names.get(arn, arn): int(weight) for arn, weight in weights.items()}


def _forward(actions: list[dict[str, Any]]) -> dict[str, int]:
    forward = next(a for a in actions if a["Type"] == "forward")
    groups = forward["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}


def production(aws: Emulator, fleet: Ec2Fleet) -> dict[str, dict[str, int]]:
    """Weights by colour of the production listener's default action and of the /api rule."""
    elbv2 = aws.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[fleet.listener_arn])["Listeners"][0]
    rule = elbv2.describe_rules(RuleArns=[fleet.rule_arn])["Rules"][0]
    return {
        "listener": by_colour(fleet, _forward(listener["DefaultActions"])),
        "rule": by_colour(fleet, _forward(rule["Actions"])),
    }


def on_test_listener(aws: Emulator, fleet: Ec2Fleet) -> dict[str, int]:
    """Weights by colour of the test listener (only the groups it lists)."""
    listener = aws.client("elbv2").describe_listeners(ListenerArns=[fleet.test_listener_arn])
    return by_colour(fleet, _forward(listener["Listeners"][0]["DefaultActions"]))


def everything_on(weights: dict[str, int]) -> dict[str, dict[str, int]]:
    return {"listener": dict(weights), "rule": dict(weights)}


# -- what the switch recorded and announced ---------------------------------------------------
def records(aws: Emulator) -> Deployments:
    return Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName"))


def record(aws: Emulator, deployment_id: str) -> dict[str, Any] | None:
    try:
        return records(aws).get(deployment_id)
    except RecordNotFound:
        return None


def table_keys(aws: Emulator) -> list[str]:
    """Every item's key, leaving out free locks (a lock item stays, remembering the last
    deployment that held it, once released)."""
    items = aws.client("dynamodb").scan(TableName=aws.output("DeploymentsTableName"))["Items"]
    return sorted(item["pk"]["S"] for item in items if _kept(item))


def _kept(item: dict[str, Any]) -> bool:
    """Not a free lock (a released lock item stays, remembering its last holder)."""
    return not item["pk"]["S"].startswith("LOCK#") or "owner" in item


def locks_and_guards(aws: Emulator, fleet: Ec2Fleet) -> list[str]:
    """The locks held on this fleet's listeners and the guards of its alarms still in the
    table (a finished switch leaves none). Read by key: the table is shared by every test
    of a worker, and grows with them."""
    mine = {f"LOCK#{fleet.listener_arn}", f"LOCK#{fleet.test_listener_arn}"}
    mine |= {f"ALARM#{name}" for name in fleet.alarms}
    ddb, table = aws.client("dynamodb"), aws.output("DeploymentsTableName")
    found = []
    for key in sorted(mine):
        items = ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :key",
            ExpressionAttributeValues={":key": {"S": key}},
        )["Items"]
        found += [key for item in items if _kept(item)]
    return found


def approval_token(aws: Emulator, execution_arn: str) -> str:
    """The task token of the approval the execution waits for, read where an approver
    reads it: the execution history (it never goes on the bus)."""
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000, reverseOrder=True
    )["events"]
    for event in history:
        details = event.get("taskScheduledEventDetails") or {}
        token = json.loads(details.get("parameters") or "{}").get("Payload", {}).get("taskToken")
        if token:
            return str(token)
    raise AssertionError(f"{execution_arn} waits for no approval")


def announced(aws: Emulator, deployment_id: str) -> list[dict[str, Any]]:
    """The events the stack put on its bus for one deployment, in order."""
    return [
        e
        for e in aws.events
        if e["source"] == "bluegreen" and e["detail"].get("deploymentId") == deployment_id
    ]


def detail_types(aws: Emulator, deployment_id: str) -> list[str]:
    return [e["detail-type"] for e in announced(aws, deployment_id)]


def on_announcement(
    aws: Emulator, detail_type: str, action: Callable[[dict[str, Any]], None]
) -> None:
    """Run `action(detail)` when the stack announces `detail_type` (inside the announcing
    call, so the switch has not moved on yet)."""

    def listener(event: dict[str, Any]) -> None:
        if event["source"] == "bluegreen" and event["detail-type"] == detail_type:
            action(event["detail"])

    aws.on_event.append(listener)


# -- botocore hooks on the functions' clients --------------------------------------------------
@dataclass(frozen=True)
class Call:
    function: str  # logical id, e.g. ShiftFunction
    service: str  # botocore service name, e.g. elbv2
    operation: str  # e.g. ModifyRule


EVERY = 0  # Fault.nth: fail every matching call


@dataclass
class Fault:
    call: Call
    nth: int  # fail the nth call matching `call` (1 = the first; EVERY: all of them)
    code: str
    status: int
    seen: int = 0
    fired: bool = False


THROTTLING = {
    "elbv2": ("Throttling", 400),
    "cloudwatch": ("Throttling", 400),
    "dynamodb": ("ThrottlingException", 400),
    "events": ("ServiceUnavailable", 503),
}


@dataclass
class AwsCalls:
    """Records, fails and alters the AWS calls the functions make (see module docstring)."""

    aws: Emulator | None = None
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    tamperers: list[tuple[Call, Callable[[dict[str, Any]], None]]] = field(default_factory=list)
    weight_writes: list[tuple[str, str, dict[str, int], set[str]]] = field(default_factory=list)

    def reset(self) -> None:
        self.calls.clear()
        self.faults.clear()
        self.tamperers.clear()
        self.weight_writes.clear()

    def fail(self, call: Call, nth: int = 1) -> Fault:
        code, status = THROTTLING.get(call.service, ("ServiceUnavailable", 503))
        fault = Fault(call, nth, code, status)
        self.faults.append(fault)
        return fault

    def tamper(self, call: Call, change: Callable[[dict[str, Any]], None]) -> None:
        """Let `change(parsed_response)` alter what `call` returns to the function."""
        self.tamperers.append((call, change))

    def counts(self) -> Counter[Call]:
        return Counter(self.calls)

    # botocore handlers ---------------------------------------------------------------------
    def unsafe_writes(self, fleet: Ec2Fleet) -> list[str]:
        """Safety rule 1: every weight > 0 written to the fleet's production listener or
        rule went to a target group with a healthy target at that moment. (The test
        listener is not production traffic: a rollback restores it as it was.)"""
        production = {fleet.listener_arn, fleet.rule_arn}
        return [
            f"{function} -> {arn}: {weights}, healthy groups then: {healthy}"
            for function, arn, weights, healthy in self.weight_writes
            if arn in production and any(w > 0 and g not in healthy for g, w in weights.items())
        ]

    def install(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._before_parameter_build)
        client.meta.events.register("before-call", self._before_call)
        client.meta.events.register("after-call", self._after_call)

    def _call(self, model: Any) -> Call:
        function = _current_function(self.aws)
        return Call(function, model.service_model.service_name, model.name)

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        call = self._call(model)
        self.calls.append(call)
        for fault in self.faults:
            if _matches(fault.call, call) and (fault.nth == EVERY or not fault.fired):
                fault.seen += 1
                if fault.nth in {EVERY, fault.seen}:
                    fault.fired = True
                    return error_response(fault, call)
        return None

    def _after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        call = self._call(model)
        for wanted, change in self.tamperers:
            if _matches(wanted, call):
                change(parsed)

    def _before_parameter_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Note every weight a Modify* call is about to write, and which groups then have
        a healthy target (the call's API parameters; before-call sees the HTTP body)."""
        if self.aws is None or model.name not in {"ModifyListener", "ModifyRule"}:
            return
        arn = params.get("ListenerArn") or params.get("RuleArn") or ""
        actions = params.get("DefaultActions") or params.get("Actions") or []
        weights: dict[str, int] = {}
        for action in actions:
            for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
                weights[group["TargetGroupArn"]] = int(group.get("Weight", 1))
            if action.get("TargetGroupArn"):
                weights.setdefault(action["TargetGroupArn"], 1)
        healthy = {g for g in weights if _has_healthy_target(self.aws, g)}
        self.weight_writes.append((_current_function(self.aws), arn, weights, healthy))


def _matches(wanted: Call, call: Call) -> bool:
    return (
        wanted.service == call.service
        and wanted.operation == call.operation
        and wanted.function in {"*", call.function}
    )


def _current_function(aws: Emulator | None) -> str:
    """Logical id of the function invoking now (the runtime serialises invocations and
    sets the function's environment for the duration of each one)."""
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    if aws is None or not name:
        return name or "?"
    try:
        return aws.runtime.find(name).logical_id
    except KeyError:
        return name


def error_response(fault: Fault, call: Call) -> tuple[AWSResponse, dict[str, Any]]:
    message = f"injected fault: {call.function} {call.service}:{call.operation} #{fault.nth}"
    http = AWSResponse("https://emulated.invalid/", fault.status, {}, None)
    parsed = {
        "Error": {"Code": fault.code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": fault.status},
    }
    return http, parsed


def _has_healthy_target(aws: Emulator, target_group_arn: str) -> bool:
    # observing is the test's, not the function's: the account, not the function's role
    with acting_as(None):
        described = aws.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    return any(
        t["TargetHealth"]["State"] == "healthy" for t in described["TargetHealthDescriptions"]
    )


# -- one emulator per test module ----------------------------------------------------------
class Fleets:
    """Builds a fresh fleet (its own ALB, groups, alarms, HTTP endpoint) per test, so tests
    can share one emulator (and its warm functions) without seeing each other's state."""

    def __init__(self, aws: Emulator) -> None:
        self.aws = aws
        self.built = 0

    def build(self, **kwargs: Any) -> Ec2Fleet:
        self.built += 1
        return build_ec2_fleet(self.aws, name=f"f{self.built}", **kwargs)

    def retire(self, fleet: Ec2Fleet) -> None:
        """Forget what the fleet's targets were told to answer (its applications and any
        degradation), so a later fleet's traffic is nothing of it."""
        for group in (fleet.blue_arn, fleet.green_arn):
            self.aws.alb_http.apps.pop(group, None)
            self.aws.alb_http.healthy(group)


@contextmanager
def fresh_listeners(aws: Emulator) -> Iterator[Emulator]:
    """Forget the event listeners a test added when it ends."""
    before = list(aws.on_event)
    try:
        yield aws
    finally:
        aws.on_event[:] = before


@contextmanager
def hooked_layer_clients(calls: AwsCalls) -> Iterator[AwsCalls]:
    """Every client the layer's `Clients` creates while this is active gets `calls`' hooks.

    Clients are created on a function's cold start, so enter this before the first switch
    of an emulator.
    """
    original = layer_aws.Clients._client

    def _client(self: layer_aws.Clients, name: str) -> Any:
        client = original(self, name)
        calls.install(client)
        return client

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layer_aws.Clients, "_client", _client)
        yield calls


# -- the fixtures of a module that shares one hooked emulator ---------------------------------
# A module uses them by binding the names (`calls = ec2_helpers.calls_fixture`, ...): one
# emulator for the module, its functions' clients hooked before their first cold start,
# a fresh fleet and a clean set of event listeners for each test.
@pytest.fixture(scope="module", name="calls")
def calls_fixture() -> Iterator[AwsCalls]:
    with hooked_layer_clients(AwsCalls()) as hooked:
        yield hooked


@pytest.fixture(scope="module", name="shared_aws")
def hooked_shared_aws_fixture(calls: AwsCalls) -> Iterator[Emulator]:
    with Emulator() as emulator:
        calls.aws = emulator
        yield emulator


@pytest.fixture(name="aws")
def hooked_aws_fixture(shared_aws: Emulator, calls: AwsCalls) -> Iterator[Emulator]:
    calls.reset()
    with fresh_listeners(shared_aws):
        yield shared_aws


@pytest.fixture(scope="module", name="fleets")
def fleets_fixture(shared_aws: Emulator) -> Fleets:
    return Fleets(shared_aws)


@pytest.fixture(name="fleet")
def fleet_fixture(fleets: Fleets) -> Iterator[Ec2Fleet]:
    fleet = fleets.build()
    yield fleet
    fleets.retire(fleet)


ENDINGS = {"Switch Succeeded", "Switch Rolled Back", "Switch Failed"}


def assert_one_truthful_ending(aws: Emulator, fleet: Ec2Fleet, name: str, point: str) -> str:
    """Production on one colour, the record saying which, nothing held, one ending
    announced. Returns the record's status (or NO_RECORD)."""
    serving = production(aws, fleet)
    saved = record(aws, name)
    assert locks_and_guards(aws, fleet) == [], f"{point}: left behind"
    if saved is None:
        assert serving == everything_on(ALL_ON_BLUE), f"{point}: no record, yet {serving}"
        assert detail_types(aws, name) == [], f"{point}: announced with no record"
        return "NO_RECORD"
    expected = {"ROLLED_BACK": ALL_ON_BLUE, "SUCCEEDED": ALL_ON_GREEN}
    assert saved["status"] in expected, f"{point}: record {saved['status']}, serving {serving}"
    assert serving == everything_on(expected[saved["status"]]), (
        f"{point}: record says {saved['status']}, production serves {serving}"
    )
    endings = [t for t in detail_types(aws, name) if t in ENDINGS]
    assert len(endings) == 1, f"{point}: announced {endings}"
    assert "announcedAt" in saved
    if saved["status"] == "ROLLED_BACK":
        assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}, f"{point}: test listener"
    return str(saved["status"])
