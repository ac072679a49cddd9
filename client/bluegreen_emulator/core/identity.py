"""Who is calling AWS on this thread: a role (a function's, a state machine's) or the account.

A Lambda invocation acts as its function's execution role, a Step Functions execution as
its state machine's role; the emulated services themselves (moto answering a request,
CodeDeploy shifting traffic) act as the account, which IAM does not constrain here.
Threads a function starts inherit its identity (stack/runtime.py propagates it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCAL = threading.local()


def current() -> str | None:
    """The role ARN calls on this thread are made with (None: the account itself)."""
    return getattr(_LOCAL, "role_arn", None)


@contextmanager
def acting_as(role_arn: str | None) -> Iterator[None]:
    previous = current()
    _LOCAL.role_arn = role_arn
    try:
        yield
    finally:
        _LOCAL.role_arn = previous


def set_current(role_arn: str | None) -> None:
    """For a thread that starts inside a sandbox: take the identity of its starter."""
    _LOCAL.role_arn = role_arn
