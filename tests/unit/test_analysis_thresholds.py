"""Absolute metric thresholds in the check engine: the same metric checks the switch
request carries, where no data is INCONCLUSIVE instead of a silent pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bluegreen.checks import Outcome, metric_threshold
from bluegreen.requests import parse_request
from tests.unit.test_analysis_fakes import (
    BLUE_TG,
    GREEN_DIM,
    GREEN_TG,
    LB,
    LB_DIM,
    T0,
    FakeCloudWatch,
)

pytestmark = pytest.mark.unit

NOW = T0 + timedelta(minutes=10, seconds=20)
ALB = {"TargetGroup": GREEN_DIM, "LoadBalancer": LB_DIM}
LISTENER = LB.replace(":loadbalancer/", ":listener/") + "/f2f7dc8efc522ab2"


def metric_check(**fields: Any) -> dict[str, Any]:
    """One metric check exactly as the switch request parser normalises it."""
    request = parse_request(
        {
            "platform": "EC2",
            "strategy": {"type": "all-at-once"},
            "listeners": [LISTENER],
            "blueTargetGroupArn": BLUE_TG,
            "greenTargetGroupArn": GREEN_TG,
            "metricChecks": [fields],
        }
    )
    return dict(request["metricChecks"][0])


def minute(index: int) -> int:
    """The epoch second of the index-th minute of the default 300 s window before NOW."""
    return int(T0.timestamp()) + 60 * (5 + index)


def judge(cloudwatch: FakeCloudWatch, check: dict[str, Any]) -> Any:
    return metric_threshold(cloudwatch, check, GREEN_TG, LB, NOW)


def test_a_5xx_ratio_with_no_request_in_the_window_is_inconclusive() -> None:
    # Given a 5xx-ratio check and a green target group that served nothing
    check = metric_check(type="target5xxRatio", threshold=0.02)

    # When judged
    result = judge(FakeCloudWatch(), check)

    # Then it is inconclusive, not passed, and says why
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.check == "metric:target5xxRatio0"
    assert result.reason == (
        "target5xxRatio0: no request reached the target group in the last 300s, nothing to judge"
    )


def test_a_5xx_ratio_over_its_threshold_fails_and_under_it_passes() -> None:
    # Given 1,000 requests over five minutes, 30 of them 5xx (3%)
    cloudwatch = FakeCloudWatch()
    for index in range(5):
        cloudwatch.put("RequestCount", ALB, "Sum", minute(index), 200.0)
        cloudwatch.put("HTTPCode_Target_5XX_Count", ALB, "Sum", minute(index), 6.0)

    # When judged against 2% and 5%
    over = judge(cloudwatch, metric_check(type="target5xxRatio", threshold=0.02))
    under = judge(cloudwatch, metric_check(type="target5xxRatio", threshold=0.05))

    # Then 3% fails the first and passes the second, with the value measured
    assert over.outcome is Outcome.FAILED
    assert over.details["value"] == pytest.approx(0.03)
    assert over.reason == (
        "target5xxRatio0 = 0.03 over the last 300s (GreaterThanThreshold 0.02 fails)"
    )
    assert under.outcome is Outcome.PASSED


def test_no_5xx_datapoint_with_requests_is_a_zero_ratio() -> None:
    # Given requests and no 5xx datapoint (the ALB publishes none when there are none)
    cloudwatch = FakeCloudWatch()
    cloudwatch.put("RequestCount", ALB, "Sum", minute(0), 500.0)

    # Then the ratio is 0 and the check passes
    result = judge(cloudwatch, metric_check(type="target5xxRatio", threshold=0.01))
    assert (result.outcome, result.details["value"]) == (Outcome.PASSED, 0.0)


def test_p99_latency_is_judged_on_its_worst_minute() -> None:
    # Given p99 of 0.4 s in four minutes and 2.5 s in one
    cloudwatch = FakeCloudWatch()
    for index, value in enumerate([0.4, 0.4, 2.5, 0.4, 0.4]):
        cloudwatch.put("TargetResponseTime", ALB, "p99", minute(index), value)

    # When judged against 1.5 s
    result = judge(cloudwatch, metric_check(type="p99Latency", threshold=1.5))

    # Then the slow minute fails it
    assert result.outcome is Outcome.FAILED
    assert result.details["value"] == 2.5
    assert result.details["datapoints"] == 5


def test_a_latency_check_without_datapoints_is_inconclusive() -> None:
    result = judge(FakeCloudWatch(), metric_check(type="p99Latency", threshold=1.5))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reason == "p99Latency0: no datapoint in the last 300s, nothing to judge"


def test_a_less_than_threshold_fails_on_its_lowest_minute() -> None:
    # Given healthy hosts 4, 4, 1, 4, 4 and a check that fails below 2
    check = metric_check(
        type="custom",
        threshold=2,
        comparison="LessThanThreshold",
        metric={
            "namespace": "AWS/ApplicationELB",
            "name": "HealthyHostCount",
            "dimensions": {"TargetGroup": GREEN_DIM, "LoadBalancer": LB_DIM},
            "stat": "Minimum",
        },
    )
    cloudwatch = FakeCloudWatch()
    for index, value in enumerate([4.0, 4.0, 1.0, 4.0, 4.0]):
        cloudwatch.put("HealthyHostCount", ALB, "Minimum", minute(index), value)

    # When judged
    result = judge(cloudwatch, check)

    # Then the dip to 1 fails it (the worst minute for a Less* comparison is the lowest)
    assert result.outcome is Outcome.FAILED
    assert result.details["value"] == 1.0


def test_the_window_ends_now_and_starts_on_a_whole_period() -> None:
    # Given a 5xx-ratio check over 300 s with 60 s periods, judged at 12:10:20
    cloudwatch = FakeCloudWatch()
    judge(cloudwatch, metric_check(type="target5xxRatio", threshold=0.02))

    # Then CloudWatch was asked from 12:05:00 to 12:10:20 for the green target group
    (call,) = cloudwatch.calls
    assert (call["StartTime"], call["EndTime"]) == (T0 + timedelta(minutes=5), NOW)
    dims = {
        tuple((d["Name"], d["Value"]) for d in q["MetricStat"]["Metric"]["Dimensions"])
        for q in call["MetricDataQueries"]
    }
    assert dims == {(("TargetGroup", GREEN_DIM), ("LoadBalancer", LB_DIM))}


def test_all_pages_are_read() -> None:
    # Given a CloudWatch answering one datapoint a page, and 3% 5xx over five minutes
    cloudwatch = FakeCloudWatch(page_size=1)
    for index in range(5):
        cloudwatch.put("RequestCount", ALB, "Sum", minute(index), 200.0)
        cloudwatch.put("HTTPCode_Target_5XX_Count", ALB, "Sum", minute(index), 6.0)

    # When judged, Then every page counted
    result = judge(cloudwatch, metric_check(type="target5xxRatio", threshold=0.02))
    assert result.details["value"] == pytest.approx(0.03)
    assert len(cloudwatch.calls) == 10
