"""Absolute metric thresholds over a look-back window, where "no data" is INCONCLUSIVE.

`metric_threshold(cloudwatch, check, target_group_arn, load_balancer_arn, now)` takes a
metric check exactly as the switch request parser normalises it (`id`, `type`
target5xxRatio | p99Latency | custom, `threshold`, `comparison`, `windowSeconds`,
`periodSeconds`, and for custom `metric: {namespace, name, dimensions, stat}`) and answers
a `CheckResult` named `metric:<id>`:

- target5xxRatio: 5xx / requests of the target group over the window; no request in the
  window is INCONCLUSIVE (an idle canary proves nothing);
- p99Latency and custom: the worst period in the window (the highest for Greater*
  comparisons, the lowest for Less* ones); no datapoint is INCONCLUSIVE;
- otherwise FAILED when the value meets the failing comparison, PASSED when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .metrics import (
    ALB_NAMESPACE,
    Series,
    alb_dimensions,
    align_down,
    load_balancer_dimension,
    read_series,
    stat_query,
    target_group_dimension,
)
from .model import CheckResult

COMPARISONS = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
COMPARISON_NAMES = tuple(COMPARISONS)


def metric_threshold(
    cloudwatch: Any,
    check: Mapping[str, Any],
    target_group_arn: str,
    load_balancer_arn: str,
    now: datetime,
) -> CheckResult:
    """Judge one metric check over the `windowSeconds` before `now`."""
    name = f"metric:{check['id']}"
    comparison = str(check["comparison"])
    if comparison not in COMPARISONS:
        raise ValueError(f"{name}: unknown comparison {comparison!r}")
    period, seconds = int(check["periodSeconds"]), int(check["windowSeconds"])
    start = align_down(now - timedelta(seconds=seconds), period)
    queries = threshold_queries(check, target_group_arn, load_balancer_arn)
    series = read_series(cloudwatch, queries, start, now)
    value, samples, empty = _observed(check, series)
    window = {"start": start.isoformat(), "end": now.isoformat(), "periodSeconds": period}
    figures: dict[str, Any] = {
        "threshold": float(check["threshold"]),
        "comparison": comparison,
        "datapoints": samples,
        "window": window,
    }
    if value is None:
        return CheckResult.inconclusive(
            name, f"{check['id']}: {empty} in the last {seconds}s, nothing to judge", **figures
        )
    breached = COMPARISONS[comparison](value, float(check["threshold"]))
    reason = (
        f"{check['id']} = {value:.3g} over the last {seconds}s "
        f"({comparison} {float(check['threshold']):g} fails)"
    )
    if breached:
        return CheckResult.failed(name, reason, value=value, **figures)
    return CheckResult.passed(name, reason, value=value, **figures)


def threshold_queries(
    check: Mapping[str, Any], target_group_arn: str, load_balancer_arn: str
) -> list[dict[str, Any]]:
    """The GetMetricData queries of one metric check."""
    period = int(check["periodSeconds"])
    if check["type"] == "custom":
        metric = check["metric"]
        dimensions = [{"Name": k, "Value": v} for k, v in sorted(metric["dimensions"].items())]
        return [
            stat_query(
                "value", metric["namespace"], metric["name"], dimensions, period, metric["stat"]
            )
        ]
    dims = alb_dimensions(
        target_group_dimension(target_group_arn), load_balancer_dimension(load_balancer_arn)
    )
    if check["type"] == "target5xxRatio":
        return [
            stat_query("errors", ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", dims, period, "Sum"),
            stat_query("requests", ALB_NAMESPACE, "RequestCount", dims, period, "Sum"),
        ]
    if check["type"] == "p99Latency":
        return [stat_query("value", ALB_NAMESPACE, "TargetResponseTime", dims, period, "p99")]
    raise ValueError(f"metric:{check['id']}: unknown metric check type {check['type']!r}")


def _observed(check: Mapping[str, Any], series: dict[str, Series]) -> tuple[float | None, int, str]:
    """(the value judged, datapoints behind it, what "no data" means for this kind)."""
    if check["type"] == "target5xxRatio":
        requests = sum(series["requests"].values())
        errors = sum(series["errors"].values())
        if requests <= 0:
            return None, 0, "no request reached the target group"
        return errors / requests, len(series["requests"]), ""
    values = list(series["value"].values())
    if not values:
        return None, 0, "no datapoint"
    worst = min if str(check["comparison"]).startswith("Less") else max
    return worst(values), len(values), ""
