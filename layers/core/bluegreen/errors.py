"""Named errors. Lambda reports an exception's class name as the error type, so these
names are what the state machine's `Retry`/`Catch` blocks match in `ErrorEquals`."""

from __future__ import annotations


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
