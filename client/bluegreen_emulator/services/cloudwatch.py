"""Emulation of CloudWatch announcing alarm state changes on EventBridge.

CloudWatch puts `CloudWatch Alarm State Change` on the default bus whenever an alarm
changes state (moto only records the state: moto_patches/cloudwatch.py calls here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from moto.cloudwatch.models import Alarm
from moto.events.models import events_backends

if TYPE_CHECKING:
    from ..core.host import Host


def publish_alarm_change(
    host: Host, alarm: Alarm, previous_value: str, previous_reason: str
) -> None:
    # moto stamps the change with the real clock: stamp it with the emulated date of
    # whoever changed the state (core/clock.py), the time the functions it reaches read
    alarm.state_updated_timestamp = datetime.fromtimestamp(host.clock.epoch(), UTC)
    now = _alarm_timestamp(alarm.state_updated_timestamp)
    detail = {
        "alarmName": alarm.name,
        "state": {
            "value": alarm.state_value,
            "reason": alarm.state_reason,
            "reasonData": alarm.state_reason_data or "{}",
            "timestamp": now,
        },
        "previousState": {
            "value": previous_value,
            "reason": previous_reason or "",
            "timestamp": now,
        },
        "configuration": {"description": alarm.description or "", "metrics": []},
    }
    events_backends[host.account_id][host.region].put_events(
        [
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Detail": json.dumps(detail),
                "Resources": [alarm.alarm_arn],
            }
        ]
    )


def _alarm_timestamp(stamp: datetime) -> str:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"
