"""People told: the stack's switch events reach an SNS topic as readable messages.

The stack is deployed with `NotificationTopicArn`; an SQS queue subscribed to that topic
(moto delivers SNS to SQS) reads what a person's email or chat would show. The switches
are real (state machine, task functions, alarm rollback); EventBridge delivers their
events to the real notifier function.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet

pytestmark = pytest.mark.integration

TOPIC = "arn:aws:sns:us-east-1:123456789012:ops-deployments"


@pytest.fixture
def told() -> Iterator[tuple[Emulator, str]]:
    """A stack that notifies TOPIC, and the URL of a queue subscribed to it."""
    with Emulator(parameters={"NotificationTopicArn": TOPIC}) as aws:
        topic = aws.client("sns").create_topic(Name="ops-deployments")["TopicArn"]
        assert topic == TOPIC
        sqs = aws.client("sqs")
        url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        aws.client("sns").subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=queue_arn)
        yield aws, url


def inbox(aws: Emulator, url: str) -> list[dict[str, Any]]:
    """Every SNS notification in the queue, oldest first (subject, body, attributes)."""
    sqs = aws.client("sqs")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for item in batch:
            found.append(json.loads(item["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=item["ReceiptHandle"])


def test_a_switch_that_goes_live_tells_who_started_it_and_what_moved(
    told: tuple[Emulator, str],
) -> None:
    # Given a stack that notifies a topic, and an EC2 fleet live on blue
    aws, url = told
    fleet = build_ec2_fleet(aws)

    # When a canary switch runs to the end
    run = aws.start_execution(aws.output("SwitchStateMachineArn"), fleet.request(), "rel-42")
    assert aws.wait_for_execution(run)["status"] == "SUCCEEDED"

    # Then people got two messages: started, then succeeded, each saying what and who
    messages = inbox(aws, url)
    assert [m["Subject"] for m in messages] == [
        "[bluegreen] EC2 rel-42 started: shop-blue -> shop-green",
        "[bluegreen] EC2 rel-42 succeeded: shop-blue -> shop-green",
    ]
    started, succeeded = (m["Message"] for m in messages)
    assert "Who:    demo@example.com" in started
    assert "Steps:  10% -> 100%" in started
    assert "Live:   shop-green" in succeeded
    assert "bluegreen status rel-42" in succeeded
    assert ":execution:bluegreen-switch:rel-42" in succeeded
    assert "#dashboards/dashboard/bluegreen-deployments" in succeeded
    # and a subscription can filter on the event's kind
    attributes = messages[1]["MessageAttributes"]
    assert attributes["detailType"]["Value"] == "Switch Succeeded"
    assert attributes["deploymentId"]["Value"] == "rel-42"


def test_a_rollback_says_why_and_an_approval_says_how_to_answer(
    told: tuple[Emulator, str],
) -> None:
    # Given a switch that waits for approval, and is then rejected
    aws, url = told
    fleet = build_ec2_fleet(aws, with_http=False)
    request = fleet.request(approval={"required": True})
    run = aws.start_execution(aws.output("SwitchStateMachineArn"), request, "rel-43")
    sfn = aws.client("stepfunctions")
    waiting: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not any("waits for approval" in m["Subject"] for m in waiting):
        assert time.monotonic() < deadline, "the switch never asked for approval"
        threading.Event().wait(0.02)
        waiting += inbox(aws, url)
    history = sfn.get_execution_history(executionArn=run, maxResults=1000)["events"]
    (parameters,) = (
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in history
        if e["type"] == "TaskScheduled"
        and "taskToken" in e["taskScheduledEventDetails"]["parameters"]
    )
    token = parameters["Payload"]["taskToken"]
    sfn.send_task_failure(taskToken=token, error="SwitchRejected", cause="rejected by carol")
    aws.wait_for_execution(run)

    # Then the approval message says how to answer, and never carries the task token
    approval = next(m for m in waiting if "waits for approval" in m["Subject"])
    assert "bluegreen approve rel-43" in approval["Message"]
    assert token not in approval["Message"]
    # and the rollback message says where it failed and why, and that traffic is back
    rolled = next(m for m in inbox(aws, url) if "ROLLED BACK" in m["Subject"])
    assert rolled["Subject"] == "[bluegreen] EC2 rel-43 ROLLED BACK: shop-blue -> shop-green"
    assert "failed at: WaitForApproval" in rolled["Message"]
    assert "rejected by carol" in rolled["Message"]
    assert "traffic was restored to the snapshot" in rolled["Message"]


def test_a_failed_switch_event_reaches_people_with_its_figures(
    told: tuple[Emulator, str],
) -> None:
    # Given the switch's ending announces a failure (as it does when a restore is refused)
    aws, url = told
    detail = {
        "deploymentId": "rel-44",
        "platform": "ECS",
        "from": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41",
        "to": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42",
        "failedAt": "EcsAbort",
        "cause": "StopServiceDeployment refused: AccessDenied",
        "durationSeconds": 412,
        "steps": [10, 100],
    }

    # When it is put on the stack's bus
    aws.client("events").put_events(
        Entries=[
            {
                "Source": "bluegreen",
                "DetailType": "Switch Failed",
                "Detail": json.dumps(detail),
                "EventBusName": "default",
            }
        ]
    )

    # Then the message names the failure, its cause, and the figures the event gave
    (failed,) = inbox(aws, url)
    assert failed["Subject"] == "[bluegreen] ECS rel-44 FAILED: web:41 -> web:42"
    body = failed["Message"]
    assert "cause:     StopServiceDeployment refused: AccessDenied" in body
    assert "durationSeconds: 412" in body
    assert "traffic may not be where the switch left it" in body


def test_the_alarms_that_tell_people_point_at_the_topic(told: tuple[Emulator, str]) -> None:
    aws, _ = told
    alarms = {a["AlarmName"]: a for a in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    for name in (
        "bluegreen-alarm-rollback-dead-letters",
        "bluegreen-switch-failed",
        "bluegreen-notifier-errors",
    ):
        assert alarms[name]["AlarmActions"] == [TOPIC], name
    assert alarms["bluegreen-switch-failed"]["OKActions"] == [TOPIC]


def test_without_a_topic_nothing_is_created_to_tell_anyone(aws: Emulator) -> None:
    # Given the stack deployed without NotificationTopicArn
    functions = {spec.logical_id for spec in aws.runtime.functions.values()}
    rules = {r["Name"] for r in aws.client("events").list_rules()["Rules"]}
    alarms = {a["AlarmName"]: a for a in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}

    # Then no notifier, no rule for it, no alarm on it; the alarms that always exist have
    # no action, and the dashboard is there
    assert "NotifierFunction" not in functions
    assert "bluegreen-notify" not in rules
    assert "bluegreen-notifier-errors" not in alarms
    assert alarms["bluegreen-switch-failed"]["AlarmActions"] == []
    assert alarms["bluegreen-alarm-rollback-dead-letters"]["AlarmActions"] == []
    dashboards = aws.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert [d["DashboardName"] for d in dashboards] == ["bluegreen-deployments"]
