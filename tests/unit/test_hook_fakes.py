"""Fakes shared by the hook and check unit tests: in-memory AWS clients (only the calls
the checks make), an HTTP transport, a Lambda context and an idempotency store.

No test lives here; `test_hook_*.py` and `test_checks*.py` import these."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from botocore.exceptions import ClientError

from bluegreen.checks.http import HttpAnswer

CLUSTER, SERVICE = "web-cluster", "web"
BLUE_TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/1111"
GREEN_TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/2222"
TEST_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web-alb/aaaa/test"
LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/aaaa"
DNS = "web-alb-1.us-east-1.elb.amazonaws.com"
TD1 = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
TD2 = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"


def client_error(code: str, operation: str = "Call") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"}}, operation)


class FakeCloudWatch:
    """Alarms by name; metrics by name, one value per period from the window's start."""

    def __init__(self) -> None:
        self.alarms: dict[str, str] = {}
        self.composite: dict[str, str] = {}
        self.metrics: dict[str, list[float]] = {}
        self.error: Exception | None = None
        self.alarm_calls: list[list[str]] = []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "describe_alarms"
        return self

    def paginate(self, AlarmNames: list[str], **kwargs: Any) -> list[dict[str, Any]]:
        return [self.describe_alarms(AlarmNames, **kwargs)]

    def describe_alarms(self, AlarmNames: list[str], **_: Any) -> dict[str, Any]:
        if self.error:
            raise self.error
        self.alarm_calls.append(list(AlarmNames))

        def alarms(kind: dict[str, str]) -> list[dict[str, str]]:
            return [
                {"AlarmName": n, "StateValue": s, "StateReason": f"{n} is {s}"}
                for n, s in kind.items()
                if n in AlarmNames
            ]

        return {"MetricAlarms": alarms(self.alarms), "CompositeAlarms": alarms(self.composite)}

    def get_metric_data(
        self, MetricDataQueries: list[dict[str, Any]], StartTime: datetime, **_: Any
    ) -> dict[str, Any]:
        def result(query: dict[str, Any]) -> dict[str, Any]:
            values = self.metrics.get(query["MetricStat"]["Metric"]["MetricName"], [])
            period = int(query["MetricStat"]["Period"])
            stamps = [StartTime + timedelta(seconds=period * i) for i in range(len(values))]
            return {"Id": query["Id"], "Timestamps": stamps, "Values": values}

        return {"MetricDataResults": [result(q) for q in MetricDataQueries]}


class FakeEcs:
    def __init__(self) -> None:
        original = {
            "taskSetArn": "ts-blue",
            "taskDefinition": TD1,
            "status": "PRIMARY",
            "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
            "loadBalancers": [{"targetGroupArn": BLUE_TG}],
            "computedDesiredCount": 2,
            "runningCount": 2,
            "pendingCount": 0,
            "stabilityStatus": "STEADY_STATE",
        }
        replacement = {
            **original,
            "taskSetArn": "ts-green",
            "taskDefinition": TD2,
            "status": "ACTIVE",
            "createdAt": datetime(2026, 1, 2, tzinfo=UTC),
            "loadBalancers": [{"targetGroupArn": GREEN_TG}],
        }
        self.task_sets = [original, replacement]
        self.block: threading.Event | None = None
        self.calls = 0

    @property
    def replacement(self) -> dict[str, Any]:
        return self.task_sets[1]

    def describe_task_sets(
        self, cluster: str, service: str, taskSets: list[str] | None = None
    ) -> dict[str, Any]:
        self.calls += 1
        if self.block is not None:
            self.block.wait(5)
        sets = [t for t in self.task_sets if not taskSets or t["taskSetArn"] in taskSets]
        return {"taskSets": sets}


class FakeElbv2:
    def __init__(self) -> None:
        self.health: dict[str, list[str]] = {
            GREEN_TG: ["healthy", "healthy"],
            BLUE_TG: ["healthy", "healthy"],
        }

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": f"10.0.0.{i}"}, "TargetHealth": {"State": s}}
                for i, s in enumerate(self.health[TargetGroupArn])
            ]
        }

    def describe_listeners(self, ListenerArns: list[str]) -> dict[str, Any]:
        return {
            "Listeners": [
                {"ListenerArn": a, "Port": 8080, "Protocol": "HTTP", "LoadBalancerArn": LB_ARN}
                for a in ListenerArns
            ]
        }

    def describe_load_balancers(self, LoadBalancerArns: list[str]) -> dict[str, Any]:
        return {"LoadBalancers": [{"LoadBalancerArn": LB_ARN, "DNSName": DNS}]}


class FakeCodeDeploy:
    def __init__(self) -> None:
        self.reports: list[dict[str, str]] = []
        self.report_error: Exception | None = None
        self.get_error: Exception | None = None

    def get_deployment(self, deploymentId: str) -> dict[str, Any]:
        if self.get_error:
            raise self.get_error
        return {
            "deploymentInfo": {
                "deploymentId": deploymentId,
                "computePlatform": "ECS",
                "applicationName": "web-app",
                "deploymentGroupName": "web-dg",
                "revision": {},
            }
        }

    def get_deployment_group(
        self, applicationName: str, deploymentGroupName: str
    ) -> dict[str, Any]:
        return {
            "deploymentGroupInfo": {
                "ecsServices": [{"clusterName": CLUSTER, "serviceName": SERVICE}],
                "loadBalancerInfo": {
                    "targetGroupPairInfoList": [
                        {"testTrafficRoute": {"listenerArns": [TEST_LISTENER]}}
                    ]
                },
            }
        }

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, Any]:
        if self.report_error:
            raise self.report_error
        self.reports.append(kwargs)
        return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}


class FakeDynamo:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def put_item(self, TableName: str, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.items[(Item["pk"]["S"], Item["sk"]["S"])] = Item
        return {}

    def get_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get((Key["pk"]["S"], Key["sk"]["S"]))
        return {"Item": item} if item else {}


class FakeSsm:
    def __init__(self) -> None:
        self.parameters: dict[str, str] = {}

    def get_parameter(self, Name: str, **_: Any) -> dict[str, Any]:
        if Name not in self.parameters:
            raise client_error("ParameterNotFound", "GetParameter")
        return {"Parameter": {"Name": Name, "Value": self.parameters[Name]}}


@dataclass
class FakeClients:
    cloudwatch: FakeCloudWatch = field(default_factory=FakeCloudWatch)
    ecs: FakeEcs = field(default_factory=FakeEcs)
    elbv2: FakeElbv2 = field(default_factory=FakeElbv2)
    codedeploy: FakeCodeDeploy = field(default_factory=FakeCodeDeploy)
    dynamodb: FakeDynamo = field(default_factory=FakeDynamo)
    ssm: FakeSsm = field(default_factory=FakeSsm)


class FakeTransport:
    """Answers probes from a table: path -> (status, body, elapsed ms)."""

    def __init__(self, answers: Mapping[str, tuple[int, str, float]] | None = None) -> None:
        self.answers = dict(answers or {"/": (200, "ok web:2", 5.0)})
        self.requests: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        self.requests.append((url, dict(headers)))
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        if path not in self.answers:
            raise OSError("connection refused")
        status, body, elapsed = self.answers[path]
        return HttpAnswer(status, body, elapsed)


class FakeContext:
    def __init__(
        self, remaining_ms: int = 60_000, function_name: str = "CodeDeployHook_AfterInstall-test"
    ) -> None:
        self.remaining_ms = remaining_ms
        self.function_name = function_name
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class MemoryStore(BasePersistenceLayer):
    """An idempotency store in a dict (what DynamoDB keeps for Powertools)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}
        self.error: Exception | None = None

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.records:
            raise IdempotencyItemNotFoundError
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        if self.error:
            raise self.error
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and not existing.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)
