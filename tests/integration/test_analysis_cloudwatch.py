"""The comparative analysis against moto's CloudWatch (moto.mock_aws, no emulator): the
metrics put the way the ALB publishes them are read back right by the analysis' queries.

What an emulated ALB must publish, per target group and per minute, with the dimensions
[TargetGroup, LoadBalancer] (moto matches the dimension set exactly):
- RequestCount as StatisticValues {SampleCount: n, Sum: n, Minimum: 1, Maximum: 1};
- HTTPCode_Target_5XX_Count and TargetConnectionErrorCount the same way, only when non-zero;
- TargetResponseTime as Values (distinct latencies, seconds) with Counts (how many requests
  took each), at most 150 values a datum: percentiles need the distribution.

moto 5.2.5 answers Sum but not percentile statistics (its statistic calculator returns
None for `p99` and the response then fails with a TypeError); the emulator's patch 14
supplies them, nearest-rank. Here a stand-in of that patch, limited to these tests, shows
the analysis gets from Values/Counts exactly the nearest-rank percentiles of the requests.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import Statistics

from bluegreen.checks import Colours, Outcome, comparative_analysis, parse_analysis_config
from tests.unit.test_analysis_fakes import (
    BLUE_DIM,
    BLUE_TG,
    GREEN_DIM,
    GREEN_TG,
    LB,
    LB_DIM,
    binomial,
)

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
COLOURS = Colours(LB, GREEN_TG, BLUE_TG)
PERIODS = 8


@pytest.fixture(name="cloudwatch")
def _cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


@pytest.fixture(name="percentiles")
def _percentiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for the emulator's patch 14: nearest-rank pNN from the raw datapoints."""
    original = Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Statistics, stat: str) -> Any:
        value = original(self, stat)
        if value is not None or not stat.startswith("p"):
            return value
        values = sorted(self.metric_single_values_list)
        rank = math.ceil(float(stat[1:]) / 100 * len(values))
        return values[max(rank, 1) - 1] if values else None

    monkeypatch.setattr(Statistics, "get_statistics_for_type", get_statistics_for_type)


def alb_minute(
    cloudwatch: Any,
    target_group: str,
    when: datetime,
    requests: int,
    errors: int,
    latencies: list[float],
) -> None:
    """One minute of one target group's ALB metrics, as the emulated ALB should put them."""
    dims = [
        {"Name": "TargetGroup", "Value": target_group},
        {"Name": "LoadBalancer", "Value": LB_DIM},
    ]
    at = when + timedelta(seconds=30)

    def count(name: str, value: int) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": dims,
            "Timestamp": at,
            "Unit": "Count",
            "StatisticValues": {"SampleCount": value, "Sum": value, "Minimum": 1, "Maximum": 1},
        }

    data = [count("RequestCount", requests)] + (
        [count("HTTPCode_Target_5XX_Count", errors)] if errors else []
    )
    histogram = sorted(Counter(latencies).items())
    for start in range(0, len(histogram), 150):
        chunk = histogram[start : start + 150]
        data.append(
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": dims,
                "Timestamp": at,
                "Unit": "Seconds",
                "Values": [value for value, _ in chunk],
                "Counts": [float(n) for _, n in chunk],
            }
        )
    for start in range(0, len(data), 20):  # PutMetricData takes up to 1,000 metrics; keep it small
        cloudwatch.put_metric_data(
            Namespace="AWS/ApplicationELB", MetricData=data[start : start + 20]
        )


def traffic(
    cloudwatch: Any, seed: int, green_rate: float, green_slowdown: float = 1.0, requests: int = 300
) -> dict[str, list[list[float]]]:
    """PERIODS minutes of both colours (blue 0.5% 5xx); the latencies put, per colour."""
    rng = random.Random(seed)
    put: dict[str, list[list[float]]] = {"green": [], "blue": []}
    for index in range(PERIODS):
        when = START + timedelta(minutes=index)
        load = math.exp(rng.gauss(0, 0.2))
        for colour, dim, rate, slowdown in (
            ("green", GREEN_DIM, green_rate, green_slowdown),
            ("blue", BLUE_DIM, 0.005, 1.0),
        ):
            latencies = [
                round(0.08 * load * slowdown * math.exp(rng.gauss(0, 0.6)), 3)
                for _ in range(requests)
            ]
            alb_minute(cloudwatch, dim, when, requests, binomial(rng, requests, rate), latencies)
            put[colour].append(latencies)
    return put


def analyse(cloudwatch: Any, config: dict[str, Any]) -> Any:
    return comparative_analysis(
        cloudwatch,
        COLOURS,
        START,
        START + timedelta(minutes=PERIODS),
        parse_analysis_config(config),
    )


def test_moto_sums_the_alb_counts_the_analysis_asks_for(cloudwatch: Any) -> None:
    # Given eight minutes of 300 requests a minute per colour, green at 5% 5xx
    traffic(cloudwatch, seed=1, green_rate=0.05)

    # When the error rate is analysed through moto's GetMetricData
    result = analyse(cloudwatch, {"signals": ["errorRate"]})

    # Then the requests are every request put, and green fails
    (error_rate,) = result.details["signals"]
    assert error_rate["samples"] == {"green": 300 * PERIODS, "blue": 300 * PERIODS}
    assert result.outcome is Outcome.FAILED
    assert error_rate["green"]["errors"] > 3 * error_rate["blue"]["errors"]


def test_moto_alone_cannot_answer_a_percentile(cloudwatch: Any) -> None:
    # Given latencies put as Values/Counts
    traffic(cloudwatch, seed=2, green_rate=0.005)

    # When p99 is asked of moto 5.2.5 as shipped, Then it fails (the emulator patches this)
    with pytest.raises(TypeError, match="NoneType"):
        analyse(cloudwatch, {"signals": ["latency"]})


@pytest.mark.usefixtures("percentiles")
def test_percentiles_read_back_are_the_nearest_rank_of_the_requests(cloudwatch: Any) -> None:
    # Given eight minutes of latencies put as Values/Counts
    put = traffic(cloudwatch, seed=3, green_rate=0.005)

    # When p50 and p99 are analysed
    result = analyse(cloudwatch, {"signals": ["latency"]})

    # Then each minute's value is the nearest-rank percentile of that minute's requests
    signals = {s["signal"]: s for s in result.details["signals"]}
    for stat, quantile in (("latencyP50", 0.5), ("latencyP99", 0.99)):
        for colour in ("green", "blue"):
            expected = [sorted(v)[math.ceil(quantile * len(v)) - 1] for v in put[colour]]
            assert signals[stat][colour]["values"] == pytest.approx(expected)
        assert signals[stat]["samples"] == {"periods": PERIODS}


@pytest.mark.usefixtures("percentiles")
def test_a_latency_regression_fails_on_moto(cloudwatch: Any) -> None:
    # Given green 1.5x slower than blue
    traffic(cloudwatch, seed=4, green_rate=0.005, green_slowdown=1.5)

    # Then both percentiles fail
    result = analyse(cloudwatch, {"signals": ["latency"]})
    assert [s["outcome"] for s in result.details["signals"]] == ["FAILED", "FAILED"]


@pytest.mark.usefixtures("percentiles")
def test_equal_latency_passes_on_moto(cloudwatch: Any) -> None:
    # Given both colours alike
    traffic(cloudwatch, seed=5, green_rate=0.005)

    # Then both percentiles pass
    result = analyse(cloudwatch, {"signals": ["latency"]})
    assert [s["outcome"] for s in result.details["signals"]] == ["PASSED", "PASSED"]
