"""Comparative analysis through the check: green against blue over the same window, with
known answers on seeded traffic."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from bluegreen.checks import CheckResult, Colours, Outcome, comparative_analysis
from bluegreen.checks.analysis_config import parse_analysis_config
from bluegreen.checks.metrics import MetricsUnavailable
from bluegreen.errors import InvalidInput
from tests.unit.test_analysis_fakes import (
    BLUE_DIM,
    BLUE_TG,
    GREEN_DIM,
    GREEN_TG,
    LB,
    LB_DIM,
    T0,
    Colour,
    FakeCloudWatch,
    publish,
)

pytestmark = pytest.mark.unit

COLOURS = Colours(LB, GREEN_TG, BLUE_TG)
TEN_MINUTES = (T0, T0 + timedelta(minutes=10))


def analyse(
    green: Colour,
    blue: Colour,
    config: dict[str, Any] | None = None,
    seed: int = 1,
    periods: int = 10,
    cloudwatch: FakeCloudWatch | None = None,
) -> CheckResult:
    cloudwatch = cloudwatch or FakeCloudWatch()
    publish(cloudwatch, random.Random(seed), green, blue, periods=periods)
    return comparative_analysis(
        cloudwatch, COLOURS, T0, T0 + timedelta(minutes=periods), parse_analysis_config(config)
    )


def signals(result: CheckResult) -> dict[str, dict[str, Any]]:
    return {s["signal"]: s for s in result.details["signals"]}


def outcomes(result: CheckResult) -> dict[str, str]:
    return {name: s["outcome"] for name, s in signals(result).items()}


# -- known answers ---------------------------------------------------------------------------
def test_equal_colours_at_production_volume_pass() -> None:
    # Given blue and green alike: 2,000 requests a minute each, 0.5% 5xx, same latency
    same = Colour(requests=2000, error_rate=0.005)

    # When ten minutes are analysed
    result = analyse(same, same)

    # Then every signal passes, with both colours' figures and the sample sizes
    assert result.outcome is Outcome.PASSED
    assert outcomes(result) == {
        "errorRate": "PASSED",
        "latencyP50": "PASSED",
        "latencyP99": "PASSED",
    }
    error_rate = signals(result)["errorRate"]
    assert error_rate["samples"] == {"green": 20_000, "blue": 20_000}
    assert error_rate["green"]["requests"] == 20_000
    assert 0.003 < error_rate["green"]["ratio"] < 0.007
    assert error_rate["upperBound"] <= error_rate["tolerance"]
    assert signals(result)["latencyP99"]["samples"] == {"periods": 10}
    assert result.details["window"] == {
        "start": T0.isoformat(),
        "end": (T0 + timedelta(minutes=10)).isoformat(),
        "periodSeconds": 60,
        "periods": 10,
    }


def test_twice_the_5xx_ratio_of_blue_fails_at_realistic_volume() -> None:
    # Given blue at 0.5% 5xx and green at 1%, 20,000 requests each over ten minutes
    result = analyse(Colour(2000, error_rate=0.01), Colour(2000, error_rate=0.005))

    # Then the error rate fails with both colours' counts, the test and its p-value
    assert result.outcome is Outcome.FAILED
    error_rate = signals(result)["errorRate"]
    assert error_rate["outcome"] == "FAILED"
    assert error_rate["test"] == "Fisher exact test (one-sided)"
    assert error_rate["pValue"] < 0.001
    green, blue = error_rate["green"], error_rate["blue"]
    assert green["requests"] == blue["requests"] == 20_000
    assert (green["errors"], blue["errors"]) == (208, 107)  # these seeded draws
    # and one line says it all
    assert result.reason == (
        "green 5xx 1.0% (208/20000) vs blue 0.53% (107/20000): worse beyond tolerance "
        "(+0.51 pp, +0.27 pp allowed), p<0.001, Fisher exact test (one-sided)"
    )


def test_a_ten_percent_canary_failing_five_percent_fails() -> None:
    # Given a 10% canary at 100 requests a second: green serves 600 a minute at 5% 5xx,
    # blue 5,400 a minute at 0.1%
    result = analyse(Colour(600, error_rate=0.05), Colour(5400, error_rate=0.001))

    # Then the analysis fails on the error rate
    assert result.outcome is Outcome.FAILED
    assert outcomes(result)["errorRate"] == "FAILED"
    assert signals(result)["errorRate"]["samples"] == {"green": 6000, "blue": 54_000}


def test_a_canary_with_a_few_dozen_requests_is_inconclusive_never_a_pass() -> None:
    # Given a 1% canary that served 4 requests a minute (40 in ten minutes), all fine
    result = analyse(Colour(4, error_rate=0.0), Colour(400, error_rate=0.0))

    # Then nothing passes: the error rate lacks requests, latency lacks busy periods
    assert result.outcome is Outcome.INCONCLUSIVE
    assert outcomes(result) == {
        "errorRate": "INCONCLUSIVE",
        "latencyP50": "INCONCLUSIVE",
        "latencyP99": "INCONCLUSIVE",
    }
    assert (
        "too few requests to pass (need 500 per colour)" in signals(result)["errorRate"]["reason"]
    )
    assert "10 period(s) left out: a colour served fewer than 100 requests" in result.reason


def test_a_canary_failing_half_its_few_requests_fails_before_the_minimum() -> None:
    # Given green answered 5xx to half of its 40 requests, blue to none of 4,000
    result = analyse(
        Colour(4, error_rate=0.5), Colour(400, error_rate=0.0), config={"signals": ["errorRate"]}
    )

    # Then the exact test fails it: a fail needs evidence, not the minimum sample
    assert result.outcome is Outcome.FAILED
    assert signals(result)["errorRate"]["samples"]["green"] == 40


def test_a_fifty_percent_latency_regression_fails_p50_and_p99() -> None:
    # Given green answers every request 1.5x slower than blue
    result = analyse(Colour(2000, median_latency=0.120), Colour(2000, median_latency=0.080))

    # Then both latency signals fail with the shift, and the error rate still passes
    assert outcomes(result) == {
        "errorRate": "PASSED",
        "latencyP50": "FAILED",
        "latencyP99": "FAILED",
    }
    p99 = signals(result)["latencyP99"]
    assert p99["test"] == "Wilcoxon signed-rank test on per-period pairs (one-sided)"
    assert p99["statistic"] == 55  # every one of the 10 periods: green slower
    assert p99["pValue"] == pytest.approx(1 / 1024)
    assert p99["excess"] > 0.4 * p99["blue"]["median"]
    assert "p99 latency green" in result.reason and "Wilcoxon signed-rank" in result.reason


def test_a_tail_only_regression_fails_p99_and_not_p50() -> None:
    # Given green's median is blue's but its tail is heavier (p99 about 1.4x)
    result = analyse(Colour(2000, latency_sigma=0.75), Colour(2000, latency_sigma=0.6))

    # Then p99 fails and p50 passes
    assert outcomes(result)["latencyP99"] == "FAILED"
    assert outcomes(result)["latencyP50"] == "PASSED"


def test_a_slow_minute_for_both_colours_is_not_a_regression() -> None:
    # Given equal colours whose minutes swing widely in load (both slow together)
    same = Colour(2000)
    cloudwatch = FakeCloudWatch()
    publish(cloudwatch, random.Random(5), same, same, periods=10, load_sigma=0.8)

    # When analysed
    result = comparative_analysis(cloudwatch, COLOURS, *TEN_MINUTES)

    # Then latency passes: each minute is compared with the same minute of blue
    assert outcomes(result)["latencyP50"] == "PASSED"
    assert outcomes(result)["latencyP99"] == "PASSED"


def test_an_idle_window_is_inconclusive() -> None:
    # Given no datapoint at all in the window
    result = comparative_analysis(FakeCloudWatch(), COLOURS, *TEN_MINUTES)

    # Then the analysis is inconclusive, saying why, and never passes
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no request reached green in the window" in result.reason
    assert "no period with data for both colours" in result.reason


def test_no_blue_traffic_means_no_baseline() -> None:
    # Given all traffic on green (blue at weight 0)
    result = analyse(Colour(2000), Colour(0), config={"signals": ["errorRate"]})

    # Then there is nothing to compare with
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no request reached blue in the window" in result.reason


def test_a_window_without_a_whole_period_asks_cloudwatch_nothing() -> None:
    # Given a window of 80 seconds from 12:00:30 to 12:01:50 (no minute wholly inside)
    cloudwatch = FakeCloudWatch()
    start = T0 + timedelta(seconds=30)

    # When analysed
    result = comparative_analysis(cloudwatch, COLOURS, start, start + timedelta(seconds=80))

    # Then it is inconclusive at once
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "holds no whole 60s period yet" in result.reason
    assert cloudwatch.calls == []


def test_connection_errors_count_as_errors() -> None:
    # Given green refuses 3% of its connections (the ALB answers 502, no target 5xx)
    green = Colour(5000, error_rate=0.005, connection_errors=0.03)

    # When analysed with the default configuration, and with connection errors not counted
    counted = analyse(green, Colour(5000))
    ignored = analyse(green, Colour(5000), config={"errorRate": {"countConnectionErrors": False}})

    # Then only the default sees the failure
    assert outcomes(counted)["errorRate"] == "FAILED"
    assert outcomes(ignored)["errorRate"] == "PASSED"


# -- what is read, and how ---------------------------------------------------------------------
def test_both_colours_are_read_in_one_paginated_get_metric_data_sequence() -> None:
    # Given a CloudWatch answering 7 datapoints a page
    small_pages = FakeCloudWatch(page_size=7)
    whole = analyse(Colour(2000), Colour(2000))

    # When the same traffic is analysed through it
    paged = analyse(Colour(2000), Colour(2000), cloudwatch=small_pages)

    # Then every page was asked with the same queries, following NextToken, and the
    # verdict and figures are those of one page
    calls = small_pages.calls
    assert len(calls) > 5
    assert all(c["MetricDataQueries"] == calls[0]["MetricDataQueries"] for c in calls)
    assert [c.get("NextToken") for c in calls] == [None] + [
        str(7 * i) for i in range(1, len(calls))
    ]
    assert paged.details["signals"] == whole.details["signals"]


def test_the_queries_name_both_target_groups_and_the_load_balancer() -> None:
    # Given traffic, When analysed from 12:00:30 to 12:10:45
    cloudwatch = FakeCloudWatch()
    publish(cloudwatch, random.Random(1), Colour(2000), Colour(2000))
    comparative_analysis(
        cloudwatch, COLOURS, T0 + timedelta(seconds=30), T0 + timedelta(minutes=10, seconds=45)
    )

    # Then the window is trimmed to whole minutes and each colour is one dimension pair
    (call,) = cloudwatch.calls
    assert (call["StartTime"], call["EndTime"]) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=10),
    )
    asked = {
        (
            q["Id"],
            q["MetricStat"]["Metric"]["MetricName"],
            q["MetricStat"]["Stat"],
            tuple((d["Name"], d["Value"]) for d in q["MetricStat"]["Metric"]["Dimensions"]),
            q["MetricStat"]["Period"],
        )
        for q in call["MetricDataQueries"]
    }
    green = (("TargetGroup", GREEN_DIM), ("LoadBalancer", LB_DIM))
    blue = (("TargetGroup", BLUE_DIM), ("LoadBalancer", LB_DIM))
    assert asked == {
        ("greenRequests", "RequestCount", "Sum", green, 60),
        ("greenErrors", "HTTPCode_Target_5XX_Count", "Sum", green, 60),
        ("greenConnectionErrors", "TargetConnectionErrorCount", "Sum", green, 60),
        ("greenLatency0", "TargetResponseTime", "p50", green, 60),
        ("greenLatency1", "TargetResponseTime", "p99", green, 60),
        ("blueRequests", "RequestCount", "Sum", blue, 60),
        ("blueErrors", "HTTPCode_Target_5XX_Count", "Sum", blue, 60),
        ("blueConnectionErrors", "TargetConnectionErrorCount", "Sum", blue, 60),
        ("blueLatency0", "TargetResponseTime", "p50", blue, 60),
        ("blueLatency1", "TargetResponseTime", "p99", blue, 60),
    }


def test_periods_are_paired_by_timestamp_whatever_the_order() -> None:
    # Given a CloudWatch answering newest first, and green slower in every minute
    newest_first = FakeCloudWatch()
    newest_first.descending = True
    result = analyse(Colour(2000, median_latency=0.1), Colour(2000), cloudwatch=newest_first)

    # Then the pairs still match minute to minute: every period shows green slower
    assert signals(result)["latencyP50"]["statistic"] == 55


def test_a_query_cloudwatch_refuses_is_an_error_not_a_verdict() -> None:
    # Given CloudWatch answers Forbidden for one of the queries
    cloudwatch = FakeCloudWatch()
    cloudwatch.status["blueErrors"] = "Forbidden"

    # Then the analysis raises, naming the query
    with pytest.raises(MetricsUnavailable, match="Forbidden for query blueErrors"):
        analyse(Colour(2000), Colour(2000), cloudwatch=cloudwatch)


def test_the_same_target_group_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="greenTargetGroupArn: is the blue target group"):
        comparative_analysis(FakeCloudWatch(), Colours(LB, BLUE_TG, BLUE_TG), *TEN_MINUTES)


def test_a_network_load_balancer_is_refused_by_field() -> None:
    nlb = LB.replace("/app/", "/net/")
    with pytest.raises(InvalidInput, match="loadBalancerArn: must be an Application Load Balancer"):
        comparative_analysis(FakeCloudWatch(), Colours(nlb, GREEN_TG, BLUE_TG), *TEN_MINUTES)


def test_a_window_longer_than_720_periods_is_refused() -> None:
    with pytest.raises(InvalidInput, match="window: 1440 periods of 60s; at most 720"):
        comparative_analysis(FakeCloudWatch(), COLOURS, T0, T0 + timedelta(days=1))


# -- custom metrics ------------------------------------------------------------------------------
CHECKOUT = {
    "id": "checkout",
    "namespace": "Shop",
    "metricName": "CheckoutLatency",
    "stat": "p90",
    "dimensions": {"Service": "web"},
    "colour": {"dimension": "Release", "green": "v2", "blue": "v1"},
}


def _custom(green: list[float], blue: list[float], metric: dict[str, Any]) -> CheckResult:
    cloudwatch = FakeCloudWatch()
    for index, (g, b) in enumerate(zip(green, blue, strict=True)):
        when = int(T0.timestamp()) + 60 * index
        for release, value in (("v2", g), ("v1", b)):
            dims = {"Service": "web", "Release": release}
            cloudwatch.put(metric["metricName"], dims, metric["stat"], when, value, "Shop")
    config = {"signals": [], "metrics": [metric]}
    return comparative_analysis(cloudwatch, COLOURS, *TEN_MINUTES, parse_analysis_config(config))


def test_a_custom_metric_is_compared_per_period_by_its_colour_dimension() -> None:
    # Given a checkout latency published per release, green 30% higher every minute
    blue = [0.40, 0.42, 0.38, 0.45, 0.41, 0.39, 0.44, 0.43, 0.40, 0.42]
    green = [round(v * 1.3, 3) for v in blue]

    # When analysed, and again with the colours equal
    worse = _custom(green, blue, CHECKOUT)
    same = _custom(blue, blue, CHECKOUT)

    # Then the regression fails and equal values pass
    assert worse.outcome is Outcome.FAILED
    assert (
        "checkout (CheckoutLatency p90) green 0.5395 vs blue 0.415 (medians of 10 periods): "
        "worse by 0.1245" in worse.reason
    )
    assert same.outcome is Outcome.PASSED


def test_a_custom_metric_where_lower_is_worse_fails_on_a_drop() -> None:
    # Given successful checkouts a minute, green 40% fewer, with direction decrease
    metric = {**CHECKOUT, "stat": "Sum", "metricName": "Checkouts", "direction": "decrease"}
    blue = [100.0, 104, 98, 110, 95, 101, 99, 105, 102, 97]
    green = [v * 0.6 for v in blue]

    # Then the drop fails; a rise passes
    assert _custom(green, blue, metric).outcome is Outcome.FAILED
    assert _custom([v * 1.4 for v in blue], blue, metric).outcome is Outcome.PASSED
