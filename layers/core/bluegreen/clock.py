"""The wall clock the layer reads.

`now()` is `time.time()`, looked up at each call rather than captured as a default at
import: on AWS it is the real clock; a runtime that gives each invocation its own clock
(the emulator's per-invocation `time.time`) is honoured wherever the layer stamps a
date, computes a lease's expiry or a metric query's window.
"""

from __future__ import annotations

import time


def now() -> float:
    """Epoch seconds, now."""
    return time.time()
