"""moto's CloudWatch: alarm state change events and percentile statistics.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import math
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, Statistics

from . import registry


# 6. CloudWatch publishes `CloudWatch Alarm State Change` to EventBridge whenever an
#    alarm changes state; moto's CloudWatchBackend.set_alarm_state only records it.
def _patch_alarm_state_events() -> None:
    original = registry.ORIGINALS["CloudWatchBackend.set_alarm_state"]

    def set_alarm_state(
        self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state_value: str
    ) -> None:
        alarm = self.alarms.get(alarm_name)
        previous = (alarm.state_value, alarm.state_reason) if alarm else None
        original(self, alarm_name, reason, reason_data, state_value)
        if registry.ACTIVE is None or previous is None or previous[0] == state_value:
            return
        registry.ACTIVE.publish_alarm_change(self.alarms[alarm_name], previous[0], previous[1])

    CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]


# 14. moto's GetMetricData answers only Sum/Average/Minimum/Maximum/SampleCount
#     (Statistics.get_statistics_for_type returns None for percentiles, and the response
#     then fails with a TypeError). CloudWatch answers percentile statistics (`p99`,
#     `p99.9`) too: compute them from the raw datapoints, nearest-rank like CloudWatch.
def _patch_percentile_statistics() -> None:
    original = registry.ORIGINALS["Statistics.get_statistics_for_type"]

    def get_statistics_for_type(self: Statistics, stat: str) -> Any:
        value = original(self, stat)
        if value is not None or registry.ACTIVE is None or not _is_percentile(stat):
            return value
        values = sorted(self.metric_single_values_list)
        if not values:
            return None
        rank = math.ceil(float(stat[1:]) / 100 * len(values))
        return values[max(rank, 1) - 1]

    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]


def _is_percentile(stat: str) -> bool:
    try:
        return stat.startswith("p") and 0 < float(stat[1:]) <= 100
    except ValueError:
        return False


def apply() -> None:
    _patch_alarm_state_events()
    _patch_percentile_statistics()
