"""Gates between steps: target health, guarding alarms, metric thresholds.

Each check returns a verdict dict (`ok`, `check`, `detail`) so the record keeps why a
step passed or failed, not only that it did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import InvalidInput


def healthy_targets(elbv2: Any, target_group_arn: str) -> tuple[int, int, list[str]]:
    """(healthy, registered, problems) of a target group."""
    described = elbv2.describe_target_health(TargetGroupArn=target_group_arn)[
        "TargetHealthDescriptions"
    ]
    healthy = 0
    problems = []
    for target in described:
        health = target["TargetHealth"]
        if health["State"] == "healthy":
            healthy += 1
        else:
            reason = health.get("Reason") or health.get("Description") or ""
            problems.append(f"{target['Target']['Id']}: {health['State']} {reason}".strip())
    return healthy, len(described), problems


def health_verdict(elbv2: Any, target_group_arn: str, min_healthy: int) -> dict[str, Any]:
    healthy, registered, problems = healthy_targets(elbv2, target_group_arn)
    ok = healthy >= min_healthy
    detail = f"{healthy}/{registered} healthy, need {min_healthy}"
    if problems:
        detail += "; " + "; ".join(problems[:5])
    return {"check": "targetHealth", "ok": ok, "detail": detail, "healthy": healthy}


def alarm_states(cloudwatch: Any, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """name -> {state, reason} for every named alarm (missing alarms are absent)."""
    states: dict[str, dict[str, str]] = {}
    for start in range(0, len(names), 100):
        chunk = list(names[start : start + 100])
        paginator = cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(
            AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = {
                    "state": alarm["StateValue"],
                    "reason": alarm.get("StateReason", ""),
                }
    return states


def refuse_alarms_in_alarm(cloudwatch: Any, names: Sequence[str], allow: bool) -> None:
    """Before anything changes: every guarding alarm exists, and none is in ALARM
    unless the request says so (`allowStartInAlarm`)."""
    if not names:
        return
    states = alarm_states(cloudwatch, names)
    for index, name in enumerate(names):
        if name not in states:
            raise InvalidInput(f"alarms[{index}]", f"no CloudWatch alarm named {name!r}")
    firing = [n for n in names if states[n]["state"] == "ALARM"]
    if firing and not allow:
        raise InvalidInput(
            "alarms",
            f"{', '.join(firing)} already in ALARM; fix it first or set allowStartInAlarm: true",
        )


def alarm_verdict(cloudwatch: Any, names: Sequence[str]) -> dict[str, Any]:
    if not names:
        return {"check": "alarms", "ok": True, "detail": "no guarding alarms"}
    states = alarm_states(cloudwatch, names)
    firing = [
        f"{n} is ALARM ({s['reason']})" for n, s in sorted(states.items()) if s["state"] == "ALARM"
    ]
    if firing:
        return {"check": "alarms", "ok": False, "detail": "; ".join(firing)}
    return {"check": "alarms", "ok": True, "detail": f"{len(names)} alarm(s) not in ALARM"}


def _dimension_id(arn: str, marker: str) -> str:
    """The CloudWatch dimension value of an ELB ARN: what follows `marker` in its resource
    part (`app/name/id` after `loadbalancer/`), or the whole resource part when the marker
    is empty (`targetgroup/name/id`)."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
    return resource.split(marker, 1)[1] if marker and marker in resource else resource


def metric_queries(
    check: Mapping[str, Any], target_group_arn: str, load_balancer_arn: str
) -> list[dict[str, Any]]:
    """GetMetricData queries of one metric check (before arithmetic)."""
    period = int(check["periodSeconds"])
    dims = {
        "TargetGroup": _dimension_id(target_group_arn, ""),
        "LoadBalancer": _dimension_id(load_balancer_arn, "loadbalancer/"),
    }
    dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]

    def stat(
        query_id: str, namespace: str, name: str, statistic: str, dims: list[dict[str, str]]
    ) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                "Period": period,
                "Stat": statistic,
            },
            "ReturnData": True,
        }

    if check["type"] == "target5xxRatio":
        return [
            stat("errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", dimensions),
            stat("requests", "AWS/ApplicationELB", "RequestCount", "Sum", dimensions),
        ]
    if check["type"] == "p99Latency":
        return [stat("value", "AWS/ApplicationELB", "TargetResponseTime", "p99", dimensions)]
    metric = check["metric"]
    custom = [{"Name": k, "Value": v} for k, v in metric["dimensions"].items()]
    return [stat("value", metric["namespace"], metric["name"], metric["stat"], custom)]


def metric_verdict(
    cloudwatch: Any,
    check: Mapping[str, Any],
    target_group_arn: str,
    load_balancer_arn: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    end = now or datetime.now(UTC)
    start = end - timedelta(seconds=int(check["windowSeconds"]))
    response = cloudwatch.get_metric_data(
        MetricDataQueries=metric_queries(check, target_group_arn, load_balancer_arn),
        StartTime=start,
        EndTime=end,
    )
    series = {r["Id"]: r.get("Values", []) for r in response["MetricDataResults"]}
    value = _observed(check["type"], series)
    if value is None:
        return {"check": f"metric:{check['id']}", "ok": True, "detail": "no data in the window"}
    breached = _breaches(value, float(check["threshold"]), check["comparison"])
    detail = f"{check['id']} = {value:.4g} ({check['comparison']} {check['threshold']:g} fails)"
    return {"check": f"metric:{check['id']}", "ok": not breached, "detail": detail, "value": value}


def _observed(kind: str, series: Mapping[str, Iterable[float]]) -> float | None:
    if kind == "target5xxRatio":
        requests = sum(series.get("requests", []))
        errors = sum(series.get("errors", []))
        return None if requests == 0 else errors / requests
    values = list(series.get("value", []))
    return max(values) if values else None


def _breaches(value: float, threshold: float, comparison: str) -> bool:
    if comparison == "GreaterThanThreshold":
        return value > threshold
    if comparison == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    return value < threshold
