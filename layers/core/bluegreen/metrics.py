"""Deployment metrics (CloudWatch embedded metric format), one place for every ending.

Namespace: the stack's `POWERTOOLS_METRICS_NAMESPACE` (`BlueGreen`). Each figure is put
twice, with dimensions `Platform` and `Platform`+`Target` (the load balancer name, or
`cluster/service`), which is what the stack's dashboard reads:

| metric | unit | when |
|---|---|---|
| `SwitchStarted` | Count | Begin |
| `SwitchSucceeded`, `SwitchRolledBack`, `SwitchFailed` | Count | a deployment's first settle |
| `SwitchDuration` | Seconds | same, from the record's start |
| `SwitchSteps` | Count | same, traffic steps taken (EC2) |
| `TimeToRollback` | Milliseconds | an alarm's state change to traffic restored |

Powertools serialises and validates the EMF document; its `service` dimension is left
out so the dimension sets are exactly the two above.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import MetricManager

from . import clock as wall_clock

Figure = tuple[str, MetricUnit, float]
_STATUS_METRIC = {
    "SUCCEEDED": "SwitchSucceeded",
    "ROLLED_BACK": "SwitchRolledBack",
    "FAILED": "SwitchFailed",
}


def emit(
    figures: Iterable[Figure],
    platform: str,
    target: str,
    write: Callable[[str], None] = print,
) -> None:
    """One EMF document per dimension set, holding every figure."""
    figures = list(figures)
    if not figures:
        return
    dimension_sets = [{"Platform": platform or "unknown"}]
    if target:
        dimension_sets.append({"Platform": platform or "unknown", "Target": target})
    for dimensions in dimension_sets:
        manager = MetricManager(service="")
        for name, unit, value in figures:
            manager.add_metric(name=name, unit=unit, value=value)
        for key, dimension in dimensions.items():
            manager.add_dimension(name=key, value=dimension)
        write(json.dumps(manager.serialize_metric_set(), separators=(",", ":")))


def settled_figures(
    status: str,
    outcome: Mapping[str, Any],
    started_at: str,
    steps: int,
    now: Callable[[], float] = wall_clock.now,
) -> list[Figure]:
    figures: list[Figure] = [(_STATUS_METRIC[status], MetricUnit.Count, 1)]
    started = _epoch(started_at)
    if started is not None:
        figures.append(("SwitchDuration", MetricUnit.Seconds, max(0.0, now() - started)))
    figures.append(("SwitchSteps", MetricUnit.Count, steps))
    ttr = outcome.get("timeToRollbackMs")
    if isinstance(ttr, int | float):
        figures.append(("TimeToRollback", MetricUnit.Milliseconds, float(ttr)))
    return figures


def emit_settled(settled: Any, write: Callable[[str], None] = print) -> None:
    """The figures of one ending, once: only the call that announced it emits them."""
    subject = settled.subject
    if not settled.announced_now or subject is None:
        return
    figures = settled_figures(
        settled.status, settled.outcome, subject.started_at, subject.steps_taken
    )
    emit(figures, subject.platform, subject.target, write)


def emit_started(platform: str, target: str, write: Callable[[str], None] = print) -> None:
    emit([("SwitchStarted", MetricUnit.Count, 1)], platform, target, write)


def _epoch(stamp: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None
