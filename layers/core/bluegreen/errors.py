"""Named errors. Lambda reports an exception's class name as the error type, so these
names are what the state machine's `Retry`/`Catch` blocks match in `ErrorEquals`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class BlueGreenError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidInput(BlueGreenError):
    """The request is wrong; nothing was changed. Names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidConfiguration(BlueGreenError):
    """A function's environment (or a stored configuration) is wrong."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def cause_message(error: Mapping[str, Any]) -> str:
    """The message of a Step Functions Catch `{"Error", "Cause"}`: a Lambda error's Cause
    is its JSON error payload (the `errorMessage` is what a person wants); other causes
    are plain text."""
    raw = str(error.get("Cause") or "")
    if raw.startswith("{"):
        try:
            return str(json.loads(raw).get("errorMessage", raw))
        except ValueError:
            return raw
    return raw
