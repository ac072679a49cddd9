"""The `CloudWatch Alarm State Change` event, as EventBridge delivers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import BlueGreenError

ALARM = "ALARM"


class InvalidAlarmEvent(BlueGreenError):
    """The event is not a CloudWatch alarm state change (names the missing field)."""


@dataclass(frozen=True)
class AlarmChange:
    """One alarm state change: which alarm, into which state, when and why."""

    alarm: str
    state: str
    reason: str
    timestamp: str  # detail.state.timestamp, exactly as CloudWatch sent it

    @property
    def key(self) -> str:
        """Identifies this change across EventBridge's duplicate deliveries."""
        return f"{self.alarm}@{self.timestamp}"

    @property
    def epoch(self) -> float | None:
        """The state change time in epoch seconds (None if the stamp is unreadable)."""
        for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
            try:
                return datetime.strptime(self.timestamp, pattern).timestamp()
            except ValueError:
                continue
        return None

    @classmethod
    def from_event(cls, event: Any) -> AlarmChange:
        if not isinstance(event, Mapping):
            raise InvalidAlarmEvent(f"the event must be a JSON object, got {type(event).__name__}")
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            raise InvalidAlarmEvent("detail: missing; not an EventBridge alarm event")
        state = detail.get("state")
        if not isinstance(state, Mapping):
            raise InvalidAlarmEvent("detail.state: missing")
        alarm, value = detail.get("alarmName"), state.get("value")
        if not isinstance(alarm, str) or not alarm:
            raise InvalidAlarmEvent("detail.alarmName: missing or empty")
        if not isinstance(value, str) or not value:
            raise InvalidAlarmEvent("detail.state.value: missing or empty")
        return cls(
            alarm=alarm,
            state=value,
            reason=str(state.get("reason") or ""),
            timestamp=str(state.get("timestamp") or event.get("time") or ""),
        )
