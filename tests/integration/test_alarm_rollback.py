"""Alarm rollback on the emulated AWS: the real rule, function, state machine and table.

A switch is started for real and held in its bake; then a CloudWatch alarm changes state
and EventBridge delivers the change to the real function. A botocore hook on the
function's own clients records every AWS call it makes (and can make one fail, or run
something at a precise point), so the tests can count what happens before traffic is
restored and stage the races with the state machine deterministically.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from bluegreen import store as records
from bluegreen.platforms.alb import forward_weights
from bluegreen.store import Deployments
from bluegreen_emulator import Emulator
from bluegreen_emulator.core.clock import Clock
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from bluegreen_emulator.fixtures.ecs_fleet import EcsFleet, build_ecs_fleet
from tests.conftest import load_event
from tests.integration.test_ecs_switch import MODES, ecs_request

pytestmark = pytest.mark.integration

FUNCTION = "AlarmRollbackFunction"
RESTORES = ("ModifyListener", "ModifyRule", "StopDeployment", "StopServiceDeployment")
SNAPSHOT = {"blue": 100, "green": 0}
CANARY = {"blue": 90, "green": 10}


# -- helpers -----------------------------------------------------------------------------------
@dataclass
class CallSpy:
    """Every AWS call the alarm function makes, in order; optional failures and hooks."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)  # operation -> error code, every time
    before: dict[str, Callable[[], None]] = field(default_factory=dict)  # one-shot hooks

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def count(self, *operations: str) -> int:
        return sum(1 for name in self.names() if name in operations)

    def before_restored(self) -> list[str]:
        """The calls made before traffic was back: up to the last restore of the first
        delivery that restored anything (a run of consecutive restore calls)."""
        names = self.names()
        first = next(i for i, n in enumerate(names) if n in RESTORES)
        last = first
        while last + 1 < len(names) and names[last + 1] in RESTORES:
            last += 1
        return names[: last + 1]

    def _parameters(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def _before_call(self, model: Any, **_: Any) -> Any:
        hook = self.before.pop(model.name, None)
        if hook is not None:
            hook()
        code = self.fail.get(model.name)
        if code is None:
            return None
        http = AWSResponse("https://emulated", 403, {}, None)
        return http, {"Error": {"Code": code, "Message": f"{model.name} refused (test)"}}


def spy_on_alarm_function(aws: Emulator) -> CallSpy:
    """Cold-start the function (an OK change makes no AWS call) and hook its clients."""
    spec = aws.function(FUNCTION)
    assert aws.runtime.invoke(spec.name, load_event("alarm-state-change-ok")).error_type is None
    assert spec.module is not None
    clients = spec.module.deps().endings.clients
    spy = CallSpy()
    for service in ("dynamodb", "elbv2", "stepfunctions", "events", "codedeploy", "ecs"):
        events = getattr(clients, service).meta.events
        events.register("before-parameter-build", spy._parameters)
        events.register("before-call", spy._before_call)
    return spy


class BakeHolds(Clock):
    """The machine's Wait states last until the execution is stopped (nothing else waits,
    so Lambda's retry back-offs are instant). `baking` is set once the machine waits."""

    def __init__(self) -> None:
        super().__init__(scale=0.0)
        self.baking = threading.Event()

    def wait(self, event: threading.Event, emulated_seconds: float) -> None:
        self.baking.set()
        event.wait(timeout=20)


def start_canary_held_in_bake(
    aws: Emulator, fleet: Ec2Fleet, monkeypatch: pytest.MonkeyPatch, name: str = "canary-1"
) -> str:
    """Start a 10% canary and return once the machine bakes it (traffic at 90/10)."""
    clock = BakeHolds()
    monkeypatch.setattr(aws, "clock", clock)
    execution = aws.start_execution(aws.output("SwitchStateMachineArn"), fleet.request(), name=name)
    assert clock.baking.wait(10), "the canary never reached its bake"
    assert weights(aws, fleet) == {"listener": CANARY, "rule": CANARY}
    return execution


def on_another_thread(work: Callable[[], Any]) -> Any:
    """Run `work` on its own thread and wait for it (a second Lambda, not a nested call)."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join(timeout=30)
    return result[0]


def weights(aws: Emulator, fleet: Ec2Fleet) -> dict[str, dict[str, int]]:
    elbv2 = aws.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[fleet.listener_arn])["Listeners"][0]
    rule = elbv2.describe_rules(RuleArns=[fleet.rule_arn])["Rules"][0]
    colour = {fleet.blue_arn: "blue", fleet.green_arn: "green"}

    def named(actions: Any) -> dict[str, int]:
        return {colour[arn]: w for arn, w in forward_weights(actions).items()}

    return {"listener": named(listener["DefaultActions"]), "rule": named(rule["Actions"])}


def table(aws: Emulator) -> Deployments:
    return Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName"))


def settled(aws: Emulator, deployment_id: str) -> dict[str, Any]:
    """The record once its ending is written and announced (the reaper runs on the
    execution's thread after it ends; the settle marks the record announced just before
    it puts the event, so both are waited for); a generous bound, never the verdict."""
    deadline = time.monotonic() + 30
    while True:
        record = table(aws).get(deployment_id)
        put = any(e["detail"].get("deploymentId") == deployment_id for e in ended_events(aws))
        done = record["status"] in records.ENDED and "announcedAt" in record and put
        if done or time.monotonic() > deadline:
            return record
        time.sleep(0.01)


def set_alarm(aws: Emulator, name: str, state: str = "ALARM", reason: str = "") -> None:
    aws.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue=state, StateReason=reason or f"{name} crossed its threshold"
    )


def ended_events(aws: Emulator) -> list[dict[str, Any]]:
    ended = {"Switch Succeeded", "Switch Rolled Back", "Switch Failed"}
    return [e for e in list(aws.events) if e["detail-type"] in ended]


def rolled_back_events(aws: Emulator) -> list[dict[str, Any]]:
    return [e["detail"] for e in aws.events if e["detail-type"] == "Switch Rolled Back"]


def abort_details(aws: Emulator, execution: str) -> dict[str, str]:
    last = aws.client("stepfunctions").get_execution_history(
        executionArn=execution, reverseOrder=True, maxResults=1
    )["events"][0]
    assert last["type"] == "ExecutionAborted", last["type"]
    return dict(last["executionAbortedEventDetails"])


def dead_letters(aws: Emulator) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = aws.output("AlarmRollbackDeadLetterQueueUrl")
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [
        {
            "body": json.loads(m["Body"]),
            "error": m["MessageAttributes"]["ErrorCode"]["StringValue"],
        }
        for m in messages
    ]


def metric_values(aws: Emulator, name: str) -> list[float]:
    """Values of an EMF metric the stack's functions logged (whichever concluded the
    ending emits its figures: the alarm function, or the reaper of the execution it
    stopped)."""
    logs = aws.client("logs")
    values: list[float] = []
    for function in (FUNCTION, "ReaperFunction"):
        values += _logged_values(logs, f"/aws/lambda/{aws.function(function).name}", name)
    return values


def _logged_values(logs: Any, group: str, name: str) -> list[float]:
    values: list[float] = []
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return values
    for stream in streams:
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
            "events"
        ]:
            if '"_aws"' in event["message"]:
                values += json.loads(event["message"]).get(name, [])
    return values


@pytest.fixture
def ec2(aws: Emulator) -> Iterator[Ec2Fleet]:
    yield build_ec2_fleet(aws, with_http=False)


# -- the EC2 rollback ------------------------------------------------------------------------
def test_a_guarding_alarm_rolls_a_baking_canary_back_with_traffic_restored_first(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a canary with test traffic, baking at 10% on the listener and its /api rule
    fleet = build_ec2_fleet(aws, with_http=True)
    spy = spy_on_alarm_function(aws)
    execution = start_canary_held_in_bake(aws, fleet, monkeypatch)

    # When the 5xx alarm that guards it goes to ALARM
    set_alarm(aws, "shop-green-5xx", reason="Threshold Crossed: 42 5xx in 1 minute")

    # Then traffic was restored by the first calls: the guard Query, the claim on the
    # record (so an alarm can never undo a switch that already succeeded), then one write
    # per route, production first, nothing in between
    assert spy.before_restored() == [
        "Query",
        "UpdateItem",
        "ModifyListener",
        "ModifyRule",
        "ModifyListener",
    ]
    assert spy.calls[2][1]["ListenerArn"] == fleet.listener_arn
    # and the listener and the rule are back on the snapshot; the test listener as it was
    assert weights(aws, fleet) == {"listener": SNAPSHOT, "rule": SNAPSHOT}
    test_listener = aws.client("elbv2").describe_listeners(ListenerArns=[fleet.test_listener_arn])
    groups = test_listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    assert {g["TargetGroupArn"]: g["Weight"] for g in groups} == {
        fleet.blue_arn: 0,
        fleet.green_arn: 1,
    }
    # and the execution was stopped, with a cause naming the alarm and its reason
    assert aws.wait_for_execution(execution)["status"] == "ABORTED"
    aborted = abort_details(aws, execution)
    assert aborted["error"] == "AlarmRollback"
    assert (
        aborted["cause"] == "alarm shop-green-5xx in ALARM: Threshold Crossed: 42 5xx in 1 minute"
    )
    # and the record says ROLLED_BACK, by that alarm, with the routes it read back
    record = table(aws).get("canary-1")
    assert record["status"] == records.ROLLED_BACK
    outcome = record["outcome"]
    assert (outcome["actor"]["alarm"], outcome["failedAt"]) == ("shop-green-5xx", "Alarm")
    assert (
        outcome["cause"] == "alarm shop-green-5xx in ALARM: Threshold Crossed: 42 5xx in 1 minute"
    )
    assert outcome["observed"]["serving"] == "from"
    assert {r["arn"] for r in outcome["observed"]["routes"]} == {fleet.listener_arn, fleet.rule_arn}
    # and the locks are free, the guards gone, one event announced
    assert table(aws).holder(fleet.listener_arn) is None
    assert table(aws).holder(fleet.test_listener_arn) is None
    assert table(aws).guards_for_alarm("shop-green-5xx") == []
    assert table(aws).guards_for_alarm("shop-green-p99") == []
    assert [(e["deploymentId"], e["alarm"]) for e in rolled_back_events(aws)] == [
        ("canary-1", "shop-green-5xx")
    ]
    # and TimeToRollback (alarm state time -> traffic restored, both on the emulated
    # clock: nothing the alarm function did before the restore waited) went out as an
    # EMF metric (once per dimension set: by platform, and by platform and load balancer)
    values = metric_values(aws, "TimeToRollback")
    assert len(values) == 2 and len(set(values)) == 1
    assert 0 <= values[0] < 1  # the alarm's timestamp is whole milliseconds


def test_the_same_event_delivered_three_times_rolls_back_once(
    aws: Emulator, ec2: Ec2Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a baking canary, and EventBridge delivering the alarm change (at least once)
    spy = spy_on_alarm_function(aws)
    start_canary_held_in_bake(aws, ec2, monkeypatch)
    delivered: list[tuple[Any, ...]] = []
    deliver = aws.deliver_event

    def keep_alarm_deliveries(*args: Any) -> None:
        if args[0].name.endswith("-alarm-rollback"):  # not the reaper's status changes
            delivered.append(args)
        deliver(*args)

    monkeypatch.setattr(aws, "deliver_event", keep_alarm_deliveries)
    set_alarm(aws, "shop-green-5xx")

    # When the same event is delivered twice more
    assert len(delivered) == 1
    deliver(*delivered[0])
    deliver(*delivered[0])

    # Then the function ran three times without error, but traffic was written once,
    # one record and one event
    runs = [i for i in aws.runtime.history if i.function == aws.function(FUNCTION).name][1:]
    assert [r.error_type for r in runs] == [None, None, None]
    assert [r.json()["deployments"] != [] for r in runs] == [True, False, False]
    assert spy.count(*RESTORES) == 2  # the listener and the rule, once
    assert table(aws).get("canary-1")["outcome"]["actor"]["alarm"] == "shop-green-5xx"
    assert len(rolled_back_events(aws)) == 1
    assert dead_letters(aws) == []


def test_a_duplicate_arriving_mid_rollback_records_and_announces_once(
    aws: Emulator, ec2: Ec2Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a baking canary, and a second delivery of the same change that arrives while
    # the first has found the guard but not yet claimed the record
    spy = spy_on_alarm_function(aws)
    execution = start_canary_held_in_bake(aws, ec2, monkeypatch)
    delivered: list[tuple[Any, ...]] = []
    deliver = aws.deliver_event

    def deliver_and_keep(*args: Any) -> None:
        if args[0].name.endswith("-alarm-rollback"):
            delivered.append(args)
            spy.before["UpdateItem"] = lambda: deliver(*args)  # the duplicate, mid-rollback
        deliver(*args)

    monkeypatch.setattr(aws, "deliver_event", deliver_and_keep)

    # When the alarm goes to ALARM
    set_alarm(aws, "shop-green-5xx")

    # Then the duplicate claimed and restored; the first found its own claim already
    # concluded and changed nothing: one restore, one record, one event
    assert spy.count(*RESTORES) == 2
    assert weights(aws, ec2) == {"listener": SNAPSHOT, "rule": SNAPSHOT}
    assert table(aws).get("canary-1")["status"] == records.ROLLED_BACK
    assert len(rolled_back_events(aws)) == 1
    assert aws.wait_for_execution(execution)["status"] == "ABORTED"
    assert table(aws).holder(ec2.listener_arn) is None


def test_an_alarm_that_guards_nothing_changes_nothing(
    aws: Emulator, ec2: Ec2Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a baking canary guarded by shop-green-5xx and shop-green-p99, and an unrelated alarm
    spy = spy_on_alarm_function(aws)
    execution = start_canary_held_in_bake(aws, ec2, monkeypatch)
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName="billing-estimated-charges",
        Namespace="AWS/Billing",
        MetricName="EstimatedCharges",
        Statistic="Maximum",
        Period=21600,
        EvaluationPeriods=1,
        Threshold=1000.0,
        ComparisonOperator="GreaterThanThreshold",
    )

    # When the unrelated alarm goes to ALARM, and a guarding one to INSUFFICIENT_DATA
    set_alarm(aws, "billing-estimated-charges")
    set_alarm(aws, "shop-green-p99", state="INSUFFICIENT_DATA")

    # Then the function looked the alarm up once and did nothing else (the other change
    # does not match the rule at all)
    assert spy.names() == ["Query"]
    # and the canary still bakes at 10%, recorded as running, locked
    assert weights(aws, ec2) == {"listener": CANARY, "rule": CANARY}
    described = aws.client("stepfunctions").describe_execution(executionArn=execution)
    assert described["status"] == "RUNNING"
    assert table(aws).get("canary-1")["status"] == records.IN_PROGRESS
    assert table(aws).holder(ec2.listener_arn) is not None
    assert rolled_back_events(aws) == []


def test_the_alarm_name_prefix_parameter_keeps_other_alarms_away_from_the_function() -> None:
    # Given the stack deployed with AlarmNamePrefix=shop-
    with Emulator(parameters={"AlarmNamePrefix": "shop-"}) as aws:
        fleet = build_ec2_fleet(aws, with_http=False)
        aws.client("cloudwatch").put_metric_alarm(
            AlarmName="billing-estimated-charges",
            Namespace="AWS/Billing",
            MetricName="EstimatedCharges",
            Statistic="Maximum",
            Period=21600,
            EvaluationPeriods=1,
            Threshold=1000.0,
            ComparisonOperator="GreaterThanThreshold",
        )

        # When an alarm outside the prefix and then one inside it go to ALARM
        set_alarm(aws, "billing-estimated-charges")
        set_alarm(aws, fleet.alarms[0])

        # Then only the one inside the prefix reached the function
        name = aws.function(FUNCTION).name
        ran = [i.json()["alarm"] for i in aws.runtime.history if i.function == name]
        assert ran == ["shop-green-5xx"]


# -- racing the machine's own gate ---------------------------------------------------------------
@pytest.mark.parametrize(
    "order",
    [
        "alarm before the machine's rollback",
        "machine's rollback before the alarm",
        "machine's rollback between the alarm's claim and its restore",
    ],
)
def test_the_alarm_racing_the_machines_own_gate_restores_one_snapshot_and_records_once(
    aws: Emulator, ec2: Ec2Fleet, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    # Given a canary whose guarding alarm goes to ALARM while the step is shifted, with
    # EventBridge's delivery of that change held back; the machine's gate sees the alarm
    spy = spy_on_alarm_function(aws)
    held: list[tuple[Any, ...]] = []
    monkeypatch.setattr(aws, "deliver_event", lambda *args: held.append(args))

    def on_event(event: dict[str, Any]) -> None:
        if event["detail-type"] == "Switch Step" and not held:
            set_alarm(aws, "shop-green-5xx", reason="Threshold Crossed: 42 5xx")

    aws.on_event.append(on_event)

    def deliver_held() -> None:
        while held:
            Emulator.deliver_event(aws, *held.pop(0))

    # and the held delivery released at a chosen point of the machine's Rollback task
    invoke = aws.runtime.invoke
    machine: dict[str, Any] = {}

    def invoke_staged(name: str, event: Any) -> Any:
        if aws.runtime.find(name).logical_id != "SettleFunction":
            return invoke(name, event)
        if order.startswith("alarm before"):
            deliver_held()
            return invoke(name, event)
        if order.startswith("machine's rollback before"):
            result = invoke(name, event)
            deliver_held()
            return result
        # the machine's settle runs (on its own thread, as its own Lambda) and ends while
        # the alarm function is between its claim and its first write
        spy.before["ModifyListener"] = lambda: machine.setdefault(
            "result", on_another_thread(lambda: invoke(name, event))
        )
        deliver_held()
        return machine["result"]

    monkeypatch.setattr(aws.runtime, "invoke", invoke_staged)

    # When the canary runs into its gate
    execution = aws.start_execution(
        aws.output("SwitchStateMachineArn"), ec2.request(), name="canary-1"
    )
    described = aws.wait_for_execution(execution)

    # Then whoever came first, traffic is on the snapshot, one ROLLED_BACK record, one
    # event, the lock free, the guards gone, and the execution ended
    assert weights(aws, ec2) == {"listener": SNAPSHOT, "rule": SNAPSHOT}
    record = table(aws).get("canary-1")
    assert record["status"] == records.ROLLED_BACK
    assert len(rolled_back_events(aws)) == 1
    assert table(aws).holder(ec2.listener_arn) is None
    assert table(aws).guards_for_alarm("shop-green-5xx") == []
    # and the record names who decided: the alarm if it claimed first, else the gate
    if order.startswith("machine's rollback before"):
        assert record["outcome"]["failedAt"] == "Gate"
        assert "shop-green-5xx" in record["outcome"]["cause"]
        assert described["status"] == "FAILED"
    else:
        assert record["outcome"]["actor"]["alarm"] == "shop-green-5xx"
        assert described["status"] in {"ABORTED", "FAILED"}  # stopped, or ended backing off
    # and the alarm function wrote traffic at most once (the same snapshot)
    assert spy.count(*RESTORES) == (0 if order.startswith("machine's rollback before") else 2)


# -- ECS (the real ECS switch, the emulated CodeDeploy / ECS-native blue/green) ---------------
def start_ecs_canary_held(
    aws: Emulator, fleet: EcsFleet, mode: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """Start the ECS switch (10% canary) and drive the platform's deployment to 10% while
    the machine waits; the execution ARN and the platform deployment's id."""
    clock = BakeHolds()
    monkeypatch.setattr(aws, "clock", clock)
    request = ecs_request(fleet, mode)
    execution = aws.start_execution(aws.output("SwitchStateMachineArn"), request, name="ecs-1")
    assert clock.baking.wait(10), "the ECS switch never started waiting on the platform"
    platform = aws.codedeploy_emulation if mode == "codedeploy" else aws.ecs_emulation
    [reference] = list(platform.flows)
    for _ in range(60):
        if fleet.serving(aws).get("web-green"):
            break
        platform.advance(reference)
    assert fleet.serving(aws) == {"web-blue": 90, "web-green": 10}
    return execution, reference


@pytest.mark.parametrize("mode", list(MODES))
def test_an_ecs_canary_is_stopped_with_the_platforms_rollback(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Given an ECS switch whose platform deployment has 10% on the release, guarded by
    # web-green-5xx (the switch put the deployment's id in the guards when it started it)
    fleet = build_ecs_fleet(aws, mode=MODES[mode])
    spy = spy_on_alarm_function(aws)
    execution, reference = start_ecs_canary_held(aws, fleet, mode, monkeypatch)

    # When web-green-5xx goes to ALARM (and the platform carries its rollback out)
    set_alarm(aws, "web-green-5xx", reason="Threshold Crossed: 9 5xx")
    if mode == "ecs-native":
        aws.ecs_emulation.run_until_done(reference)

    # Then the function's third call (after the guard Query and the claim) asked the
    # platform to roll back: CodeDeploy StopDeployment(autoRollbackEnabled) / ECS
    # StopServiceDeployment(ROLLBACK)
    assert spy.before_restored()[:2] == ["Query", "UpdateItem"]
    if mode == "codedeploy":
        assert spy.calls[2] == (
            "StopDeployment",
            {"deploymentId": reference, "autoRollbackEnabled": True},
        )
        info = aws.client("codedeploy").get_deployment(deploymentId=reference)
        assert info["deploymentInfo"]["status"] == "Stopped"
    else:
        assert spy.calls[2] == (
            "StopServiceDeployment",
            {"serviceDeploymentArn": reference, "stopType": "ROLLBACK"},
        )
        [described] = aws.client("ecs").describe_service_deployments(
            serviceDeploymentArns=[reference]
        )["serviceDeployments"]
        assert described["status"] == "ROLLBACK_SUCCESSFUL"
    # and production is back on blue, the switch stopped with the alarm as its cause
    assert fleet.serving(aws) == {"web-blue": 100}
    assert aws.wait_for_execution(execution)["status"] == "ABORTED"
    assert (
        abort_details(aws, execution)["cause"]
        == "alarm web-green-5xx in ALARM: Threshold Crossed: 9 5xx"
    )
    # and one ROLLED_BACK record naming the alarm (written by whoever saw the platform
    # finish: the alarm function, or the reaper its StopExecution brought), the service
    # lock free, one event
    record = settled(aws, "ecs-1")
    assert record["status"] == records.ROLLED_BACK
    assert record["outcome"]["actor"]["alarm"] == "web-green-5xx"
    assert record["outcome"]["observed"]["serving"] == "from"
    assert table(aws).holder(fleet.service_arn) is None
    assert [e["alarm"] for e in rolled_back_events(aws)] == ["web-green-5xx"]


# -- failure -----------------------------------------------------------------------------------
def test_a_failing_aws_call_is_retried_then_dead_lettered_with_no_half_written_record(
    aws: Emulator, ec2: Ec2Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a baking canary, and a function whose ModifyListener is refused
    spy = spy_on_alarm_function(aws)
    spy.fail["ModifyListener"] = "AccessDenied"
    execution = start_canary_held_in_bake(aws, ec2, monkeypatch)

    # When the guarding alarm goes to ALARM
    set_alarm(aws, "shop-green-5xx")

    # Then Lambda ran it three times (two async retries), and the event is dead-lettered
    runs = [i for i in aws.runtime.history if i.function == aws.function(FUNCTION).name][1:]
    assert [r.error_type for r in runs] == ["RollbackIncomplete"] * 3
    [letter] = dead_letters(aws)
    assert letter["body"]["detail"]["alarmName"] == "shop-green-5xx"
    assert letter["error"] == "RollbackIncomplete"
    assert spy.count("ModifyListener") == 3
    # and the record says exactly that much: claimed for a rollback by the alarm (so no
    # task of the machine moves traffic again), not rolled back; the guards and the lock
    # stay for a redrive or the reaper, and nothing was announced
    record = table(aws).get("canary-1")
    assert (record["status"], record["settling"]["intent"]) == ("SETTLING", "ROLLED_BACK")
    assert record["settling"]["actor"]["alarm"] == "shop-green-5xx"
    assert "outcome" not in record
    assert [g.deployment_id for g in table(aws).guards_for_alarm("shop-green-5xx")] == ["canary-1"]
    assert table(aws).holder(ec2.listener_arn) is not None
    assert rolled_back_events(aws) == []
    assert spy.count("StopExecution", "DeleteItem", "PutEvents") == 0
    sfn = aws.client("stepfunctions")
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
