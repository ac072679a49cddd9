"""moto's EventBridge: delivery to Lambda and Step Functions targets, and the event journal.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import json
import threading
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventsBackend, Rule

from . import registry


# 5. moto's EventBridge delivers to logs, SQS, archives and buses only
#    (Rule.send_to_targets raises NotImplementedError for Lambda). Deliver Lambda and
#    Step Functions targets through the emulator, with moto's own event-pattern matcher;
#    other targets go to moto as before. moto also delivers through DISABLED rules;
#    EventBridge does not, so a disabled rule delivers nothing here.
def _patch_eventbridge_targets() -> None:
    original = registry.ORIGINALS["Rule.send_to_targets"]
    lock = threading.RLock()

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if registry.ACTIVE is None:
            return original(self, original_event, transform_input)  # type: ignore[no-any-return]
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return None
        event = _normalise_event(original_event)
        ours = [t for t in self.targets if _delivered_by_emulator(t["Arn"])]
        for target in ours:
            registry.ACTIVE.deliver_event(self, target, event)
        rest = [t for t in self.targets if not _delivered_by_emulator(t["Arn"])]
        if rest:
            with lock:
                saved, self.targets = self.targets, rest
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = saved
        return None

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _delivered_by_emulator(arn: str) -> bool:
    return arn.startswith(("arn:aws:lambda:", "arn:aws:states:"))


def _normalise_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto stamps `time` as epoch seconds; EventBridge sends an ISO-8601 string."""
    event = dict(event)
    if isinstance(event.get("time"), int | float):
        stamp = datetime.fromtimestamp(event["time"], UTC)
        event["time"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    event.pop("ingestion-time", None)
    return event


# 7. Keep a journal of every event put on any bus (EventsBackend.put_events), so the demo
#    and the tests can read what the stack announced without a subscriber of their own.
def _is_json(text: Any) -> bool:
    try:
        json.loads(text)
    except (TypeError, ValueError):
        return False
    return True


def _patch_event_journal() -> None:
    original = registry.ORIGINALS["EventsBackend.put_events"]

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Journal before delivery: targets run synchronously inside put_events, and a
        # reader of the journal must see a cause (the alarm) before its effects.
        if registry.ACTIVE is not None and len(events) <= 10:
            for event in events:
                if (
                    event.get("Source")
                    and event.get("DetailType")
                    and _is_json(event.get("Detail"))
                ):
                    registry.ACTIVE.journal_event(event)
        entries: list[dict[str, Any]] = original(self, events)
        return entries

    EventsBackend.put_events = put_events  # type: ignore[method-assign]


def apply() -> None:
    _patch_eventbridge_targets()
    _patch_event_journal()
