"""The emulator refuses what AWS refuses: Step Functions' 256 KiB payload, DynamoDB's
400 KB item, Lambda's timeout and its 6 MB synchronous payload. Each limit is attacked on
both sides of its boundary, and the product is shown to survive the one it can meet in a
real switch (a state growing past 256 KiB mid-bake: only the reaper can end it).

The limits themselves come from the AWS documentation (docs/emulator.md names each page).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from textwrap import dedent
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from bluegreen_emulator import Emulator
from bluegreen_emulator.core import identity
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    everything_on,
    locks_and_guards,
    production,
    record,
    start_switch,
)

pytestmark = pytest.mark.integration

STATE_QUOTA = 256 * 1024  # bytes of a state's input or output
ITEM_QUOTA = 400 * 1024  # bytes of a DynamoDB item, names and values
SYNC_REQUEST = 6 * 1024 * 1024  # bytes of a synchronous Invoke request
SYNC_RESPONSE = 6_291_556  # bytes of a synchronous answer (the figure Lambda's error gives)


# -- a small stack of its own for the Lambda limits -----------------------------------------
_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: worker/
      Timeout: 3
      Policies:
        - Statement:
            - Effect: Allow
              Action: sqs:ListQueues
              Resource: "*"  # ListQueues has no resource-level permissions
"""
_WORKER = """
import time
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    if "answer" in event:
        return {"blob": "z" * event["answer"]}  # an answer of that many bytes and 12
    try:
        time.sleep(event.get("work", 0))
        sqs.list_queues()
        return {"remaining": context.get_remaining_time_in_millis()}
    finally:
        sqs.list_queues()  # cleaning up: a sandbox killed at its timeout never gets here
"""


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Emulator]:
    """An emulated account whose WorkerFunction (3 s timeout) works `work` seconds, calls
    SQS, and calls it again while cleaning up; or answers `answer` bytes."""
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "app.py").write_text(dedent(_WORKER), encoding="utf-8")
    (tmp_path / "template.yaml").write_text(_TEMPLATE, encoding="utf-8")
    with Emulator(template=tmp_path / "template.yaml", stack_name="limits") as aws:
        yield aws


def _sqs_calls(aws: Emulator) -> int:
    """Calls that reached the account's SQS (every one is authorized, so counted here)."""
    return len([d for d in aws.iam.decisions if d.action == "sqs:ListQueues"])


# -- Lambda: the timeout ----------------------------------------------------------------------
def test_an_invocation_past_its_timeout_ends_timed_out_and_makes_no_call_after(
    worker: Emulator,
) -> None:
    # Given WorkerFunction, allowed 3 s
    lam = worker.client("lambda")
    name = worker.function("WorkerFunction").name

    # When it works 2.5 s (emulated), then 3.5 s
    in_time = lam.invoke(FunctionName=name, Payload=json.dumps({"work": 2.5}))
    calls_before = _sqs_calls(worker)
    too_long = lam.invoke(FunctionName=name, Payload=json.dumps({"work": 3.5}))

    # Then the first answers with half a second left
    assert "FunctionError" not in in_time
    assert json.loads(in_time["Payload"].read()) == {"remaining": 500}
    # and the second ends as Lambda ends it
    assert too_long["FunctionError"] == "Unhandled"
    error = json.loads(too_long["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Error: Task timed out after 3.00 seconds")
    assert error["errorMessage"].startswith("RequestId: ")
    # and neither its work's call nor its clean-up's reached the account
    assert _sqs_calls(worker) == calls_before
    # and its log says so, as Lambda's does
    (killed,) = [i for i in worker.runtime.history if i.error_type == "Sandbox.Timedout"]
    assert killed.emulated_ms == 3000


def test_a_task_whose_function_times_out_fails_with_lambdas_error(worker: Emulator) -> None:
    # Given a state machine whose task invokes WorkerFunction for 4 s of work
    sfn = worker.client("stepfunctions")
    iam = worker.client("iam")
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
    role = iam.create_role(RoleName="limits-machine", AssumeRolePolicyDocument=json.dumps(trust))
    arn = worker.function("WorkerFunction").arn
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn}],
    }
    iam.put_role_policy(
        RoleName="limits-machine", PolicyName="invoke", PolicyDocument=json.dumps(policy)
    )
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload": {"work": 4}},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name="working", definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
    )["stateMachineArn"]

    # When it runs
    ended = worker.wait_for_execution(worker.start_execution(machine, {}, name="w1"))

    # Then the task failed with Lambda's timeout error, as Step Functions reports it
    assert (ended["status"], ended["error"]) == ("FAILED", "Sandbox.Timedout")
    assert "Task timed out after 3.00 seconds" in ended["cause"]


# -- Lambda: the 6 MB synchronous payload -------------------------------------------------------
def test_a_synchronous_request_over_6_mb_is_refused_and_one_at_the_limit_runs(
    worker: Emulator,
) -> None:
    # Given requests of exactly 6,291,456 bytes and one byte more
    lam = worker.client("lambda")
    name = worker.function("WorkerFunction").name

    def request(size: int) -> bytes:
        pad = "p" * (size - len('{"answer":1,"pad":""}'))
        return json.dumps({"answer": 1, "pad": pad}, separators=(",", ":")).encode()

    # When each is sent
    at_limit = lam.invoke(FunctionName=name, Payload=request(SYNC_REQUEST))
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=name, Payload=request(SYNC_REQUEST + 1))

    # Then the first runs, and the second is refused before the function runs
    assert "FunctionError" not in at_limit
    assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert refused.value.response["Error"]["Message"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    assert len(worker.runtime.history) == 1


def test_a_synchronous_answer_over_the_limit_is_lambdas_size_error(worker: Emulator) -> None:
    # Given answers (serialized `{"blob": "zz..."}`) of exactly the limit and a byte more
    lam = worker.client("lambda")
    name = worker.function("WorkerFunction").name

    # When each is asked for
    exact = lam.invoke(FunctionName=name, Payload=json.dumps({"answer": SYNC_RESPONSE - 12}))
    over = lam.invoke(FunctionName=name, Payload=json.dumps({"answer": SYNC_RESPONSE - 11}))

    # Then the first comes back whole, the second is a function error naming the limit
    assert "FunctionError" not in exact
    assert len(exact["Payload"].read()) == SYNC_RESPONSE
    assert over["FunctionError"] == "Unhandled"
    assert json.loads(over["Payload"].read()) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


# -- DynamoDB: the 400 KB item ------------------------------------------------------------------
def _item(size: int, name: str = "blob") -> dict[str, Any]:
    """An item of the deployments table of exactly `size` bytes as DynamoDB counts them:
    pk (2 + 4) + sk (2 + 1) + `name` + its string value."""
    fixed = 2 + len("ITEM") + 2 + len("1") + len(name)
    return {"pk": {"S": "ITEM"}, "sk": {"S": "1"}, name: {"S": "v" * (size - fixed)}}


def test_an_item_of_400_kb_is_stored_and_one_byte_more_is_refused(aws: Emulator) -> None:
    # Given the stack's deployments table
    dynamodb = aws.client("dynamodb")
    table = aws.output("DeploymentsTableName")

    # When an item of exactly 409,600 bytes is put, then one of 409,601
    dynamodb.put_item(TableName=table, Item=_item(ITEM_QUOTA))
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=table, Item={**_item(ITEM_QUOTA + 1), "sk": {"S": "2"}})

    # Then the first is stored whole and the second refused, as DynamoDB refuses it
    stored = dynamodb.get_item(TableName=table, Key={"pk": {"S": "ITEM"}, "sk": {"S": "1"}})
    assert stored["Item"] == _item(ITEM_QUOTA)
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Item size has exceeded the maximum allowed size",
    }
    missing = dynamodb.get_item(TableName=table, Key={"pk": {"S": "ITEM"}, "sk": {"S": "2"}})
    assert "Item" not in missing


def test_attribute_names_count_toward_the_item_size(aws: Emulator) -> None:
    # Given an item at the limit with a one-letter attribute name
    dynamodb = aws.client("dynamodb")
    table = aws.output("DeploymentsTableName")
    at_limit = _item(ITEM_QUOTA, name="b")
    dynamodb.put_item(TableName=table, Item=at_limit)

    # When the same value is stored under a two-letter name
    renamed = {**at_limit, "sk": {"S": "2"}, "bb": at_limit["b"]}
    del renamed["b"]

    # Then the one byte of the longer name is one byte too many
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        dynamodb.put_item(TableName=table, Item=renamed)


def test_an_update_that_grows_an_item_past_400_kb_is_refused_whole(aws: Emulator) -> None:
    # Given an item 20 bytes under the limit, with a nested map and a list
    dynamodb = aws.client("dynamodb")
    table = aws.output("DeploymentsTableName")
    key = {"pk": {"S": "ITEM"}, "sk": {"S": "1"}}
    # n (1 + 3 for the map + 1 + 1 + 2 for {"k": "v"}) and steps (5 + 3 for an empty list)
    extra = {"n": {"M": {"k": {"S": "v"}}}, "steps": {"L": []}}
    base = _item(ITEM_QUOTA - 20 - (1 + 3 + 1 + 1 + 1) - (5 + 3))
    dynamodb.put_item(TableName=table, Item={**base, **extra})

    # When an update sets a nested value and appends to the list, 21 bytes in all
    # (n.k grows by 9, steps gains an element of 1 + 11)
    with pytest.raises(ClientError) as refused:
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET n.k = :big, steps = list_append(steps, :step)",
            ExpressionAttributeValues={":big": {"S": "v" * 10}, ":step": {"L": [{"S": "s" * 11}]}},
        )
    # Then it is refused as DynamoDB refuses it, and nothing of it was applied
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Item size to update has exceeded the maximum allowed size",
    }
    assert dynamodb.get_item(TableName=table, Key=key)["Item"] == {**base, **extra}

    # When the same update is one byte smaller (a 10-byte step), it is applied
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET n.k = :big, steps = list_append(steps, :step)",
        ExpressionAttributeValues={":big": {"S": "v" * 10}, ":step": {"L": [{"S": "s" * 10}]}},
    )
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    assert item["n"] == {"M": {"k": {"S": "v" * 10}}}
    assert item["steps"] == {"L": [{"S": "s" * 10}]}


# -- Step Functions: 256 KiB, and the product surviving it --------------------------------------
@contextmanager
def gate_answers_grown(aws: Emulator, padding: int) -> Iterator[list[str]]:
    """The switch's Gate task gets its function's answer with `padding` bytes added, as a
    botocore hook on the execution's own Lambda client (a task's answer, tampered with).
    Yields the executions it tampered for."""
    gate = aws.function("GateFunction").arn
    role = aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=aws.output("SwitchStateMachineArn")
    )["roleArn"]
    grown: list[str] = []

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["function"] = params.get("FunctionName")

    def grow(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if identity.current() != role or context.get("function") != gate:
            return
        answer = json.loads(parsed["Payload"].read())
        answer["padding"] = "x" * padding
        body = json.dumps(answer).encode()
        parsed["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        grown.append(str(context["function"]))

    events = boto3._get_default_session()._session.get_component("event_emitter")
    events.register("before-parameter-build.lambda.Invoke", remember)
    events.register("after-call.lambda.Invoke", grow)
    try:
        yield grown
    finally:
        events.unregister("before-parameter-build.lambda.Invoke", remember)
        events.unregister("after-call.lambda.Invoke", grow)


def test_a_state_over_256_kib_mid_bake_is_reaped_with_traffic_restored(aws: Emulator) -> None:
    # Given a 10 % canary whose Gate, after the bake, gets an answer grown past 256 KiB
    fleet = build_ec2_fleet(aws, with_http=False)
    request = fleet.request(strategy={"type": "canary", "percent": 10, "bakeSeconds": 300})

    # When the switch runs
    with gate_answers_grown(aws, padding=STATE_QUOTA) as grown:
        execution = start_switch(aws, request, name="grown-1")
        ended = aws.wait_for_execution(execution)
        aws.idle()  # its status change delivered: the reaper has run

    # Then the execution failed with the error no Catch of the machine could take
    assert grown == [aws.function("GateFunction").arn]
    assert (ended["status"], ended["error"]) == ("FAILED", "States.DataLimitExceeded")
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=execution, maxResults=1000
    )["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered[-2:] == ["Bake", "Gate"]  # RollBack never entered
    # and the reaper put traffic back on the snapshot, read back from the load balancer
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    # and recorded it so, with why it ended, and let go of the listeners and alarms
    saved = record(aws, "grown-1")
    assert saved is not None
    assert saved["status"] == "ROLLED_BACK"
    assert saved["outcome"]["actor"]["kind"] == "reaper"
    assert saved["outcome"]["error"] == "States.DataLimitExceeded"
    assert saved["outcome"]["failedAt"] == "Gate (failed)"
    assert locks_and_guards(aws, fleet) == []
