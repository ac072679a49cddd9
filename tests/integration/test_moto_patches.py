"""Every patch in `bluegreen_emulator/moto_patches/`, checked against the installed moto.

One test per patch. Each fails, by name, if a moto upgrade moves the patch point (the
attribute is gone or its signature changed) or if the behaviour the patch supplies stops
working. They run on a small throwaway stack (two functions and a queue) and throwaway
state machines and rules, so they do not depend on the project's own template.
"""

from __future__ import annotations

import datetime as datetime_module
import http.client
import inspect
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import botocore.handlers
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.cloudformation.models import ChangeSet, CloudFormationBackend
from moto.cloudwatch.models import CloudWatchBackend
from moto.codedeploy import responses as codedeploy_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.core import responses as moto_responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.responses import DynamoHandler
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import FakeTargetGroup
from moto.events.models import EventsBackend, Rule
from moto.kms import models as kms_models
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
    ErrorEqualsDecl,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse

from bluegreen_emulator import Emulator
from bluegreen_emulator import moto_patches as patches
from bluegreen_emulator.core import clock as clocks
from bluegreen_emulator.core import identity
from bluegreen_emulator.moto_patches import clock as clock_patch
from bluegreen_emulator.moto_patches import dynamodb as dynamodb_patch
from bluegreen_emulator.moto_patches import iam as iam_patch

pytestmark = pytest.mark.integration

_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
  FailingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: failing/
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt DeadLetterQueue.Arn
  CallerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: caller/
      Policies:
        - Statement:
            - Effect: Allow
              Action: sqs:GetQueueUrl
              Resource: !GetAtt DeadLetterQueue.Arn
  SleeperFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: sleeper/
      Timeout: 900
      Policies:
        - Statement:
            - Effect: Allow
              Action: sqs:ListQueues
              Resource: "*"  # ListQueues has no resource-level permissions
  DeadLetterQueue:
    Type: AWS::SQS::Queue
"""
_CALLER = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    client = boto3.client(event["service"])
    try:
        getattr(client, event["operation"])(**event.get("params", {}))
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": str(error)}
    return {"code": None}
"""
_ECHO = """
def handler(event, context):
    if isinstance(event, dict) and isinstance(event.get("blob"), int):
        return {"blob": "z" * event["blob"]}  # an answer of that many bytes and 12
    return {"handler": "echo", "event": event}
"""
_SLEEPER = """
import time
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    remaining = [context.get_remaining_time_in_millis()]
    try:
        for _ in range(event.get("calls", 0)):
            sqs.list_queues()
            remaining.append(context.get_remaining_time_in_millis())
        time.sleep(event.get("sleep", 0))
        remaining.append(context.get_remaining_time_in_millis())
    except Exception as error:
        remaining.append(context.get_remaining_time_in_millis())
        return {"remaining": remaining, "error": type(error).__name__}
    finally:
        if event.get("call_in_finally"):
            sqs.list_queues()
    return {"remaining": remaining}
"""
_FAILING = """
class ProbeFailure(Exception):
    pass

def handler(event, context):
    raise ProbeFailure("this function always fails")
"""


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Emulator]:
    """The emulator with a throwaway stack: EchoFunction, FailingFunction (async retries
    then its DeadLetterQueue), CallerFunction (any call, sqs:GetQueueUrl allowed) and
    SleeperFunction (sleeps and lists queues; 900 s timeout)."""
    sources = {"echo": _ECHO, "failing": _FAILING, "caller": _CALLER, "sleeper": _SLEEPER}
    for folder, source in sources.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "app.py").write_text(dedent(source), encoding="utf-8")
    (tmp_path / "template.yaml").write_text(_TEMPLATE, encoding="utf-8")
    with Emulator(template=tmp_path / "template.yaml", stack_name="probe") as aws:
        yield aws


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The real sleeps made while a test runs (outside functions, `time.sleep` is the
    real one): a wait that should be emulated would show up here as a long one."""
    slept: list[float] = []
    real = patches.ORIGINALS["time.sleep"]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        real(min(seconds, 0.05))  # short polls still yield; a long sleep is only recorded

    monkeypatch.setitem(patches.ORIGINALS, "time.sleep", sleep)
    return slept


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _machine_role(aws: Emulator) -> str:
    """A role for throwaway state machines: it may invoke the probe stack's functions and
    put events on the default bus, nothing else (IAM is enforced on executions too)."""
    iam = aws.client("iam")
    name = "probe-machine"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{aws.region}:{aws.account_id}:function:*",
            },
            {
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": f"arn:aws:events:{aws.region}:{aws.account_id}:event-bus/default",
            },
            {
                "Effect": "Allow",
                "Action": "elasticloadbalancing:DescribeLoadBalancers",
                "Resource": "*",  # no resource-level permissions
            },
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="probe", PolicyDocument=json.dumps(policy))
    return str(arn)


def _run_machine(aws: Emulator, definition: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"probe-{len(sfn.list_state_machines()['stateMachines'])}",
        definition=json.dumps(definition),
        roleArn=_machine_role(aws),
    )["stateMachineArn"]
    execution = aws.start_execution(machine, payload or {}, name="probe-run")
    return aws.wait_for_execution(execution, timeout=10)


def _invocations(aws: Emulator, logical_id: str) -> list[Any]:
    name = aws.function(logical_id).name
    return [i for i in aws.runtime.history if i.function == name]


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        threading.Event().wait(0.01)


# 1. Wait states ----------------------------------------------------------------------------
def test_wait_states_take_emulated_time_not_real_time(
    probe: Emulator, real_sleeps: list[float]
) -> None:
    # Given moto's wait function, with the keyword arguments moto calls it with
    assert _parameters(patches.ORIGINALS["WaitFunction._wait_interval"]) == [
        "self",
        "env",
        "wait_seconds",
    ]
    assert WaitFunction._wait_interval is not patches.ORIGINALS["WaitFunction._wait_interval"]
    # and a state machine that waits an hour, on a clock of scale 0
    definition = {
        "StartAt": "Bake",
        "States": {"Bake": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }

    # When it runs
    described = _run_machine(probe, definition)

    # Then it succeeds at once, and the clock counted the hour
    assert described["status"] == "SUCCEEDED"
    assert max(real_sleeps, default=0.0) < 1, real_sleeps  # nothing really slept
    assert probe.clock.waited == 3600


# 2. Retry back-off -------------------------------------------------------------------------
def test_retry_back_off_takes_emulated_time_not_real_time(
    probe: Emulator, real_sleeps: list[float]
) -> None:
    # Given moto's retrier still sleeps through its module's `time`
    assert "time.sleep(" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert retrier_decl.time is not patches.ORIGINALS["retrier_decl.time"]
    assert isinstance(retrier_decl.time, patches.ClockTime)
    # and a task that always fails, retried twice an hour apart
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": probe.function("FailingFunction").arn},
                "Retry": [
                    {
                        "ErrorEquals": ["ProbeFailure"],
                        "IntervalSeconds": 3600,
                        "MaxAttempts": 2,
                        "BackoffRate": 1.0,
                    }
                ],
                "End": True,
            }
        },
    }

    # When it runs
    described = _run_machine(probe, definition)

    # Then it tried three times and failed with the function's error, without sleeping
    assert (described["status"], described["error"]) == ("FAILED", "ProbeFailure")
    assert len(_invocations(probe, "FailingFunction")) == 3
    assert max(real_sleeps, default=0.0) < 1, real_sleeps  # nothing really slept
    assert probe.clock.waited == 7200


# 3. aws-sdk:elasticloadbalancingv2 ---------------------------------------------------------
def test_elbv2_sdk_tasks_reach_the_emulated_load_balancers(probe: Emulator) -> None:
    # Given moto's SFN-to-boto service name map has the elbv2 entry
    overrides = StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    assert overrides["elasticloadbalancingv2"] == "elbv2"
    # and a load balancer
    ec2, elbv2 = probe.client("ec2"), probe.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    elbv2.create_load_balancer(Name="probe-alb", Subnets=subnets)
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:elasticloadbalancingv2:describeLoadBalancers",
                "Parameters": {"Names": ["probe-alb"]},
                "ResultSelector": {"names.$": "$.LoadBalancers[*].LoadBalancerName"},
                "End": True,
            }
        },
    }

    # When a state machine describes it through the SDK integration
    described = _run_machine(probe, definition)

    # Then it gets the load balancer
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"names": ["probe-alb"]}


# 4. Lambda invoke runs the real handler ------------------------------------------------------
def test_lambda_invoke_runs_the_functions_real_handler(probe: Emulator) -> None:
    # Given moto's simple Lambda backend's invoke, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["LambdaSimpleBackend.invoke"]) == [
        "self",
        "function_name",
        "qualifier",
        "body",
        "headers",
        "response_headers",
    ]
    assert LambdaSimpleBackend.invoke is not patches.ORIGINALS["LambdaSimpleBackend.invoke"]
    lam = probe.client("lambda")

    # When the functions are invoked through the Lambda API
    echoed = lam.invoke(FunctionName="probe-EchoFunction", Payload=b'{"n": 1}')
    failed = lam.invoke(FunctionName="probe-FailingFunction", Payload=b"{}")
    queued = lam.invoke(FunctionName="probe-EchoFunction", InvocationType="Event", Payload=b"{}")

    # Then the real handlers answered (not moto's echo of the request)
    assert json.loads(echoed["Payload"].read()) == {"handler": "echo", "event": {"n": 1}}
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == (
        "ProbeFailure",
        "this function always fails",
    )
    # and an asynchronous invoke is accepted at once and runs the handler
    assert queued["StatusCode"] == 202
    _eventually(lambda: len(_invocations(probe, "EchoFunction")) == 2)


# 5. EventBridge delivers to Lambda targets ---------------------------------------------------
def test_eventbridge_delivers_matching_events_to_lambda_targets_only(probe: Emulator) -> None:
    # Given moto's rule delivery and event-pattern matcher
    assert _parameters(patches.ORIGINALS["Rule.send_to_targets"]) == [
        "self",
        "original_event",
        "transform_input",
    ]
    assert Rule.send_to_targets is not patches.ORIGINALS["Rule.send_to_targets"]
    # and a rule for orders over 100 targeting the echo function
    events = probe.client("events")
    events.put_rule(
        Name="big-orders",
        EventPattern=json.dumps(
            {"source": ["probe.shop"], "detail": {"total": [{"numeric": [">", 100]}]}}
        ),
    )
    echo = probe.function("EchoFunction")
    events.put_targets(Rule="big-orders", Targets=[{"Id": "echo", "Arn": echo.arn}])

    # When a matching and two non-matching events are put on the bus
    def put(source: str, total: int) -> None:
        entry = {"Source": source, "DetailType": "Order", "Detail": json.dumps({"total": total})}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    put("probe.shop", 250)
    put("probe.shop", 20)
    put("probe.other", 250)

    # Then only the matching one reached the function, as an EventBridge event
    delivered = [i.json()["event"] for i in _invocations(probe, "EchoFunction")]
    assert len(delivered) == 1
    assert delivered[0]["source"] == "probe.shop"
    assert delivered[0]["detail-type"] == "Order"
    assert delivered[0]["detail"] == {"total": 250}
    assert delivered[0]["time"].endswith("Z")


# 6. Alarm state changes become EventBridge events --------------------------------------------
def test_an_alarm_state_change_emits_one_documented_event(probe: Emulator) -> None:
    # Given moto's set_alarm_state, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["CloudWatchBackend.set_alarm_state"]) == [
        "self",
        "alarm_name",
        "reason",
        "reason_data",
        "state_value",
    ]
    assert (
        CloudWatchBackend.set_alarm_state
        is not patches.ORIGINALS["CloudWatchBackend.set_alarm_state"]
    )
    # and an alarm in its initial state
    cloudwatch = probe.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="shop-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarm = cloudwatch.describe_alarms(AlarmNames=["shop-5xx"])["MetricAlarms"][0]

    def alarm_events() -> list[dict[str, Any]]:
        return [e for e in probe.events if e["detail-type"] == "CloudWatch Alarm State Change"]

    # When it goes to ALARM
    cloudwatch.set_alarm_state(AlarmName="shop-5xx", StateValue="ALARM", StateReason="5xx > 5")

    # Then exactly one event is emitted, with the fields AWS documents
    (event,) = alarm_events()
    assert event["source"] == "aws.cloudwatch"
    assert event["bus"] == "default"
    detail = event["detail"]
    assert detail["alarmName"] == "shop-5xx"
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["reason"] == "5xx > 5"
    assert detail["state"]["timestamp"].endswith("+0000")
    assert detail["previousState"]["value"] == alarm["StateValue"]

    # When it is set to ALARM again, Then no event is emitted (the state did not change)
    cloudwatch.set_alarm_state(AlarmName="shop-5xx", StateValue="ALARM", StateReason="still")
    assert len(alarm_events()) == 1

    # When it recovers, Then one more event says so
    cloudwatch.set_alarm_state(AlarmName="shop-5xx", StateValue="OK", StateReason="fine")
    assert [e["detail"]["state"]["value"] for e in alarm_events()] == ["ALARM", "OK"]
    assert alarm_events()[1]["detail"]["previousState"]["value"] == "ALARM"


def test_an_alarm_event_reaches_a_rule_that_matches_it(probe: Emulator) -> None:
    # Given an alarm and a rule for alarms going to ALARM, targeting the echo function
    cloudwatch, events = probe.client("cloudwatch"), probe.client("events")
    cloudwatch.put_metric_alarm(
        AlarmName="shop-p99",
        MetricName="TargetResponseTime",
        Namespace="AWS/ApplicationELB",
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.5,
        ComparisonOperator="GreaterThanThreshold",
    )
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    events.put_rule(Name="alarms", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="alarms", Targets=[{"Id": "echo", "Arn": probe.function("EchoFunction").arn}]
    )

    # When the alarm fires and then recovers
    cloudwatch.set_alarm_state(AlarmName="shop-p99", StateValue="ALARM", StateReason="slow")
    cloudwatch.set_alarm_state(AlarmName="shop-p99", StateValue="OK", StateReason="fast")

    # Then the function received the ALARM event only, naming the alarm in `resources`
    (delivered,) = [i.json()["event"] for i in _invocations(probe, "EchoFunction")]
    alarm_arn = cloudwatch.describe_alarms(AlarmNames=["shop-p99"])["MetricAlarms"][0]["AlarmArn"]
    assert delivered["resources"] == [alarm_arn]
    assert delivered["detail"]["alarmName"] == "shop-p99"
    assert delivered["detail"]["state"]["value"] == "ALARM"


# 7. The event journal ------------------------------------------------------------------------
def test_every_event_put_on_a_bus_is_journaled(probe: Emulator) -> None:
    # Given moto's put_events, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["EventsBackend.put_events"]) == ["self", "events"]
    assert EventsBackend.put_events is not patches.ORIGINALS["EventsBackend.put_events"]
    events = probe.client("events")
    events.create_event_bus(Name="deployments")

    # When events are put on the default bus and a custom bus, with no rule at all
    events.put_events(
        Entries=[
            {"Source": "bluegreen", "DetailType": "Switch started", "Detail": '{"id": "d-1"}'},
            {
                "Source": "bluegreen",
                "DetailType": "Switch succeeded",
                "Detail": '{"id": "d-1"}',
                "EventBusName": "deployments",
            },
        ]
    )

    # Then the journal has both, in order, with their bus
    assert [(e["detail-type"], e["bus"], e["detail"]) for e in probe.events] == [
        ("Switch started", "default", {"id": "d-1"}),
        ("Switch succeeded", "deployments", {"id": "d-1"}),
    ]


# 8. Target health ---------------------------------------------------------------------------
def test_target_health_answers_as_the_emulator_says(probe: Emulator) -> None:
    # Given moto's health_for, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["FakeTargetGroup.health_for"]) == [
        "self",
        "target",
        "ec2_backend",
    ]
    assert FakeTargetGroup.health_for is not patches.ORIGINALS["FakeTargetGroup.health_for"]
    # and a target group with two running instances
    ec2, elbv2 = probe.client("ec2"), probe.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.0.0/24")["Subnet"]["SubnetId"]
    instances = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2, SubnetId=subnet)[
            "Instances"
        ]
    ]
    group = elbv2.create_target_group(Name="probe-tg", Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": i} for i in instances])

    # When the emulator says the first one fails its health check
    probe.target_health[(group, instances[0])] = ("unhealthy", "Target.FailedHealthChecks")

    # Then the ELB API reports it unhealthy, and the other one healthy as moto would
    health = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    states = {h["Target"]["Id"]: h["TargetHealth"] for h in health}
    assert states[instances[0]]["State"] == "unhealthy"
    assert states[instances[0]]["Reason"] == "Target.FailedHealthChecks"
    assert states[instances[1]]["State"] == "healthy"


# 8b. StopExecution keeps its error and cause ----------------------------------------------
def test_stop_execution_records_who_stopped_it_and_why(probe: Emulator) -> None:
    # Given moto's StopExecution handler, still a method taking only the request
    assert _parameters(patches.ORIGINALS["StepFunctionResponse.stop_execution"]) == ["self"]
    stop = patches.ORIGINALS["StepFunctionResponse.stop_execution"]
    assert StepFunctionResponse.stop_execution is not stop
    # and an execution baking for an hour on a real-time clock (a stop interrupts it)
    probe.clock.scale = 1.0
    definition = {
        "StartAt": "Bake",
        "States": {"Bake": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="baking", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="waiting")
    _eventually(lambda: probe.clock.waited == 3600)

    # When an operator stops it with an error and a cause
    sfn.stop_execution(executionArn=execution, error="Aborted", cause="alice: wrong build")

    # Then the execution is aborted, and its history says who and why
    described = probe.wait_for_execution(execution, timeout=10)
    assert described["status"] == "ABORTED"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    (aborted,) = [e for e in events if e["type"] == "ExecutionAborted"]
    details = aborted["executionAbortedEventDetails"]
    assert (details["error"], details["cause"]) == ("Aborted", "alice: wrong build")


# 21. GetExecutionHistory pages, newest first when asked ------------------------------------
def test_execution_history_is_paged_and_reversed_as_aws_does(probe: Emulator) -> None:
    # Given moto's GetExecutionHistory handler, still one page oldest first
    original = patches.ORIGINALS["StepFunctionResponse.get_execution_history"]
    assert _parameters(original) == ["self"]
    assert StepFunctionResponse.get_execution_history is not original
    # and an execution of four states (ten events)
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Pass", "Next": "D"},
            "D": {"Type": "Pass", "End": True},
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="passes", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="four")
    probe.wait_for_execution(execution, timeout=10)
    everything = sfn.get_execution_history(executionArn=execution)["events"]

    # When it is read newest first, three at a time
    first = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=3)
    second = sfn.get_execution_history(
        executionArn=execution, reverseOrder=True, maxResults=3, nextToken=first["nextToken"]
    )

    # Then the first page ends the execution and the pages continue backwards
    ids = [e["id"] for e in everything]
    assert [e["id"] for e in first["events"]] == ids[::-1][:3]
    assert first["events"][0]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in second["events"]] == ids[::-1][3:6]
    # and without a limit every event comes, oldest first, on one page of at most 100
    assert ids == sorted(ids) and "nextToken" not in sfn.get_execution_history(
        executionArn=execution
    )


# 9. CodeDeploy Server deployments progress ----------------------------------------------------
def _codedeploy_group(aws: Emulator, platform: str, group: str) -> None:
    codedeploy = aws.client("codedeploy")
    if group == "first":
        codedeploy.create_application(applicationName="app", computePlatform=platform)
    codedeploy.create_deployment_group(
        applicationName="app",
        deploymentGroupName=group,
        serviceRoleArn=f"arn:aws:iam::{aws.account_id}:role/codedeploy-service",
    )


def test_codedeploy_server_deployments_progress_to_their_outcome(probe: Emulator) -> None:
    # Given moto's get_deployment, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["CodeDeployBackend.get_deployment"]) == [
        "self",
        "deployment_id",
    ]
    assert (
        CodeDeployBackend.get_deployment
        is not patches.ORIGINALS["CodeDeployBackend.get_deployment"]
    )
    # and two EC2 (Server) deployment groups, the second one's agents failing
    codedeploy = probe.client("codedeploy")
    _codedeploy_group(probe, "Server", "first")
    _codedeploy_group(probe, "Server", "second")
    probe.codedeploy_server_outcomes[("app", "second")] = "Failed"
    revision = {
        "revisionType": "S3",
        "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"},
    }

    # When a deployment is created in each and read until it ends
    def statuses(group: str) -> list[str]:
        deployment = codedeploy.create_deployment(
            applicationName="app", deploymentGroupName=group, revision=revision
        )["deploymentId"]
        read = [codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]["status"]]
        read.append(codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]["status"])
        read.append(codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]["status"])
        return read

    # Then each moves on as the agents would, to its outcome, and stays there
    assert statuses("first") == ["InProgress", "Succeeded", "Succeeded"]
    assert statuses("second") == ["InProgress", "Failed", "Failed"]


# 10. CodeDeploy ECS blue/green actions moto lacks -------------------------------------------
def test_codedeploy_gains_the_ecs_blue_green_actions_moto_lacks(probe: Emulator) -> None:
    # Given moto's create_deployment and deployment view, with the signatures patched
    assert _parameters(patches.ORIGINALS["CodeDeployBackend.create_deployment"])[:3] == [
        "self",
        "application_name",
        "deployment_group_name",
    ]
    assert _parameters(patches.ORIGINALS["codedeploy_responses._deployment_info"]) == ["deployment"]
    assert (
        codedeploy_responses._deployment_info
        is not (patches.ORIGINALS["codedeploy_responses._deployment_info"])
    )
    codedeploy = probe.client("codedeploy")

    # When a client uses actions moto's CodeDeploy does not implement
    config = codedeploy.get_deployment_config(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes"
    )["deploymentConfigInfo"]
    with pytest.raises(codedeploy.exceptions.DeploymentDoesNotExistException):
        codedeploy.stop_deployment(deploymentId="d-NOSUCHONE")
    with pytest.raises(codedeploy.exceptions.InvalidLifecycleEventHookExecutionStatusException):
        codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId="d-NOSUCHONE", lifecycleEventHookExecutionId="x", status="Pending"
        )

    # Then they answer as CodeDeploy does
    assert config["computePlatform"] == "ECS"
    assert config["trafficRoutingConfig"]["type"] == "TimeBasedCanary"
    # and deployment ids look like CodeDeploy's (moto's are UUIDs)
    _codedeploy_group(probe, "Server", "first")
    deployment = codedeploy.create_deployment(
        applicationName="app",
        deploymentGroupName="first",
        revision={"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k"}},
    )["deploymentId"]
    assert re.fullmatch(r"d-[A-Z0-9]{9}", deployment)


# 11. Emulated ALB DNS names resolve to the emulator's listeners ---------------------------
def test_an_emulated_alb_dns_name_reaches_its_listener(probe: Emulator) -> None:
    # Given socket.getaddrinfo is the emulator's, and an ALB with an HTTP listener
    assert socket.getaddrinfo is not patches.ORIGINALS["socket.getaddrinfo"]
    ec2, elbv2 = probe.client("ec2"), probe.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    alb = elbv2.create_load_balancer(Name="probe-alb", Subnets=subnets)["LoadBalancers"][0]
    group = elbv2.create_target_group(Name="probe-web", Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    probe.alb_http.respond(group, status=200, body="hello from probe-web")

    # When a client resolves and calls the ALB's DNS name, as it would on AWS
    resolved = {info[4][0] for info in socket.getaddrinfo(alb["DNSName"], 80)}
    with urllib.request.urlopen(f"http://{alb['DNSName']}/", timeout=5) as response:
        status, body = response.status, response.read().decode()

    # Then the name resolves to loopback and the listener's target group answers
    assert resolved == {"127.0.0.1"}
    assert (status, body) == (200, "hello from probe-web")
    # and a name that is no emulated listener is not captured
    assert probe.alb_http.resolve(alb["DNSName"], 8443) is None


# 12. ECS-native blue/green service deployments ------------------------------------------
def test_ecs_services_are_handed_to_the_native_blue_green_emulation(probe: Emulator) -> None:
    # Given moto's ECS CreateService/UpdateService handlers, still methods of the request
    create = patches.ORIGINALS["EC2ContainerServiceResponse.create_service"]
    update = patches.ORIGINALS["EC2ContainerServiceResponse.update_service"]
    assert _parameters(create) == _parameters(update) == ["self"]
    assert EC2ContainerServiceResponse.create_service is not create
    assert EC2ContainerServiceResponse.update_service is not update
    ecs = probe.client("ecs")
    ecs.create_cluster(clusterName="shop")
    task = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]

    # When a service with the ECS deployment controller is created
    service = ecs.create_service(
        cluster="shop",
        serviceName="web",
        taskDefinition=task,
        desiredCount=2,
        deploymentController={"type": "ECS"},
    )["service"]["serviceArn"]

    # Then the emulation runs it (its first revision is current) and answers the service
    # deployment actions moto lacks
    assert service in probe.ecs_emulation.current
    deployments = ecs.list_service_deployments(cluster="shop", service="web")
    assert deployments["serviceDeployments"] == []


def test_describe_services_never_sees_half_an_update(probe: Emulator) -> None:
    # Given moto's DescribeServices handler, replaced by one that takes the lock an
    # UpdateService holds while it applies the change and creates its deployment
    from bluegreen_emulator.moto_patches import ecs as ecs_patches

    describe = patches.ORIGINALS["EC2ContainerServiceResponse.describe_services"]
    assert _parameters(describe) == ["self"]
    assert EC2ContainerServiceResponse.describe_services is not describe
    ecs = probe.client("ecs")
    ecs.create_cluster(clusterName="shop")
    task = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition=task, desiredCount=1)
    answered = threading.Event()

    def reader() -> None:
        ecs.describe_services(cluster="shop", services=["web"])
        answered.set()

    # When a reader asks while an update is under way (the update's lock is held)
    with ecs_patches._SERVICES:
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        # Then it gets no answer until the update is done
        assert not answered.wait(0.2)
    assert answered.wait(10)
    thread.join(10)


# 16. botocore's service models are parsed once per process ------------------------------
def test_botocore_sessions_share_one_model_loader_while_an_emulator_runs() -> None:
    # Given botocore's loader factory, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["botocore.session.create_loader"]) == [
        "search_path_string"
    ]

    def loader() -> Any:
        return botocore.session.Session().get_component("data_loader")

    # When sessions are created while an emulator runs, Then they share one loader
    with Emulator() as aws:
        shared = loader()
        assert loader() is shared
        assert aws.client("sts")._loader is shared  # type: ignore[attr-defined]
    # and without an emulator botocore behaves as shipped: a loader per session
    assert loader() is not loader()


# 37-38. botocore clients share an endpoint rule set per service, and one TLS context ------
def test_clients_share_endpoint_rules_and_tls_context_and_resolve_as_before(
    probe: Emulator,
) -> None:
    # Given botocore's endpoint provider and TLS context factory, as the patches expect
    assert _parameters(patches.ORIGINALS["botocore.regions.EndpointProvider"]) == [
        "ruleset_data",
        "partition_data",
        "excluded_params",
    ]
    assert _parameters(patches.ORIGINALS["URLLib3Session._get_ssl_context"]) == ["self"]
    session = botocore.session.Session()

    def client(service: str, region: str) -> Any:
        return session.create_client(service, region_name=region)

    # When clients are created while an emulator runs
    first, second = client("dynamodb", "us-east-1"), client("dynamodb", "eu-west-1")
    other = client("sqs", "us-east-1")
    s3 = client("s3", "us-east-1")  # botocore leaves some parameters out of S3's rules

    # Then clients of one service share one rule set, and every client one TLS context
    def provider(made: Any) -> Any:
        return made._ruleset_resolver._provider

    def tls(made: Any) -> Any:
        return made._endpoint.http_session._manager.connection_pool_kw["ssl_context"]

    assert provider(first) is provider(second)
    assert provider(other) is not provider(first)
    assert provider(s3) is provider(client("s3", "eu-west-1"))
    assert tls(first) is tls(second) is tls(other) is tls(s3)
    # and each still resolves its own region's endpoint, and calls go through
    assert first.meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    assert second.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    assert "TableNames" in first.list_tables()
    s3.create_bucket(Bucket="release-artifacts")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["release-artifacts"]


def test_without_an_emulator_each_client_builds_its_own_rules_and_tls_context() -> None:
    # Given no emulator running, When two clients of one service are created
    session = botocore.session.Session()
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    one = session.create_client("dynamodb", region_name="us-east-1", **keys)
    two = session.create_client("dynamodb", region_name="us-east-1", **keys)
    # Then botocore behaves as shipped
    assert one._ruleset_resolver._provider is not two._ruleset_resolver._provider
    pool = "connection_pool_kw"
    assert (
        getattr(one._endpoint.http_session._manager, pool)["ssl_context"]
        is not getattr(two._endpoint.http_session._manager, pool)["ssl_context"]
    )


# 15. StopExecution aborts an execution waiting for a task token ---------------------------
def test_stopping_an_execution_waiting_for_a_task_token_aborts_it(probe: Emulator) -> None:
    # Given moto's execution stop and error recording, with the signatures patched
    assert _parameters(patches.ORIGINALS["ExecutionWorker.stop"]) == [
        "self",
        "stop_date",
        "error",
        "cause",
    ]
    assert _parameters(patches.ORIGINALS["Environment.set_error"]) == ["self", "error"]
    assert ExecutionWorker.stop is not patches.ORIGINALS["ExecutionWorker.stop"]
    assert Environment.set_error is not patches.ORIGINALS["Environment.set_error"]
    # and an execution waiting for an approval token, with no timeout
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": probe.function("EchoFunction").arn,
                    "Payload": {"token.$": "$$.Task.Token"},
                },
                "End": True,
            }
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="approval", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="awaiting-approval")
    _eventually(lambda: len(_invocations(probe, "EchoFunction")) == 1)

    # When an operator stops it
    sfn.stop_execution(executionArn=execution, error="Aborted", cause="bob: wrong release")

    # Then it ends ABORTED at once, not FAILED and not waiting forever
    assert probe.wait_for_execution(execution, timeout=10)["status"] == "ABORTED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert history[-1]["type"] == "ExecutionAborted"


# 30. StopExecution aborts at once; the Lambda task it was in runs to its end -------------
def test_a_stopped_execution_is_aborted_at_once_while_its_lambda_runs_on(
    probe: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto's history recorder, with the signature the patch expects
    original = patches.ORIGINALS["EventManager.add_event"]
    assert _parameters(original)[:4] == ["self", "context", "event_type", "event_details"]
    assert EventManager.add_event is not original
    # and an execution in a Lambda task that has not returned yet
    entered, release = threading.Event(), threading.Event()
    invoke = probe.runtime.invoke

    def held(name: str, event: Any) -> Any:
        entered.set()
        release.wait(10)
        return invoke(name, event)

    monkeypatch.setattr(probe.runtime, "invoke", held)
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": probe.function("EchoFunction").arn,
                "Next": "After",
            },
            "After": {"Type": "Pass", "End": True},
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="held", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="held-in-a-task")
    assert entered.wait(10)

    # When an operator stops it while the function still runs
    sfn.stop_execution(executionArn=execution, error="Aborted", cause="carol: stop")

    # Then it is ABORTED at once, its history ends with the abort, and the status change
    # is published (delivered on its own thread, as EventBridge does), before the
    # function returns
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert history[-1]["type"] == "ExecutionAborted"

    def statuses() -> list[str]:
        return [e["detail"]["status"] for e in probe.events if e["source"] == "aws.states"]

    assert _eventually(lambda: statuses() == ["RUNNING", "ABORTED"])
    # and once the function has returned, nothing more is recorded or announced
    release.set()
    probe.wait_until_quiet(execution, timeout=10)
    assert len(_invocations(probe, "EchoFunction")) == 1
    assert sfn.get_execution_history(executionArn=execution)["events"] == history
    assert statuses() == ["RUNNING", "ABORTED"]


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether `condition` holds within `timeout` (a bound for a loaded machine, never
    the measure of anything)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# 17. A state machine definition is parsed once per process -------------------------------
def test_a_definition_is_parsed_once_and_each_use_gets_a_fresh_program(probe: Emulator) -> None:
    # Given moto's ASL parser, with the signature the patch expects
    original = patches.ORIGINALS["AmazonStateLanguageParser.parse"]
    assert _parameters(original) == ["definition"]
    assert AmazonStateLanguageParser.parse is not original
    definition = json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}, "Comment": "parse-once"}
    )

    # When the same definition is parsed twice
    first_program, first_tree = AmazonStateLanguageParser.parse(definition)
    second_program, second_tree = AmazonStateLanguageParser.parse(definition)

    # Then the parse tree is reused, and each caller gets its own program
    assert second_tree is first_tree
    assert second_program is not first_program
    # and a broken definition is still refused by CreateStateMachine
    sfn = probe.client("stepfunctions")
    with pytest.raises(ClientError, match="ASLParserException"):
        sfn.create_state_machine(
            name="broken", definition='{"StartAt": "Nowhere"', roleArn=_machine_role(probe)
        )
    # and a good one still runs
    assert _run_machine(probe, json.loads(definition))["status"] == "SUCCEEDED"


# Emulated asynchronous invocation (EventBridge to Lambda): retries, then the DLQ ------------
@pytest.mark.parametrize(
    ("configure", "attempts"),
    [
        pytest.param(None, 2, id="template-EventInvokeConfig"),
        pytest.param({"MaximumRetryAttempts": 0}, 1, id="PutFunctionEventInvokeConfig"),
    ],
)
def test_a_failing_event_target_is_retried_then_dead_lettered(
    probe: Emulator, configure: dict[str, Any] | None, attempts: int
) -> None:
    # Given a rule whose target always fails, with an on-failure queue
    events, sqs = probe.client("events"), probe.client("sqs")
    failing = probe.function("FailingFunction")
    queue_url = sqs.get_queue_url(QueueName=probe.physical_id("DeadLetterQueue"))["QueueUrl"]
    if configure is not None:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        probe.client("lambda").put_function_event_invoke_config(
            FunctionName=failing.name,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}},
            **configure,
        )
    events.put_rule(Name="all-orders", EventPattern=json.dumps({"source": ["probe.shop"]}))
    events.put_targets(Rule="all-orders", Targets=[{"Id": "failing", "Arn": failing.arn}])

    # When an event matches
    events.put_events(Entries=[{"Source": "probe.shop", "DetailType": "Order", "Detail": "{}"}])

    # Then Lambda tried as configured, waiting emulated minutes between tries, not real ones
    assert len(_invocations(probe, "FailingFunction")) == attempts
    assert probe.clock.waited == sum(60 * n for n in range(1, attempts))
    assert probe.deliveries[-1]["outcome"] == "dead-lettered"
    # and the event is in the dead-letter queue with the error that ended it
    messages = sqs.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["source"] == "probe.shop"
    assert messages[0]["MessageAttributes"]["ErrorCode"]["StringValue"] == "ProbeFailure"


# 36. KMS key material is made on first use ----------------------------------------------
def test_a_kms_key_makes_its_key_pair_on_first_use_and_signs_as_before(probe: Emulator) -> None:
    # Given moto's key-pair generator, with the signature the patch expects
    original = patches.ORIGINALS["kms_models.generate_private_key"]
    assert _parameters(original) == ["key_spec"]
    assert kms_models.generate_private_key is not original
    kms = probe.client("kms")

    # When a symmetric key and an asymmetric signing key are created
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]

    # Then neither has generated a key pair yet
    backend = kms_models.kms_backends[probe.account_id][probe.region]
    assert backend.keys[symmetric].private_key._key is None
    assert backend.keys[signing].private_key._key is None
    # and the signing key signs and verifies as before, with one key pair
    signed = kms.sign(KeyId=signing, Message=b"release 42", SigningAlgorithm="RSASSA_PSS_SHA_256")[
        "Signature"
    ]
    verified = kms.verify(
        KeyId=signing,
        Message=b"release 42",
        Signature=signed,
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    assert verified["SignatureValid"] is True
    public = kms.get_public_key(KeyId=signing)["PublicKey"]
    assert backend.keys[signing].private_key.key_size == 2048
    assert len(public) > 256
    # and the symmetric key still encrypts and decrypts
    blob = kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_every_registered_patch_has_a_test_here() -> None:
    # Given every patch point moto_patches keeps the original of
    this_module = Path(__file__).read_text(encoding="utf-8")

    # Then each is checked by a test in this module
    untested = [key for key in patches.ORIGINALS if f'ORIGINALS["{key}"]' not in this_module]
    assert untested == [], f"add a test for these patch points: {untested}"


# 18-20. IAM on every call ----------------------------------------------------------------
def test_a_function_makes_only_the_calls_its_role_allows(probe: Emulator) -> None:
    # Given botocore's handler list carrying the emulator's authorization, and moto's
    # request entry point and execution thread, both patched
    assert any(entry[0] == "before-call" for entry in botocore.handlers.BUILTIN_HANDLERS)
    assert BotocoreStubber.__call__ is not patches.ORIGINALS["BotocoreStubber.__call__"]
    assert _parameters(patches.ORIGINALS["BotocoreStubber.__call__"])[:3] == [
        "self",
        "event_name",
        "request",
    ]
    caller = probe.function("CallerFunction").name
    queue = probe.physical_id("DeadLetterQueue")

    # When CallerFunction makes a call its role allows, and one it does not
    allowed = probe.runtime.invoke(
        caller, {"service": "sqs", "operation": "get_queue_url", "params": {"QueueName": queue}}
    ).json()
    denied = probe.runtime.invoke(caller, {"service": "sqs", "operation": "list_queues"}).json()

    # Then the first works and the second fails as AWS fails it, naming role and action
    assert allowed == {"code": None}
    assert denied["code"] == "AccessDenied"
    assert (
        "CallerFunctionRole/emulated is not authorized to perform: sqs:ListQueues"
        in (denied["message"])
    )


def test_a_call_as_a_role_that_skipped_the_check_is_refused(probe: Emulator) -> None:
    # Given a session whose clients lack the emulator's handlers (made before it existed)
    session = botocore.session.Session()
    for event, handler in iam_patch._HANDLERS:
        session.unregister(event, handler)
    client = session.create_client("sqs", region_name=probe.region)
    role = probe.function("CallerFunction").role_arn
    # When a call is made with it as a function's role
    with identity.acting_as(role), pytest.raises(RuntimeError, match="without an IAM check"):
        client.list_queues()
    # Then it never reached the account; as the account itself it is answered
    assert "QueueUrls" in client.list_queues()


def test_an_execution_calls_aws_as_its_state_machine_role(probe: Emulator) -> None:
    # Given moto's execution entry point, patched
    original = patches.ORIGINALS["ExecutionWorker._execution_logic"]
    assert _parameters(original) == ["self"]
    assert ExecutionWorker._execution_logic is not original
    # and a role that may invoke nothing
    iam = probe.client("iam")
    trust = {"Version": "2012-10-17", "Statement": []}
    role = iam.create_role(RoleName="mute", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    echo = probe.function("EchoFunction").arn
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": echo, "Payload": {}},
                "End": True,
            }
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="mute", definition=json.dumps(definition), roleArn=role["Arn"]
    )["stateMachineArn"]
    # When it runs a lambda:invoke task
    described = probe.wait_for_execution(probe.start_execution(machine, {}, name="m"))
    # Then the task fails with AccessDenied and the function never ran
    assert described["status"] == "FAILED"
    assert "not authorized to perform: lambda:InvokeFunction" in described["cause"]
    assert _invocations(probe, "EchoFunction") == []


# 35. DynamoDB item operations are serializable -------------------------------------------
def test_dynamodb_item_operations_hold_the_account_lock(probe: Emulator) -> None:
    # Given moto's item operations, each patched to run under one lock per account/region
    ORIGINALS = patches.ORIGINALS
    patched = {
        "DynamoDBBackend.put_item": patches.ORIGINALS["DynamoDBBackend.put_item"],
        "DynamoDBBackend.get_item": patches.ORIGINALS["DynamoDBBackend.get_item"],
        "DynamoDBBackend.update_item": patches.ORIGINALS["DynamoDBBackend.update_item"],
        "DynamoDBBackend.delete_item": patches.ORIGINALS["DynamoDBBackend.delete_item"],
        "DynamoDBBackend.query": patches.ORIGINALS["DynamoDBBackend.query"],
        "DynamoDBBackend.scan": patches.ORIGINALS["DynamoDBBackend.scan"],
        "DynamoDBBackend.transact_write_items": ORIGINALS["DynamoDBBackend.transact_write_items"],
        "DynamoHandler.transact_get_items": patches.ORIGINALS["DynamoHandler.transact_get_items"],
    }
    for key, original in patched.items():
        owner = DynamoHandler if key.startswith("DynamoHandler") else DynamoDBBackend
        assert getattr(owner, key.split(".")[1]) is not original, key
    assert _parameters(patched["DynamoDBBackend.transact_write_items"]) == [
        "self",
        "transact_items",
    ]
    # When another thread holds the lock, a write waits for it
    ddb = probe.client("dynamodb")
    ddb.create_table(
        TableName="locked",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    lock = dynamodb_patch.lock_of(dynamodb_backends[probe.account_id][probe.region])
    done = threading.Event()
    with lock:
        writer = threading.Thread(
            target=lambda: (ddb.put_item(TableName="locked", Item={"pk": {"S": "a"}}), done.set())
        )
        writer.start()
        assert not done.wait(0.3)  # bounded: the write is still waiting after 0.3 s
    # Then it lands once the lock is released
    writer.join(timeout=10)
    assert done.is_set()
    assert ddb.get_item(TableName="locked", Key={"pk": {"S": "a"}})["Item"]["pk"] == {"S": "a"}


# 43. A cancelled TransactWriteItems puts back only the items it wrote -------------------
def test_a_cancelled_transaction_puts_back_exactly_what_it_wrote(probe: Emulator) -> None:
    # Given moto's transaction, patched, and a table with a record and a bystander item
    assert (
        DynamoDBBackend.transact_write_items
        is not patches.ORIGINALS["DynamoDBBackend.transact_write_items"]
    )
    ddb = probe.client("dynamodb")
    ddb.create_table(
        TableName="journal",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    def key(pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    ddb.put_item(TableName="journal", Item={**key("rec", "1"), "v": {"N": "1"}})
    ddb.put_item(TableName="journal", Item={**key("other", "1"), "v": {"N": "7"}})

    def items() -> list[dict[str, Any]]:
        return sorted(ddb.scan(TableName="journal")["Items"], key=json.dumps)

    untouched = items()

    # When a transaction updates the record, deletes the bystander's twin, creates a new
    # item in a new group, then fails its last condition
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "journal",
                        "Key": key("rec", "1"),
                        "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": "journal", "Item": {**key("new", "1"), "v": {"N": "3"}}}},
                {"Delete": {"TableName": "journal", "Key": key("other", "1")}},
                {
                    "ConditionCheck": {
                        "TableName": "journal",
                        "Key": key("rec", "2"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )

    # Then it is cancelled with moto's reasons, in order, and the table is as it was
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert items() == untouched
    backend = dynamodb_backends[probe.account_id][probe.region]
    assert set(backend.get_table("journal").items) == {
        DynamoType({"S": "rec"}),
        DynamoType({"S": "other"}),
    }  # no empty group left for the item it had created

    # and two actions on one item are refused whole, leaving the table as it was
    with pytest.raises(ClientError) as twice:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "journal", "Item": {**key("rec", "1"), "v": {"N": "9"}}}},
                {"Delete": {"TableName": "journal", "Key": key("rec", "1")}},
            ]
        )
    assert twice.value.response["Error"]["Code"] == "ValidationException"
    assert items() == untouched

    # and a transaction that passes writes everything
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "journal", "Item": {**key("new", "1"), "v": {"N": "3"}}}},
            {"Delete": {"TableName": "journal", "Key": key("other", "1")}},
        ]
    )
    assert [i["pk"]["S"] for i in items()] == ["new", "rec"]


# 22. Step Functions Execution Status Change events -----------------------------------------
def test_every_execution_status_change_reaches_eventbridge_rules(probe: Emulator) -> None:
    # Given moto's execution start and end, patched
    for key in ("Execution.start", "BaseExecutionWorkerCommunication.terminated"):
        assert _parameters(patches.ORIGINALS[key]) == ["self"]
    assert Execution.start is not patches.ORIGINALS["Execution.start"]
    assert (
        BaseExecutionWorkerCommunication.terminated
        is not patches.ORIGINALS["BaseExecutionWorkerCommunication.terminated"]
    )
    # and a rule sending failed, timed-out and aborted executions to EchoFunction
    events = probe.client("events")
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"]},
    }
    events.put_rule(Name="reaper", EventPattern=json.dumps(pattern), State="ENABLED")
    echo = probe.function("EchoFunction").arn
    events.put_targets(Rule="reaper", Targets=[{"Id": "echo", "Arn": echo}])
    definition = {
        "StartAt": "Boom",
        "States": {"Boom": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}},
    }

    # When an execution starts and fails
    described = _run_machine(probe, definition, {"release": "v42"})

    # Then both changes were announced, shaped as Step Functions sends them
    announced = [e for e in probe.events if e["source"] == "aws.states"]
    assert [e["detail"]["status"] for e in announced] == ["RUNNING", "FAILED"]
    failed = announced[-1]["detail"]
    assert failed["executionArn"] == described["executionArn"]
    assert failed["stateMachineArn"] == described["stateMachineArn"]
    assert (failed["name"], failed["error"], failed["cause"]) == (
        "probe-run",
        "Broken",
        "on purpose",
    )
    assert json.loads(failed["input"]) == {"release": "v42"}
    assert failed["inputDetails"] == {"included": True}
    assert (failed["output"], failed["outputDetails"]) == (None, None)
    assert failed["stopDate"] >= failed["startDate"] > 0
    assert announced[0]["detail"]["stopDate"] is None
    # and the rule delivered the failure (not the start) to its target, whole
    _eventually(lambda: len(_invocations(probe, "EchoFunction")) == 1)
    (delivered,) = _invocations(probe, "EchoFunction")
    event = delivered.json()["event"]
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [described["executionArn"]]
    assert event["detail"]["status"] == "FAILED"


# 13. SendTaskFailure carries its cause ---------------------------------------------------------
def test_a_task_failure_sent_with_a_cause_reaches_the_execution(probe: Emulator) -> None:
    # Given moto's SendTaskFailure handler, still a method taking only the request
    original = patches.ORIGINALS["StepFunctionResponse.send_task_failure"]
    assert _parameters(original) == ["self"]
    assert StepFunctionResponse.send_task_failure is not original
    # and an execution waiting for a task token (EchoFunction returns it in its event)
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": probe.function("EchoFunction").arn,
                    "Payload": {"token.$": "$$.Task.Token"},
                },
                "End": True,
            }
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="asking", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="asking-1")
    _eventually(lambda: bool(_invocations(probe, "EchoFunction")))
    token = _invocations(probe, "EchoFunction")[0].json()["event"]["token"]

    # When the approver fails the task with an error and a cause
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="release notes missing")

    # Then the execution failed with both
    described = probe.wait_for_execution(execution, timeout=10)
    assert described["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    (failed,) = [e for e in events if e["type"] == "ExecutionFailed"]
    details = failed["executionFailedEventDetails"]
    assert (details["error"], details["cause"]) == ("Rejected", "release notes missing")


# 14. Percentile statistics in GetMetricData ----------------------------------------------------
def test_get_metric_data_answers_percentile_statistics(probe: Emulator) -> None:
    # Given moto's statistic calculator, with the signature the patch expects
    original = patches.ORIGINALS["Statistics.get_statistics_for_type"]
    assert _parameters(original) == ["self", "stat"]
    # and 100 latency datapoints: 98 fast, 2 slow
    cloudwatch = probe.client("cloudwatch")
    when = datetime.now(UTC) - timedelta(seconds=60)
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {"MetricName": "TargetResponseTime", "Timestamp": when, "Value": v}
            for v in [0.1] * 98 + [2.0, 3.0]
        ],
    )

    # When p50, p99 and p99.5 are asked for, with an ordinary statistic beside them
    def stat(query_id: str, statistic: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime"},
                "Period": 300,
                "Stat": statistic,
            },
        }

    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            stat("p50", "p50"),
            stat("p99", "p99"),
            stat("p995", "p99.5"),
            stat("max", "Maximum"),
        ],
        StartTime=when - timedelta(seconds=120),
        EndTime=when + timedelta(seconds=120),
    )

    # Then each percentile is the nearest-rank value, and Maximum is unchanged
    values = {r["Id"]: r["Values"] for r in answer["MetricDataResults"]}
    assert values == {"p50": [0.1], "p99": [2.0], "p995": [3.0], "max": [3.0]}


# 5 (rule state). A disabled EventBridge rule delivers nothing ---------------------------------
def test_a_disabled_rule_delivers_nothing(probe: Emulator) -> None:
    # Given a rule sending `probe` events to EchoFunction, disabled
    events = probe.client("events")
    events.put_rule(Name="echo-disabled", EventPattern=json.dumps({"source": ["probe"]}))
    events.put_targets(
        Rule="echo-disabled", Targets=[{"Id": "echo", "Arn": probe.function("EchoFunction").arn}]
    )
    events.disable_rule(Name="echo-disabled")

    # When a matching event is put, Then nothing is invoked
    events.put_events(Entries=[{"Source": "probe", "DetailType": "x", "Detail": "{}"}])
    assert _invocations(probe, "EchoFunction") == []

    # And once enabled again, the next one is delivered
    events.enable_rule(Name="echo-disabled")
    events.put_events(Entries=[{"Source": "probe", "DetailType": "x", "Detail": "{}"}])
    assert len(_invocations(probe, "EchoFunction")) == 1


def test_sdk_retry_back_off_takes_emulated_time(probe: Emulator, real_sleeps: list[float]) -> None:
    # Given botocore still sleeps between retries through its endpoint module's `time`
    from botocore import endpoint as botocore_endpoint
    from botocore.awsrequest import AWSResponse

    assert "time.sleep(" in inspect.getsource(botocore_endpoint.Endpoint._needs_retry)
    assert botocore_endpoint.time is not patches.ORIGINALS["botocore.endpoint.time"]
    assert isinstance(botocore_endpoint.time, patches.ClockTime)
    # and a DynamoDB endpoint that answers every request with a throttling error
    client = probe.client("dynamodb")
    attempts: list[int] = []

    class Raw:
        def stream(self, **_: object) -> Iterator[bytes]:
            yield (
                b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",'
                b'"message":"slow down"}'
            )

    def throttle(request: object, **_: object) -> AWSResponse:
        attempts.append(1)
        return AWSResponse("https://dynamodb.invalid/", 400, {}, Raw())

    client.meta.events.register("before-send.dynamodb.ListTables", throttle)
    waited_before = probe.clock.waited
    # When the client calls it
    with pytest.raises(client.exceptions.ClientError):
        client.list_tables()
    # Then it retried with back-off, and the back-off was emulated time, not real time
    assert len(attempts) > 1
    assert probe.clock.waited > waited_before
    assert max(real_sleeps, default=0.0) < 1, real_sleeps  # nothing really slept


# 8c. DescribeExecution keeps a stop's error and cause ---------------------------------------
def test_an_aborted_execution_describes_and_announces_the_stops_error_and_cause(
    probe: Emulator,
) -> None:
    # Given an execution waiting for a callback
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": probe.function("EchoFunction").arn,
                    "Payload": {"token.$": "$$.Task.Token"},
                },
                "End": True,
            }
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="asking", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    stopped = probe.start_execution(machine, {}, name="with-reason")
    silent = probe.start_execution(machine, {}, name="without-reason")
    _eventually(lambda: len(_invocations(probe, "EchoFunction")) == 2)

    # When one is stopped with an error and a cause, the other with neither
    sfn.stop_execution(executionArn=stopped, error="SwitchAborted", cause="bob: bad canary")
    sfn.stop_execution(executionArn=silent)

    # Then DescribeExecution shows the first's error and cause, and nothing for the second
    described = probe.wait_for_execution(stopped, timeout=10)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "SwitchAborted",
        "bob: bad canary",
    )
    quiet = probe.wait_for_execution(silent, timeout=10)
    assert quiet["status"] == "ABORTED"
    assert "error" not in quiet
    assert "cause" not in quiet
    # and the ABORTED status change events carry the same
    aborted = {
        e["detail"]["name"]: e["detail"]
        for e in probe.events
        if e["source"] == "aws.states" and e["detail"]["status"] == "ABORTED"
    }
    assert (aborted["with-reason"]["error"], aborted["with-reason"]["cause"]) == (
        "SwitchAborted",
        "bob: bad canary",
    )
    assert (aborted["without-reason"]["error"], aborted["without-reason"]["cause"]) == (None, None)


# 23. An execution's TimeoutSeconds counts its emulated time ---------------------------------
def test_an_execution_times_out_on_its_emulated_time(probe: Emulator) -> None:
    # Given moto's Program.eval, which joins the states' worker for TimeoutSeconds real seconds
    assert _parameters(patches.ORIGINALS["Program.eval"]) == ["self", "env"]
    assert "join(timeout=timeout)" in inspect.getsource(patches.ORIGINALS["Program.eval"])
    assert Program.eval is not patches.ORIGINALS["Program.eval"]
    # and a machine allowed a minute that bakes an hour before invoking EchoFunction
    definition = {
        "StartAt": "Bake",
        "TimeoutSeconds": 60,
        "States": {
            "Bake": {"Type": "Wait", "Seconds": 3600, "Next": "Call"},
            "Call": {"Type": "Task", "Resource": probe.function("EchoFunction").arn, "End": True},
        },
    }

    # When it runs
    described = _run_machine(probe, definition)

    # Then it timed out when its time reached the minute: the state after never ran
    assert described["status"] == "TIMED_OUT"
    assert _invocations(probe, "EchoFunction") == []
    history = probe.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"]
    )["events"]
    assert [e["type"] for e in history][-1] == "ExecutionTimedOut"


def test_an_execution_waiting_for_a_callback_times_out_when_the_accounts_time_moves(
    probe: Emulator,
) -> None:
    # Given an execution allowed ten minutes, waiting for a callback nobody sends
    definition = {
        "StartAt": "Ask",
        "TimeoutSeconds": 600,
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": probe.function("EchoFunction").arn,
                    "Payload": {"token.$": "$$.Task.Token"},
                },
                "End": True,
            }
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="waiting", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="unanswered")
    _eventually(lambda: len(_invocations(probe, "EchoFunction")) == 1)

    # When nine minutes and 59 seconds pass for the account, it still waits
    probe.clock.advance(599)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    # When the last second passes
    probe.clock.advance(1)

    # Then it is timed out, its history ending as Step Functions ends it
    assert probe.wait_for_execution(execution, timeout=10)["status"] == "TIMED_OUT"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in history][-1] == "ExecutionTimedOut"


# 24. Executions in flight: announced in order, waited for by Emulator.stop ------------------
def test_stopping_the_emulator_waits_for_its_executions_and_delivers_nothing_after(
    probe: Emulator,
) -> None:
    # Given moto's ExecutionWorker.start, which starts a thread nobody waits for
    assert _parameters(patches.ORIGINALS["ExecutionWorker.start"]) == ["self"]
    assert ExecutionWorker.start is not patches.ORIGINALS["ExecutionWorker.start"]
    # and a rule sending aborted executions to FailingFunction (retried, then dead-lettered)
    events = probe.client("events")
    pattern = {"source": ["aws.states"], "detail": {"status": ["ABORTED"]}}
    events.put_rule(Name="on-abort", EventPattern=json.dumps(pattern), State="ENABLED")
    failing = probe.function("FailingFunction").arn
    events.put_targets(Rule="on-abort", Targets=[{"Id": "failing", "Arn": failing}])
    # and an execution baking for an hour, on a clock that really waits
    probe.clock.scale = 1.0
    definition = {
        "StartAt": "Bake",
        "States": {"Bake": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    described_before: list[str] = []
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="long", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="still-baking")
    _eventually(lambda: probe.clock.waited == 3600)
    described_before.append(sfn.describe_execution(executionArn=execution)["status"])
    raised: list[BaseException | None] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: raised.append(args.exc_value)
    try:
        # When the emulator stops
        probe.stop()
    finally:
        threading.excepthook = previous_hook

    # Then the execution ended before the account went away, nothing raised in any
    # thread, and its ABORTED change was not delivered to a stopping account
    assert described_before == ["RUNNING"]
    assert probe.inflight.count == 0
    assert raised == []
    assert [d["outcome"] for d in probe.deliveries if d["rule"] == "on-abort"] == [
        "emulator stopping"
    ]
    assert _invocations(probe, "FailingFunction") == []
    # and its status changes were announced in the order they happened
    statuses = [e["detail"]["status"] for e in probe.events if e["source"] == "aws.states"]
    assert statuses == ["RUNNING", "ABORTED"]


# 25. Step Functions' 256 KiB payload quota --------------------------------------------------
def test_a_payload_over_256_kib_ends_the_execution_and_states_all_cannot_catch_it(
    probe: Emulator,
) -> None:
    # Given moto's quota check, error matcher and parameter builders, with their signatures
    assert _parameters(patches.ORIGINALS["quotas.is_within_size_quota"]) == ["value"]
    assert _parameters(patches.ORIGINALS["ErrorEqualsDecl._eval_body"]) == ["self", "env"]
    assert _parameters(patches.ORIGINALS["StateTask._eval_parameters"]) == ["self", "env"]
    assert _parameters(patches.ORIGINALS["StateTaskLambda._eval_parameters"]) == ["self", "env"]
    assert ErrorEqualsDecl._eval_body is not patches.ORIGINALS["ErrorEqualsDecl._eval_body"]
    echo = probe.function("EchoFunction").arn

    def pass_state_of(size: int) -> dict[str, Any]:
        blob = "x" * (size - len('{"blob":""}'))
        definition = {
            "StartAt": "Big",
            "States": {"Big": {"Type": "Pass", "Result": {"blob": blob}, "End": True}},
        }
        return _run_machine(probe, definition)

    def task(resource: str, parameters: dict[str, Any], catch: list[str]) -> dict[str, Any]:
        return {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": resource,
                    "Parameters": parameters,
                    "Catch": [{"ErrorEquals": catch, "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Succeed"},
            },
        }

    # When a state's output is exactly 262,144 bytes, and one byte more
    at_quota, over = pass_state_of(262_144), pass_state_of(262_145)
    # Then the first succeeds and the second fails the execution
    assert at_quota["status"] == "SUCCEEDED"
    assert (over["status"], over["error"]) == ("FAILED", "States.DataLimitExceeded")

    # When a task's result is over the quota, behind a Catch on States.ALL
    answer = {"FunctionName": echo, "Payload": {"blob": 300_000}}
    uncaught = _run_machine(probe, task("arn:aws:states:::lambda:invoke", answer, ["States.ALL"]))
    # Then States.ALL did not catch it; a Catch naming the error does
    assert (uncaught["status"], uncaught["error"]) == ("FAILED", "States.DataLimitExceeded")
    named = ["States.DataLimitExceeded"]
    caught = _run_machine(probe, task("arn:aws:states:::lambda:invoke", answer, named))
    assert caught["status"] == "SUCCEEDED"

    # When a task's input after Parameters is over the quota (each half is within it)
    doubled = {"a.$": "$.half", "b.$": "$.half"}
    half = {"half": "h" * 140_000}
    invocations = len(_invocations(probe, "EchoFunction"))
    sfn = probe.client("stepfunctions")
    role = _machine_role(probe)
    endings = []
    for name, resource, parameters in (
        (
            "integration",
            "arn:aws:states:::lambda:invoke",
            {"FunctionName": echo, "Payload": doubled},
        ),
        ("function", echo, doubled),
    ):
        machine = sfn.create_state_machine(
            name=f"doubling-{name}",
            definition=json.dumps(task(resource, parameters, ["States.ALL"])),
            roleArn=role,
        )["stateMachineArn"]
        run = probe.start_execution(machine, half, name="doubled")
        endings.append(probe.wait_for_execution(run, timeout=10))
    # Then both fail before the function is invoked
    assert [(e["status"], e["error"]) for e in endings] == [
        ("FAILED", "States.DataLimitExceeded")
    ] * 2
    assert len(_invocations(probe, "EchoFunction")) == invocations


# 26. A function's time.sleep is emulated time -----------------------------------------------
def test_a_functions_sleep_takes_its_invocations_emulated_time(probe: Emulator) -> None:
    # Given time.sleep is the emulator's, keeping the builtin
    original = patches.ORIGINALS["time.sleep"]
    assert time.sleep is not original
    assert (original.__module__, original.__name__) == ("time", "sleep")
    sleeper = probe.function("SleeperFunction").name

    # When SleeperFunction (900 s timeout) sleeps ten minutes
    ran = probe.runtime.invoke(sleeper, {"sleep": 600})

    # Then it returned, its context counted the ten minutes, and so did the clock
    assert ran.error_type is None
    assert ran.json()["remaining"] == [900_000, 300_000]
    assert ran.emulated_ms == 600_000
    assert probe.clock.waited == 600
    # and outside a function time.sleep sleeps as shipped (no emulated time)
    time.sleep(0.001)
    assert probe.clock.waited == 600


# 27. Slowed calls take emulated time; a killed sandbox makes none ---------------------------
def test_slowed_calls_take_emulated_time_and_a_killed_sandbox_makes_no_call(
    probe: Emulator,
) -> None:
    # Given the emulator's call timing first in botocore's handler list
    first = [
        (spec[0], spec[1])
        for spec in botocore.handlers.BUILTIN_HANDLERS
        if len(spec) == 3 and spec[2] is botocore.handlers.REGISTER_FIRST
    ]
    assert ("before-call", clock_patch._before_call) in first
    assert ("before-send", clock_patch._before_send) in first
    sleeper = probe.function("SleeperFunction").name

    # When ListQueues takes 40 s for the functions (under botocore's 60 s read timeout)
    with probe.slow("sqs", "ListQueues", 40):
        slow = probe.runtime.invoke(sleeper, {"calls": 2}).json()
    # Then each call took 40 s of the invocation's time
    assert slow == {"remaining": [900_000, 860_000, 820_000, 820_000]}

    # When it takes longer than the read timeout
    with probe.slow("sqs", "List*", 61):
        timed_out = probe.runtime.invoke(sleeper, {"calls": 1}).json()
    # Then each attempt failed after 60 s, and the SDK's retries ended in ReadTimeoutError
    assert timed_out["error"] == "ReadTimeoutError"
    spent = 900_000 - timed_out["remaining"][-1]
    assert spent >= 2 * 60_000  # retried at least once, each attempt waited its 60 s

    # When the function's time runs out while it sleeps, with a call in its `finally`
    listed = len([d for d in probe.iam.decisions if d.action == "sqs:ListQueues"])
    killed = probe.runtime.invoke(sleeper, {"sleep": 901, "call_in_finally": True})
    # Then it ended as Lambda ends it, and the call never reached the account
    assert killed.error_type == "Sandbox.Timedout"
    assert killed.emulated_ms == 900_000
    assert len([d for d in probe.iam.decisions if d.action == "sqs:ListQueues"]) == listed


# 28. DynamoDB counts an item's size as DynamoDB documents it --------------------------------
def test_an_item_is_sized_as_dynamodb_documents_it(probe: Emulator) -> None:
    # Given moto's size-checking attribute map, patched
    assert _parameters(patches.ORIGINALS["LimitedSizeDict.__setitem__"]) == ["self", "key", "value"]
    assert LimitedSizeDict.__setitem__ is not patches.ORIGINALS["LimitedSizeDict.__setitem__"]
    # Then sizes follow "DynamoDB item sizes and formats"
    assert dynamodb_patch.item_size({"pk": {"S": "héllo"}}) == 2 + 6
    assert dynamodb_patch.item_size({"n": {"N": "123.4500"}}) == 1 + 3 + 1  # 5 digits
    assert dynamodb_patch.item_size({"n": {"N": "-0.001"}}) == 1 + 1 + 1
    assert dynamodb_patch.item_size({"b": {"B": "AAEC"}}) == 1 + 3  # 3 raw bytes
    assert dynamodb_patch.item_size({"t": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert dynamodb_patch.item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + 3 + 3
    assert dynamodb_patch.item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + 1 + 1 + 1
    assert dynamodb_patch.item_size({"ss": {"SS": ["a", "bc"]}}) == 2 + 3


# 29. Lambda's synchronous payload quotas ----------------------------------------------------
def test_invoke_refuses_requests_and_answers_over_lambdas_quotas(probe: Emulator) -> None:
    # Given moto's Invoke handler, a method of the request alone
    assert _parameters(patches.ORIGINALS["LambdaResponse.invoke"]) == ["self"]
    assert LambdaResponse.invoke is not patches.ORIGINALS["LambdaResponse.invoke"]
    lam = probe.client("lambda")
    echo = probe.function("EchoFunction").name

    # When a request of 6 MB and a byte is sent
    payload = json.dumps({"pad": "p" * (6 * 1024 * 1024 + 1 - len('{"pad":""}'))})
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=echo, Payload=payload.encode())
    # Then it is refused as Lambda refuses it (a code botocore does not model)
    error = refused.value.response
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "Request must be smaller than 6291456 bytes" in error["Error"]["Message"]

    # When the answer (as the runtime serializes it: `{"blob": "zz..."}`) is 6,291,556
    # bytes exactly, and a byte more
    exact = lam.invoke(FunctionName=echo, Payload=json.dumps({"blob": 6_291_556 - 12}))
    over = lam.invoke(FunctionName=echo, Payload=json.dumps({"blob": 6_291_556 - 11}))
    # Then the first comes back whole, the second as Lambda's size error
    assert "FunctionError" not in exact
    assert len(exact["Payload"].read()) == 6_291_556
    assert over["FunctionError"] == "Unhandled"
    assert json.loads(over["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


# 31. States are stamped with the emulator's clock ------------------------------------------
def test_a_states_entered_time_counts_the_waits_the_clock_skipped(
    probe: Emulator, real_sleeps: list[float]
) -> None:
    # Given moto's state module reading `datetime.datetime.now` for `$$.State.EnteredTime`
    from moto.stepfunctions.parser.asl.component.state import state as asl_state

    assert "datetime.datetime.now(tz=" in inspect.getsource(asl_state)
    assert patches.ORIGINALS["asl_state.datetime"] is datetime_module
    assert asl_state.datetime is not patches.ORIGINALS["asl_state.datetime"]
    # and a machine that notes its entered time, waits five minutes, and notes it again
    definition = {
        "StartAt": "Before",
        "States": {
            "Before": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"},
                       "ResultPath": "$.before", "Next": "Bake"},
            "Bake": {"Type": "Wait", "Seconds": 300, "Next": "After"},
            "After": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"},
                      "ResultPath": "$.after", "End": True},
        },
    }  # fmt: skip
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="entered-time", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]

    # When it runs on the emulator, whose clock skips the wait
    execution = probe.start_execution(machine, {}, name="entered-time")
    described = probe.wait_for_execution(execution, timeout=30)

    # Then the second state was entered five emulated minutes after the first, in far less
    # real time
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])

    def entered(key: str) -> datetime:
        return datetime.fromisoformat(output[key]["at"].replace("Z", "+00:00"))

    assert (entered("after") - entered("before")).total_seconds() >= 300
    assert max(real_sleeps, default=0.0) < 1, real_sleeps  # nothing really slept


# 32. A request an actor sends carries its emulated time to the emulated ALB -----------------
def test_the_alb_stamps_a_request_with_the_time_its_sender_is_at(probe: Emulator) -> None:
    # Given http.client's request line, patched to add the sender's emulated time
    original = patches.ORIGINALS["HTTPConnection.putrequest"]
    assert _parameters(original)[:3] == ["self", "method", "url"]
    assert http.client.HTTPConnection.putrequest is not original
    # and an ALB whose one target group answers
    ec2, elbv2 = probe.client("ec2"), probe.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    alb = elbv2.create_load_balancer(Name="sent-alb", Subnets=subnets)["LoadBalancers"][0]
    group = elbv2.create_target_group(Name="sent-web", Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    probe.alb_http.respond(group, status=200, body="ok")
    url = f"http://{alb['DNSName']}/"

    # When an invocation that has waited ten emulated minutes sends a request, and the
    # test (on no actor's timeline) sends another
    sender = probe.clock.invocation("sender", 900)
    try:
        with clocks.running_on(sender):
            probe.clock.sleep(600)
            sent_at = probe.clock.epoch()
            urllib.request.urlopen(url, timeout=5).read()
    finally:
        clocks.ended(sender)
    urllib.request.urlopen(url, timeout=5).read()

    # Then each request is counted in the minute its sender was at, ten minutes apart
    def requests(start: float, end: float) -> float:
        answer = probe.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/ApplicationELB",
            MetricName="RequestCount",
            Dimensions=[
                {"Name": "TargetGroup", "Value": group.split(":", 5)[5]},
                {"Name": "LoadBalancer", "Value": alb["LoadBalancerArn"].split("loadbalancer/")[1]},
            ],
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(end, UTC),
            Period=60,
            Statistics=["Sum"],
        )
        return sum(point["Sum"] for point in answer["Datapoints"])

    assert sent_at - probe.clock.epoch() >= 600
    assert requests(sent_at - 60, sent_at + 60) == 1
    assert requests(probe.clock.epoch() - 60, probe.clock.epoch() + 60) == 1


# 33. CloudFormation stacks deploy through the emulator's deployer --------------------------
def test_cloudformation_stacks_deploy_through_the_emulators_deployer(probe: Emulator) -> None:
    # Given moto's create_stack and ChangeSet.apply, with the signatures the patch expects
    assert _parameters(patches.ORIGINALS["CloudFormationBackend.create_stack"])[:4] == [
        "self",
        "name",
        "template",
        "parameters",
    ]
    assert _parameters(patches.ORIGINALS["ChangeSet.apply"]) == ["self"]
    assert (
        CloudFormationBackend.create_stack
        is not (patches.ORIGINALS["CloudFormationBackend.create_stack"])
    )
    assert ChangeSet.apply is not patches.ORIGINALS["ChangeSet.apply"]
    cloudformation = probe.client("cloudformation")
    template = {
        "Parameters": {"Cidr": {"Type": "String", "Default": "10.8.0.0/16"}},
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": {  # the VPC's first /24
                        "Fn::Join": [
                            "",
                            [{"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "Cidr"}]}]}, "/24"],
                        ]
                    },
                    "AvailabilityZone": {"Fn::Select": [1, {"Fn::GetAZs": ""}]},
                },
            },
        },
        "Outputs": {"SubnetZone": {"Value": {"Fn::GetAtt": ["Subnet", "AvailabilityZone"]}}},
    }

    # When one stack is created directly and another through a CREATE change set
    cloudformation.create_stack(StackName="direct", TemplateBody=json.dumps(template))
    change_set = cloudformation.create_change_set(
        StackName="reviewed",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.9.0.0/16"}],
    )
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])

    # Then both were deployed by the emulator: their outputs are its resolved values
    for name, cidr in (("direct", "10.8.0.0/16"), ("reviewed", "10.9.0.0/16")):
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert stack["Outputs"][0]["OutputValue"] == "us-east-1b"
        vpcs = probe.client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": [cidr]}])
        assert len(vpcs["Vpcs"]) == 1
    # and what it cannot deploy is refused by name, as a validation error
    with pytest.raises(ClientError) as refused:
        cloudformation.create_stack(
            StackName="database",
            TemplateBody=json.dumps({"Resources": {"Db": {"Type": "AWS::RDS::DBInstance"}}}),
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "cannot deploy: ['AWS::RDS::DBInstance']" in str(refused.value)
    # and an update change set is refused: the emulator deploys a stack once
    update = cloudformation.create_change_set(
        StackName="direct",
        ChangeSetName="second",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.10.0.0/16"}],
    )
    with pytest.raises(ClientError, match="does not update it"):
        cloudformation.execute_change_set(ChangeSetName=update["Id"])


# 34. GetDeploymentGroup answers the alarms and Auto Scaling groups ------------------------
def test_a_deployment_group_answers_its_alarms_and_auto_scaling_groups(probe: Emulator) -> None:
    # Given moto's deployment group view, with the signature the patch expects
    assert _parameters(patches.ORIGINALS["codedeploy_responses._deployment_group_info"]) == [
        "deployment_group"
    ]
    codedeploy = probe.client("codedeploy")
    codedeploy.create_application(applicationName="app", computePlatform="Server")
    alarms = {"enabled": True, "alarms": [{"name": "app-5xx"}]}

    # When a group is created with alarms and an Auto Scaling group
    codedeploy.create_deployment_group(
        applicationName="app",
        deploymentGroupName="fleet",
        serviceRoleArn=f"arn:aws:iam::{probe.account_id}:role/codedeploy-service",
        autoScalingGroups=["app-green"],
        alarmConfiguration=alarms,
    )

    # Then GetDeploymentGroup answers both as CodeDeploy does
    info = codedeploy.get_deployment_group(applicationName="app", deploymentGroupName="fleet")[
        "deploymentGroupInfo"
    ]
    assert info["alarmConfiguration"] == alarms
    assert info["autoScalingGroups"] == [{"name": "app-green"}]


# 33. A task's own TimeoutSeconds and HeartbeatSeconds on the execution's clock -------------
def test_a_tasks_heartbeat_is_timed_on_the_executions_clock(probe: Emulator) -> None:
    # Given moto's timed waits of a task, and its heartbeat error, patched
    original = patches.ORIGINALS["ExecutionState._evaluate_with_timeout"]
    assert "terminated_event.wait(timeout_seconds)" in inspect.getsource(original)
    module = inspect.getmodule(original)
    assert module is not None
    assert module.threading is not patches.ORIGINALS["execute_state.threading"]
    assert _parameters(patches.ORIGINALS["CallbackEndpoint.wait"]) == ["self", "timeout"]
    assert _parameters(patches.ORIGINALS["HeartbeatEndpoint.clear_and_wait"]) == ["self"]
    assert _parameters(patches.ORIGINALS["StateTask._from_error"]) == ["self", "env", "ex"]
    assert _parameters(patches.ORIGINALS["HeartbeatEndpoint.notify"]) == ["self"]
    setup = patches.ORIGINALS["CallbackEndpoint.setup_heartbeat_endpoint"]
    assert _parameters(setup) == ["self", "heartbeat_seconds"]
    assert _parameters(patches.ORIGINALS["CallbackPoolManager.add"]) == ["self", "callback_id"]
    # and an execution waiting for a callback, with 10 s heartbeats
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": probe.function("EchoFunction").arn,
                    "Payload": {"token.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 60,
                "HeartbeatSeconds": 10,
                "End": True,
            }
        },
    }
    sfn = probe.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="beating", definition=json.dumps(definition), roleArn=_machine_role(probe)
    )["stateMachineArn"]
    execution = probe.start_execution(machine, {}, name="no-heartbeat")
    _eventually(lambda: len(_invocations(probe, "EchoFunction")) == 1)

    # When the execution's time moves past a heartbeat's window (counted from the task's
    # start, however soon after its function answered the time moves)
    probe.clock.advance(10)

    # Then the task failed with States.HeartbeatTimeout, as Step Functions names it
    ended = probe.wait_for_execution(execution, timeout=10)
    assert (ended["status"], ended["error"]) == ("FAILED", "States.HeartbeatTimeout")


# 34. A function's time.time ----------------------------------------------------------------
def test_time_time_is_the_invocations_emulated_date_and_real_elsewhere(probe: Emulator) -> None:
    # Given time.time patched, and an invocation 90 s into its own time, an hour after
    # the account began
    assert time.time is not patches.ORIGINALS["time.time"]
    probe.clock.advance(3600)
    invocation = probe.clock.invocation("EchoFunction", 900.0)
    invocation.advance(90)

    # When time.time is read on the invocation's thread, and on another one
    try:
        with clocks.running_on(invocation):
            inside = time.time()
    finally:
        clocks.ended(invocation)
    outside = time.time()

    # Then inside it is the invocation's emulated date; outside, the real clock's
    assert inside == pytest.approx(probe.clock.origin + 3600 + 90, abs=1e-6)
    assert outside < probe.clock.origin + 3600


# 39-41. Request dispatch: method names, action names and request ids, done once -----------
def test_request_dispatch_keeps_moto_answers_at_less_cost(probe: Emulator) -> None:
    # Given moto's per-request helpers, still the functions call_action uses
    names = patches.ORIGINALS["moto_responses.method_names_from_class"]
    underscores = patches.ORIGINALS["moto_responses.camelcase_to_underscores"]
    enrich = patches.ORIGINALS["BaseResponse._enrich_response"]
    assert _parameters(names) == ["clazz"]
    assert _parameters(underscores) == ["argument"]
    assert _parameters(enrich) == ["headers", "body"]
    assert moto_responses.method_names_from_class is not names
    assert moto_responses.camelcase_to_underscores is not underscores

    # Then the cached helpers answer what moto's own answer
    assert moto_responses.method_names_from_class(StepFunctionResponse) == frozenset(
        names(StepFunctionResponse)
    )
    for action in ("DescribeExecution", "TransactWriteItems", "GetMetricData", "ModifyRule"):
        assert moto_responses.camelcase_to_underscores(action) == underscores(action)

    # and the request id is a fresh 32-hex-digit id in the header and in an XML body,
    # while a JSON body is left as it was
    headers, body = moto_responses.BaseResponse._enrich_response(
        {"status": 200}, "<R><RequestId>old</RequestId></R>"
    )
    request_id = headers["x-amzn-requestid"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert (headers["status"], body) == ("200", f"<R><RequestId>{request_id}</RequestId></R>")
    again, json_body = moto_responses.BaseResponse._enrich_response({}, '{"a": "<b>"}')
    assert again["x-amzn-requestid"] != request_id and json_body == '{"a": "<b>"}'

    # and a real call through the patched dispatch answers with that id
    answer = probe.client("sqs").list_queues()
    assert re.fullmatch(r"[0-9a-f]{32}", answer["ResponseMetadata"]["RequestId"])
