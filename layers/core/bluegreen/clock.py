"""The wall clock the layer reads, and how it waits.

`now()` is `time.time()` and `sleep()` is `time.sleep()`, looked up at each call rather
than captured as a default at import: on AWS they are the real clock; a runtime that
gives each invocation its own clock (the emulator's per-invocation `time.time` and
`time.sleep`) is honoured wherever the layer stamps a date, computes a lease's expiry or
a metric query's window, or paces what it sends.
"""

from __future__ import annotations

import time


def now() -> float:
    """Epoch seconds, now."""
    return time.time()


def sleep(seconds: float) -> None:
    """Wait `seconds`."""
    time.sleep(seconds)
