"""Deployment events on EventBridge, for anyone to subscribe to.

source: the stack's EVENT_SOURCE (default `bluegreen`); detail-type one of
DETAIL_TYPES; detail always carries `deploymentId` and `platform`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

STARTED = "Switch Started"
STEP = "Switch Step"
GATE = "Switch Gate"  # a gate's verdicts, each with its figures
APPROVAL_NEEDED = "Switch Approval Needed"
SUCCEEDED = "Switch Succeeded"
ROLLED_BACK = "Switch Rolled Back"
FAILED = "Switch Failed"
DETAIL_TYPES = (STARTED, STEP, GATE, APPROVAL_NEEDED, SUCCEEDED, ROLLED_BACK, FAILED)


class Announcer:
    def __init__(self, events: Any, source: str, bus: str) -> None:
        self.events = events
        self.source = source
        self.bus = bus

    def announce(
        self, detail_type: str, detail: Mapping[str, Any], resources: list[str] | None = None
    ) -> None:
        if detail_type not in DETAIL_TYPES:
            raise ValueError(f"unknown detail type {detail_type!r}")
        response = self.events.put_events(
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(dict(detail), default=str),
                    "EventBusName": self.bus,
                    "Resources": resources or [],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(
                f"EventBridge refused the {detail_type!r} event: {response['Entries']}"
            )
