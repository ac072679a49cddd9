"""Alarm rollback: `CloudWatch Alarm State Change` (ALARM) from EventBridge -> settle
every deployment the alarm guards (see bluegreen.alarm_rollback).

Cold start pays for Logger and Metrics only (no tracing SDK). Each deployment's ending is
measured once, like every other ending (`bluegreen.metrics`), `TimeToRollback` included:
the time from the alarm's state change to traffic restored, in milliseconds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.alarm_rollback import AlarmChange, roll_back
from bluegreen.alarm_rollback.wiring import rollback_deps
from bluegreen.metrics import emit_settled

logger = Logger()
metrics = Metrics()
deps = cache(rollback_deps)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="detail.alarmName")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="AlarmChanges", unit=MetricUnit.Count, value=1)
    report = roll_back(AlarmChange.from_event(event), deps())
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=len(report.rolled_back))
    for settled in report.settled:
        emit_settled(settled)
    return report.as_dict()
