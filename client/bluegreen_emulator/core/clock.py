"""The emulator's clock: how long emulated waits really take.

A `Wait` state of 300 s or a retry back-off of 2 s is multiplied by `scale` before the
emulator really sleeps. Tests use 0 (waits are skipped, a stop still interrupts them);
the demo picks a small scale so a person can follow a canary as it bakes.
Timeouts (a task token's `TimeoutSeconds`, a hook's deadline) are not scaled: they
measure how long something outside the machine takes to answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Clock:
    scale: float = 0.0
    waited: float = field(default=0.0)  # emulated seconds the machine asked to wait
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def real_seconds(self, emulated_seconds: float) -> float:
        with self._lock:
            self.waited += max(emulated_seconds, 0.0)
        return max(emulated_seconds, 0.0) * self.scale

    def now(self) -> float:
        """Emulated wall time (epoch seconds): real time plus the waits the clock skipped,
        so a 300 s bake at scale 0 is 300 s later for everything stamped with it."""
        return time.time() + self.waited * (1.0 - self.scale)

    def wait(self, event: threading.Event, emulated_seconds: float) -> None:
        """Wait on `event` (set when the execution stops) for the scaled duration."""
        seconds = self.real_seconds(emulated_seconds)
        if seconds > 0:
            event.wait(seconds)

    def sleep(self, emulated_seconds: float) -> None:
        seconds = self.real_seconds(emulated_seconds)
        if seconds > 0:
            threading.Event().wait(seconds)
