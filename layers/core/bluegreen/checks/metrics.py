"""Reading CloudWatch for the checks: one paginated GetMetricData sequence per check.

- `read_series(cloudwatch, queries, start, end)` sends every query in one call and follows
  `NextToken` until the last page; it answers `{query id: {epoch seconds: value}}`, so
  colours are paired by timestamp whatever order CloudWatch returns them in.
- `target_group_dimension(arn)` / `load_balancer_dimension(arn)`: the `TargetGroup` and
  `LoadBalancer` dimension values of ALB ARNs (`targetgroup/name/id`, `app/name/id`).
- `whole_periods(start, end, period)`: the window trimmed to whole, aligned periods (the
  way CloudWatch buckets a period), so both colours are read over the same buckets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import BlueGreenError, InvalidInput

ALB_NAMESPACE = "AWS/ApplicationELB"
MAX_QUERIES = 500  # GetMetricData's limit per call
_UNUSABLE = {"Forbidden", "InternalError"}

Series = dict[int, float]


class MetricsUnavailable(BlueGreenError):
    """CloudWatch answered a query with an error status (Forbidden, InternalError)."""


def target_group_dimension(arn: str, field: str = "targetGroupArn") -> str:
    resource = _resource(arn)
    if not resource.startswith("targetgroup/"):
        raise InvalidInput(field, f"must be a target group ARN, got {arn!r}")
    return resource


def load_balancer_dimension(arn: str, field: str = "loadBalancerArn") -> str:
    resource = _resource(arn)
    if not resource.startswith("loadbalancer/app/"):
        raise InvalidInput(field, f"must be an Application Load Balancer ARN, got {arn!r}")
    return resource.removeprefix("loadbalancer/")


def _resource(arn: str) -> str:
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "elasticloadbalancing":
        return ""
    return parts[5]


def alb_dimensions(target_group: str, load_balancer: str) -> list[dict[str, str]]:
    """The (TargetGroup, LoadBalancer) dimension pair the ALB publishes per target group."""
    return [
        {"Name": "TargetGroup", "Value": target_group},
        {"Name": "LoadBalancer", "Value": load_balancer},
    ]


def stat_query(
    query_id: str,
    namespace: str,
    metric_name: str,
    dimensions: Sequence[Mapping[str, str]],
    period: int,
    stat: str,
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric_name,
                "Dimensions": [dict(d) for d in dimensions],
            },
            "Period": period,
            "Stat": stat,
        },
        "Label": f"{metric_name} {stat}",
        "ReturnData": True,
    }


def read_series(
    cloudwatch: Any, queries: Sequence[Mapping[str, Any]], start: datetime, end: datetime
) -> dict[str, Series]:
    """Every query's datapoints in [start, end), all pages of one GetMetricData sequence."""
    if len(queries) > MAX_QUERIES:
        raise ValueError(f"GetMetricData takes at most {MAX_QUERIES} queries")
    series: dict[str, Series] = {str(q["Id"]): {} for q in queries}
    token: str | None = None
    while True:
        request: dict[str, Any] = {
            "MetricDataQueries": [dict(q) for q in queries],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if token:
            request["NextToken"] = token
        answer = cloudwatch.get_metric_data(**request)
        for result in answer.get("MetricDataResults", []):
            _collect(series, result)
        token = answer.get("NextToken")
        if not token:
            return series


def _collect(series: dict[str, Series], result: Mapping[str, Any]) -> None:
    query_id = str(result.get("Id"))
    status = result.get("StatusCode")
    if status in _UNUSABLE:
        raise MetricsUnavailable(f"CloudWatch answered {status} for query {query_id}")
    points = series.setdefault(query_id, {})
    for when, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
        points[int(_aware(when).timestamp())] = float(value)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def whole_periods(start: datetime, end: datetime, period: int) -> tuple[datetime, datetime]:
    """[start, end) shrunk to whole periods aligned on the epoch (start rounded up, end
    down); start == end when no whole period fits."""
    first = math.ceil(_aware(start).timestamp() / period) * period
    last = math.floor(_aware(end).timestamp() / period) * period
    last = max(first, last)
    return datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC)


def align_down(when: datetime, period: int) -> datetime:
    return datetime.fromtimestamp(int(_aware(when).timestamp()) // period * period, UTC)
