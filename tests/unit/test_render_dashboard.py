"""The dashboard picture: the template's dashboard body, data read from CloudWatch.

Data is put into moto's CloudWatch the way the switch's EMF metrics and the ALB land
there; the panels the renderer computes are checked (counts, rollback rate, per-colour
lines), then the PNG is written. The dashboard in template.yaml is also checked against
the metric contract (names, units' metrics, dimensions) and the renderer's math.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts.render_dashboard import (
    DashboardError,
    apply_variables,
    collect,
    dashboard_body,
    draw,
    evaluate,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LB = "app/shop-alb/50dc6c495c0c9188"
BLUE = "targetgroup/shop-blue/6d0ecf831eec9f09"
GREEN = "targetgroup/shop-green/1d2e3f4a5b6c7d8e"
CONTRACT = {
    "SwitchStarted", "SwitchSucceeded", "SwitchRolledBack", "SwitchFailed",
    "SwitchDuration", "SwitchSteps", "TimeToRollback",
}  # fmt: skip


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def body(**variables: str) -> dict[str, Any]:
    return dashboard_body(
        ROOT / "template.yaml",
        "bluegreen",
        "us-east-1",
        "123456789012",
        parameters={"DashboardLoadBalancer": LB},
        variables=variables,
    )


def put(
    cloudwatch: Any, namespace: str, name: str, dims: dict[str, str], minute: int, value: float
) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": START + timedelta(minutes=minute),
                "Value": value,
            }
        ],
    )


def panels_by_title(cloudwatch: Any, **variables: str) -> dict[str, Any]:
    found = collect(body(**variables), cloudwatch, START, START + timedelta(hours=1))
    return {p.title: p for p in found}


def test_switch_outcomes_and_rollback_rate_come_from_the_bluegreen_metrics(cloudwatch: Any) -> None:
    # Given three EC2 switches and one ECS switch in the first five minutes: 2 succeeded,
    # 1 rolled back, 1 failed, and two more switches later that succeeded
    for platform, started in (("EC2", 3), ("ECS", 1)):
        put(cloudwatch, "BlueGreen", "SwitchStarted", {"Platform": platform}, 1, started)
    put(cloudwatch, "BlueGreen", "SwitchSucceeded", {"Platform": "EC2"}, 2, 2)
    put(cloudwatch, "BlueGreen", "SwitchRolledBack", {"Platform": "EC2"}, 3, 1)
    put(cloudwatch, "BlueGreen", "SwitchFailed", {"Platform": "ECS"}, 4, 1)
    put(cloudwatch, "BlueGreen", "SwitchStarted", {"Platform": "EC2"}, 31, 2)
    put(cloudwatch, "BlueGreen", "SwitchSucceeded", {"Platform": "EC2"}, 32, 2)
    put(cloudwatch, "BlueGreen", "TimeToRollback", {"Platform": "EC2"}, 3, 850)

    # When the dashboard's panels are collected
    panels = panels_by_title(cloudwatch)

    # Then the outcome lines add both platforms, period by period
    switches = {
        line.label: line.points
        for line in panels["Switches: started, succeeded, rolled back, failed"].lines
    }
    assert set(switches) == {"started", "succeeded", "rolled back", "failed"}
    assert switches["started"][START] == 4
    assert switches["started"][START + timedelta(minutes=30)] == 2
    assert switches["failed"][START] == 1
    assert switches["succeeded"][START + timedelta(minutes=10)] == 0  # FILL: a quiet period is 0
    # and the rates are per cent of the switches started in the period (none: no point)
    rates = {
        line.label: line.points for line in panels["Rollback and failure rate (% of started)"].lines
    }
    assert rates["rolled back, % of started"][START] == 25
    assert rates["failed, % of started"][START] == 25
    assert START + timedelta(minutes=10) not in rates["rolled back, % of started"]
    rollback = {line.label: line.points for line in panels["Time to rollback (milliseconds)"].lines}
    assert rollback["EC2 Maximum"] == {START: 850}


def test_the_alb_panels_show_the_chosen_blue_and_green_target_groups(cloudwatch: Any) -> None:
    # Given 5xx on green only, and the dashboard's variables set to this fleet's groups
    put(
        cloudwatch,
        "AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count",
        {"LoadBalancer": LB, "TargetGroup": GREEN},
        6,
        42,
    )
    put(
        cloudwatch,
        "AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count",
        {"LoadBalancer": LB, "TargetGroup": BLUE},
        6,
        0,
    )

    panels = panels_by_title(cloudwatch, BlueTargetGroup=BLUE, GreenTargetGroup=GREEN)

    errors = {line.label: line.points for line in panels["Target 5xx per colour (count)"].lines}
    assert errors == {
        "blue": {START + timedelta(minutes=5): 0},
        "green": {START + timedelta(minutes=5): 42},
    }


def test_the_alarm_panel_shows_the_states_of_the_alarms_that_tell_people(cloudwatch: Any) -> None:
    for name in ("bluegreen-switch-failed", "bluegreen-alarm-rollback-dead-letters"):
        cloudwatch.put_metric_alarm(
            AlarmName=name, MetricName="x", Namespace="y", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    cloudwatch.set_alarm_state(
        AlarmName="bluegreen-switch-failed", StateValue="ALARM", StateReason="1 failed"
    )

    alarms = panels_by_title(cloudwatch)["Alarms that tell people"].alarms

    assert alarms == [
        ("bluegreen-switch-failed", "ALARM"),
        ("bluegreen-alarm-rollback-dead-letters", "OK"),  # moto starts alarms in OK
    ]


def test_the_picture_is_written(cloudwatch: Any, tmp_path: Path) -> None:
    put(cloudwatch, "BlueGreen", "SwitchStarted", {"Platform": "EC2"}, 1, 3)
    panels = collect(body(), cloudwatch, START, START + timedelta(hours=1))
    out = tmp_path / "dashboard.png"
    draw(panels, out, "bluegreen-deployments")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a picture with its panels, not an empty canvas


def test_the_template_dashboard_reads_exactly_the_metric_contract() -> None:
    # Given the dashboard as CloudFormation would create it
    widgets = body()["widgets"]
    metrics = [m for w in widgets for m in w.get("properties", {}).get("metrics", [])]
    ours = [m for m in metrics if m[0] == "BlueGreen"]

    # Then it reads every metric the switch emits, by those names, per Platform (EC2|ECS)
    assert {m[1] for m in ours} == CONTRACT
    assert {tuple(m[2:4]) for m in ours} == {("Platform", "EC2"), ("Platform", "ECS")}
    # and every expression is metric math the renderer (and CloudWatch) evaluates
    ids = {m[-1]["id"] for m in metrics if isinstance(m[-1], dict) and "id" in m[-1]}
    for entry in metrics:
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        if "expression" in options:
            evaluate(options["expression"], {key: {} for key in ids}, [START])
    # and the per-colour panels are driven by the dashboard's variables
    text = json.dumps(widgets)
    assert LB in text and "targetgroup/your-blue/0123456789abcdef" in text
    chosen = apply_variables(body(), {"BlueTargetGroup": BLUE})
    assert BLUE in json.dumps(chosen["widgets"])


def test_unknown_variables_and_unsupported_math_are_refused_by_name() -> None:
    with pytest.raises(DashboardError, match="no variable 'Colour'"):
        body(Colour="x")
    with pytest.raises(DashboardError, match="outside the metric math"):
        evaluate("SEARCH('{AWS/ApplicationELB}', 'Sum', 60)", {}, [START])
