"""What the analysis tests share: a CloudWatch that answers GetMetricData from stored
datapoints (paginated like the real one), and seeded traffic generators with known answers.

- `FakeCloudWatch` stores one value per (namespace, metric, dimensions, stat, timestamp)
  and answers `get_metric_data` with the datapoints inside [StartTime, EndTime), split into
  pages of `page_size` datapoints chained by `NextToken`; it records every call.
- `binomial(rng, n, p)` draws a binomial count exactly (waiting times between successes,
  O(n p) draws), `percentiles(rng, n, quantiles, median, sigma)` draws the nearest-rank
  sample percentiles of n lognormal latencies exactly (order statistics of uniforms), so a
  period of 20,000 requests costs a few random numbers, not 20,000.
- `publish(cloudwatch, rng, ...)` writes what the ALB publishes per target group and per
  minute for a blue and a green `Colour` sharing each minute's load.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any

import pytest

from bluegreen.checks.metrics import ALB_NAMESPACE

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
LB = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/shop/50dc6c495c0c9188"
GREEN_TG = (
    f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/shop-green/73e2d6bc24d8a067"
)
BLUE_TG = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/shop-blue/1f2e3d4c5b6a7980"
LB_DIM = "app/shop/50dc6c495c0c9188"
GREEN_DIM = "targetgroup/shop-green/73e2d6bc24d8a067"
BLUE_DIM = "targetgroup/shop-blue/1f2e3d4c5b6a7980"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a whole minute
_NORMAL = NormalDist()

Key = tuple[str, str, frozenset[tuple[str, str]], str]


class FakeCloudWatch:
    def __init__(self, page_size: int = 100_800) -> None:
        self.points: dict[Key, dict[int, float]] = {}
        self.page_size = page_size
        self.calls: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}  # query id -> StatusCode to answer instead
        self.descending = False  # answer newest first whatever ScanBy says

    def put(
        self,
        metric: str,
        dimensions: dict[str, str],
        stat: str,
        when: int,
        value: float,
        namespace: str = ALB_NAMESPACE,
    ) -> None:
        key = (namespace, metric, frozenset(dimensions.items()), stat)
        self.points.setdefault(key, {})[when] = value

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        start = int(request["StartTime"].timestamp())
        end = int(request["EndTime"].timestamp())
        flat: list[tuple[str, int, float]] = []
        for query in request["MetricDataQueries"]:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            dims = frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"])
            key = (metric["Namespace"], metric["MetricName"], dims, stat["Stat"])
            stored = self.points.get(key, {})
            times = sorted((t for t in stored if start <= t < end), reverse=self.descending)
            flat += [(query["Id"], t, stored[t]) for t in times]
            if not times:
                flat.append((query["Id"], -1, 0.0))  # an empty result still answers
        offset = int(request.get("NextToken") or 0)
        page = flat[offset : offset + self.page_size]
        rest = {query_id for query_id, _, _ in flat[offset + self.page_size :]}
        results: dict[str, dict[str, Any]] = {}
        for query_id, when, value in page:
            result = results.setdefault(
                query_id,
                {
                    "Id": query_id,
                    "Timestamps": [],
                    "Values": [],
                    "StatusCode": self.status.get(
                        query_id, "PartialData" if query_id in rest else "Complete"
                    ),
                },
            )
            if when >= 0:
                result["Timestamps"].append(datetime.fromtimestamp(when, UTC))
                result["Values"].append(value)
        answer: dict[str, Any] = {"MetricDataResults": list(results.values())}
        if offset + self.page_size < len(flat):
            answer["NextToken"] = str(offset + self.page_size)
        return answer


# -- seeded generators ---------------------------------------------------------------------
def binomial(rng: random.Random, n: int, p: float) -> int:
    """An exact Binomial(n, p) draw: count the successes met by geometric waiting times."""
    if p <= 0:
        return 0
    if p >= 1:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1 - p)
    log_q = math.log1p(-p)
    successes = position = 0
    while True:
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position > n:
            return successes
        successes += 1


def percentiles(
    rng: random.Random, n: int, quantiles: Sequence[float], median: float, sigma: float
) -> list[float]:
    """The nearest-rank sample percentiles of n lognormal(median, sigma) draws, drawn
    exactly: the k-th smallest of n uniforms is Beta(k, n - k + 1), and given it the next
    ones are the order statistics of the uniforms above it."""
    values = []
    below, rank_below = 0.0, 0
    for quantile in sorted(quantiles):
        rank = max(1, math.ceil(quantile * n))
        uniform = below + (1 - below) * rng.betavariate(rank - rank_below, n - rank + 1)
        uniform = min(uniform, 1 - 1e-16)
        values.append(median * math.exp(sigma * _NORMAL.inv_cdf(uniform)))
        below, rank_below = uniform, rank
    return values


@dataclass(frozen=True)
class Colour:
    """One colour's traffic per one-minute period."""

    requests: int  # per period
    error_rate: float = 0.005
    median_latency: float = 0.080  # seconds, in an average minute
    latency_sigma: float = 0.6  # lognormal shape: p99 is about 4x the median
    connection_errors: float = 0.0  # probability a request fails to connect


def publish(
    cloudwatch: FakeCloudWatch,
    rng: random.Random,
    green: Colour,
    blue: Colour,
    periods: int = 10,
    start: datetime = T0,
    load_sigma: float = 0.25,
    stats: Sequence[str] = ("p50", "p99"),
) -> None:
    """Write both colours' ALB metrics for `periods` minutes from `start`. Each minute has
    a load factor both colours share (a slow minute is slow for both); 5xx and connection
    errors are published only when non-zero, as the ALB does."""
    quantiles = [float(s[1:]) / 100 for s in stats]
    for index in range(periods):
        when = int(start.timestamp()) + 60 * index
        load = math.exp(rng.gauss(0.0, load_sigma))
        for colour, dim in ((green, GREEN_DIM), (blue, BLUE_DIM)):
            dims = {"TargetGroup": dim, "LoadBalancer": LB_DIM}
            if not colour.requests:
                continue
            cloudwatch.put("RequestCount", dims, "Sum", when, float(colour.requests))
            errors = binomial(rng, colour.requests, colour.error_rate)
            if errors:
                cloudwatch.put("HTTPCode_Target_5XX_Count", dims, "Sum", when, float(errors))
            refused = binomial(rng, colour.requests, colour.connection_errors)
            if refused:
                cloudwatch.put("TargetConnectionErrorCount", dims, "Sum", when, float(refused))
            values = percentiles(
                rng, colour.requests, quantiles, colour.median_latency * load, colour.latency_sigma
            )
            for stat, value in zip(stats, values, strict=True):
                cloudwatch.put("TargetResponseTime", dims, stat, when, value)


def test_binomial_draws_have_the_binomial_mean_and_variance() -> None:
    # Given many seeded draws of Binomial(20000, 0.005) and of Binomial(50, 0.7)
    rng = random.Random(1)
    for n, p in ((20_000, 0.005), (50, 0.7)):
        draws = [binomial(rng, n, p) for _ in range(4000)]
        mean = sum(draws) / len(draws)
        variance = sum((d - mean) ** 2 for d in draws) / (len(draws) - 1)
        # Then mean and variance match n p and n p (1 - p) within sampling error
        assert abs(mean - n * p) < 4 * math.sqrt(n * p * (1 - p) / len(draws))
        assert variance == pytest.approx(n * p * (1 - p), rel=0.1)


def test_drawn_percentiles_match_sorted_samples() -> None:
    # Given the p50 and p99 of 200 lognormal latencies drawn two ways, many times
    rng = random.Random(2)
    direct, via_order_statistics = [], []
    for _ in range(3000):
        sample = sorted(0.08 * math.exp(rng.gauss(0, 0.6)) for _ in range(200))
        direct.append((sample[99], sample[197]))  # nearest rank: ceil(0.5*200), ceil(0.99*200)
        via_order_statistics.append(tuple(percentiles(rng, 200, (0.5, 0.99), 0.08, 0.6)))
    # Then both ways give the same distribution (means within sampling error)
    for column in (0, 1):
        a = [row[column] for row in direct]
        b = [row[column] for row in via_order_statistics]
        mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
        spread = math.sqrt(sum((x - mean_a) ** 2 for x in a) / len(a))
        assert abs(mean_a - mean_b) < 4 * spread * math.sqrt(2 / len(a))
