"""The emulator turns a function's EMF log lines into CloudWatch metrics, as CloudWatch
does (services/emf.py): the switch's own documents land under every dimension set."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from aws_lambda_powertools.metrics import MetricUnit
from moto import mock_aws

from bluegreen import metrics
from bluegreen_emulator.services.emf import metric_data, publish


@pytest.fixture(autouse=True)
def namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BlueGreen")  # as the stack sets it


def switch_lines(*figures: metrics.Figure) -> list[str]:
    lines: list[str] = []
    metrics.emit(list(figures), "EC2", "app/shop-alb/1", write=lines.append)
    return lines


def test_a_switch_document_yields_each_metric_under_each_dimension_set() -> None:
    # Given the lines the switch prints when a rollback settles
    lines = switch_lines(
        ("SwitchRolledBack", MetricUnit.Count, 1), ("TimeToRollback", MetricUnit.Milliseconds, 340)
    )
    # When CloudWatch's extraction reads them
    data = [datum for line in lines for datum in metric_data(line)]
    # Then each metric is there once per dimension set, with its unit and value
    found = {
        (
            namespace,
            d["MetricName"],
            d["Unit"],
            d["Value"],
            tuple(x["Name"] for x in d["Dimensions"]),
        )
        for namespace, d in data
    }
    assert found == {
        ("BlueGreen", "SwitchRolledBack", "Count", 1.0, ("Platform",)),
        ("BlueGreen", "SwitchRolledBack", "Count", 1.0, ("Platform", "Target")),
        ("BlueGreen", "TimeToRollback", "Milliseconds", 340.0, ("Platform",)),
        ("BlueGreen", "TimeToRollback", "Milliseconds", 340.0, ("Platform", "Target")),
    }


def test_a_line_that_is_not_an_emf_document_stays_a_log_line() -> None:
    broken = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Metrics": []}]}})
    assert metric_data("START RequestId: 1") == []
    assert metric_data('{"level": "INFO", "message": "locked"}') == []
    assert metric_data(broken) == []  # no namespace: malformed, as CloudWatch rejects it
    missing_value = json.dumps(
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [{"Namespace": "N", "Metrics": [{"Name": "M"}]}],
            }
        }
    )
    assert metric_data(missing_value) == []


@mock_aws
def test_published_metrics_are_what_the_dashboard_lists() -> None:
    # Given an account, and the lines of a switch that started
    host = SimpleNamespace(account_id="123456789012", region="us-east-1")
    lines = ["START RequestId: 1", *switch_lines(("SwitchStarted", MetricUnit.Count, 1))]
    # When they reach the function's log group
    publish(host, lines)  # type: ignore[arg-type]
    # Then CloudWatch lists the metric under both dimension sets
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    listed = cloudwatch.list_metrics(Namespace="BlueGreen", MetricName="SwitchStarted")["Metrics"]
    assert sorted(len(m["Dimensions"]) for m in listed) == [1, 2]
