"""Alarm checks: nothing guarded is firing before a change (pre-flight), and alarms and
metric thresholds hold over a verification window after one (GetMetricData)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from .model import CheckContext, CheckResult

PREFLIGHT = "preflight"
ALARMS_HOLD = "alarmsHold"


def preflight(ctx: CheckContext) -> CheckResult:
    """No guarded alarm is in ALARM (and every guarded alarm exists)."""
    names = tuple(ctx.config.alarms)
    if not names:
        return CheckResult.passed(PREFLIGHT, "no guarded alarms configured")
    problem = _alarm_problem(ctx.clients.cloudwatch, names)
    if problem:
        return CheckResult.failed(PREFLIGHT, problem)
    return CheckResult.passed(PREFLIGHT, f"{len(names)} guarded alarm(s) not in ALARM")


def alarms_hold(ctx: CheckContext) -> CheckResult:
    """Alarms are not firing and no metric breached its threshold within the window.

    The window looks back from now. Where the contract can wait (ECS-native re-invokes
    the hook), the check stays PENDING until the hook has waited the whole window.
    """
    config = ctx.config
    problem = (
        _alarm_problem(ctx.clients.cloudwatch, tuple(config.alarms)) if config.alarms else None
    )
    if problem:
        return CheckResult.failed(ALARMS_HOLD, problem)
    breach = _metric_breach(ctx) if config.metrics else None
    if breach:
        return CheckResult.failed(ALARMS_HOLD, breach)
    if ctx.waits_for_window and ctx.waited_seconds < config.window_seconds:
        return CheckResult.pending(
            ALARMS_HOLD,
            f"verification window open: held {ctx.waited_seconds:.0f}s of {config.window_seconds}s",
        )
    watched = len(config.alarms) + len(config.metrics)
    if not watched:
        return CheckResult.passed(ALARMS_HOLD, "no alarms or metrics configured to verify")
    return CheckResult.passed(
        ALARMS_HOLD, f"{len(config.alarms)} alarm(s) and {len(config.metrics)} metric(s) held"
    )


def _alarm_problem(cloudwatch: Any, names: tuple[str, ...]) -> str | None:
    found: dict[str, str] = {}
    for start in range(0, len(names), 100):
        answer = cloudwatch.describe_alarms(
            AlarmNames=list(names[start : start + 100]),
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
        for alarm in _all_alarms(answer):
            found[alarm["AlarmName"]] = alarm["StateValue"]
    missing = sorted(set(names) - set(found))
    if missing:
        return f"guarded alarm(s) do not exist: {', '.join(missing)}"
    firing = sorted(name for name, state in found.items() if state == "ALARM")
    if firing:
        return f"alarm(s) in ALARM: {', '.join(firing)}"
    return None


def _all_alarms(answer: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield from answer.get("MetricAlarms", [])
    yield from answer.get("CompositeAlarms", [])


def _metric_breach(ctx: CheckContext) -> str | None:
    config = ctx.config
    end = datetime.fromtimestamp(ctx.wall_clock(), UTC)
    look_back = max(
        [config.window_seconds, ctx.waited_seconds] + [m.period_seconds for m in config.metrics]
    )
    start = end - timedelta(seconds=look_back)
    queries = [
        {
            "Id": f"m{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": metric.namespace,
                    "MetricName": metric.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions],
                },
                "Period": metric.period_seconds,
                "Stat": metric.stat,
            },
            "ReturnData": True,
        }
        for index, metric in enumerate(config.metrics)
    ]
    values: dict[str, list[float]] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
        if token:
            kwargs["NextToken"] = token
        answer = ctx.clients.cloudwatch.get_metric_data(**kwargs)
        for result in answer.get("MetricDataResults", []):
            values.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
        token = answer.get("NextToken")
        if not token:
            break
    for index, metric in enumerate(config.metrics):
        breaching = [
            v
            for v in values.get(f"m{index}", [])
            if _breaches(v, metric.comparison, metric.threshold)
        ]
        if breaching:
            return (
                f"{metric.label} {metric.stat} breached {metric.comparison} {metric.threshold:g} "
                f"within the last {look_back:.0f}s (worst {max(breaching, key=abs):g})"
            )
    return None


def _breaches(value: float, comparison: str, threshold: float) -> bool:
    return {
        "GreaterThanThreshold": value > threshold,
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }[comparison]
