"""Work the emulated account still has in flight: executions running, their status events
being delivered, asynchronous invocations. `Emulator.stop()` drains it before the
account goes away, so no thread of a stopped emulator calls into a torn-down moto."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def begin(self) -> None:
        with self._idle:
            self._count += 1

    def done(self) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    @contextmanager
    def track(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.done()

    @property
    def count(self) -> int:
        with self._idle:
            return self._count

    def drain(self, timeout: float) -> int:
        """Wait (real seconds, at most `timeout`) until nothing is in flight; how many
        pieces of work were still running when it gave up (0: drained)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            return self._count
