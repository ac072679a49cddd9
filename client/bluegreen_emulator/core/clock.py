"""The emulator's clock: emulated time, as the account's functions and executions see it.

The model (docs/emulator.md, "Time"):

- **A shared base.** `Clock.base` is how far the whole account's time has moved for
  everyone (emulated seconds since the emulator started). Only `advance(seconds)` moves
  it: a test saying "an hour passes" for every execution and invocation at once.
- **A timeline per actor.** Each Lambda invocation and each Step Functions execution
  runs on its own `Timeline`: its elapsed time is the base's movement since it began plus
  the time of its own waits. Concurrent actors never add to each other's time; threads
  started inside an actor (a task's worker, a function's pool) join its timeline and
  share its time (their waits add up: an over-estimate, never an under-estimate).
- **Time passes by waiting, never by computing.** A `Wait` state, a `Retry` back-off, an
  SDK retry back-off, a function's `time.sleep`, an AWS call slowed by `aws.slow(...)`,
  and a synchronous call to another actor (a task invoking a function: the caller waits
  for the callee's own time) move a timeline. Computation takes no emulated time, so no
  outcome depends on how loaded the machine is.
- **Deadlines.** An invocation's deadline is its function's `Timeout`: a wait that reaches
  it ends there and the sandbox is killed (`SandboxTimedOut`, which function code cannot
  catch as an `Exception`; every AWS call after it is refused). An execution's deadline is
  its state machine's `TimeoutSeconds`: a wait that reaches it ends there, and the
  execution is timed out before any further state runs.
- **Real time.** With `scale` 0 (tests) nothing really sleeps; with `scale` > 0 (the demo,
  `make server SCALE=...`) every wait also really sleeps `scale` seconds per emulated
  second, so a person can follow a canary as it bakes. A Task's own `TimeoutSeconds` and
  `HeartbeatSeconds` (how long something outside the machine takes to answer, e.g. an
  approver) are measured in real time by moto.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

# a thread blocked at its execution's deadline waits at most this long (real seconds) for
# the execution to be timed out; it never needs more than a few milliseconds
RELEASE_SECONDS = 30.0

_LOCAL = threading.local()


class SandboxTimedOut(BaseException):
    """The invocation ran out of time: Lambda stops its sandbox (no code runs on, no call
    goes out). A BaseException, so function code's `except Exception` cannot swallow it."""

    def __init__(self, function: str, timeout: float) -> None:
        super().__init__(f"{function}: Task timed out after {timeout:.2f} seconds")
        self.function, self.timeout = function, timeout


class Timeline:
    """One actor's time: the base's movement since it began plus its own waits."""

    kind = "timeline"

    def __init__(self, clock: Clock, name: str, deadline: float | None = None) -> None:
        self.clock = clock
        self.name = name
        self.start_base = clock.base
        self.start_now = clock.now()  # the caller's now: a callee starts where its caller is
        self.own = 0.0  # emulated seconds its own waits took
        self.deadline = deadline  # elapsed seconds it may run for (None: no limit)
        self.expired = threading.Event()  # its time reached the deadline
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return (self.clock.base - self.start_base) + self.own

    def now(self) -> float:
        return self.start_now + self.elapsed()

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - self.elapsed())

    def advance(self, seconds: float) -> float:
        """Let `seconds` of this actor's own time pass, stopping at its deadline; returns
        the time that passed. Reaching the deadline is handled by `reach_deadline`."""
        with self._lock:
            step = max(seconds, 0.0)
            room = self.remaining()
            if room is not None:
                step = min(step, room)
            self.own += step
            reached = self.deadline is not None and self.elapsed() >= self.deadline
        if reached:
            self.expired.set()
        return step

    def check(self) -> None:
        """Called before anything this actor does that takes time or goes out."""
        if self.expired.is_set():
            self.reach_deadline()

    def reach_deadline(self) -> None:  # pragma: no cover - each kind decides
        raise NotImplementedError


class InvocationTimeline(Timeline):
    """A Lambda invocation: killed at its function's timeout."""

    kind = "invocation"

    def reach_deadline(self) -> None:
        assert self.deadline is not None
        raise SandboxTimedOut(self.name, self.deadline)


class ExecutionTimeline(Timeline):
    """A Step Functions execution: timed out at its `TimeoutSeconds`. A thread of it that
    reaches the deadline waits there until the execution has been timed out, so no state
    runs after it (`released` is set by the one who times it out)."""

    kind = "execution"

    def __init__(self, clock: Clock, name: str, deadline: float | None = None) -> None:
        super().__init__(clock, name, deadline)
        self.released = threading.Event()

    def reach_deadline(self) -> None:
        self.released.wait(RELEASE_SECONDS)


def current() -> Timeline | None:
    """The timeline the calling thread runs on (None: the test, the emulator itself)."""
    return getattr(_LOCAL, "timeline", None)


def set_current(timeline: Timeline | None) -> None:
    """For a thread that starts inside an actor: join its starter's timeline."""
    _LOCAL.timeline = timeline


@contextmanager
def running_on(timeline: Timeline | None) -> Iterator[Timeline | None]:
    previous = current()
    _LOCAL.timeline = timeline
    try:
        yield timeline
    finally:
        _LOCAL.timeline = previous


def detached() -> AbstractContextManager[Timeline | None]:
    """Off the calling thread's timeline: what runs here (an asynchronous delivery, a
    service invoking a hook) takes none of the caller's time."""
    return running_on(None)


@dataclass
class Clock:
    """The account's clock (see the module docstring for the model)."""

    scale: float = 0.0  # real seconds per emulated second of waiting
    waited: float = field(default=0.0)  # emulated seconds of every wait asked for
    base: float = field(default=0.0)  # the shared base: emulated seconds for everyone
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- reading ---------------------------------------------------------------------------
    def now(self) -> float:
        """Emulated seconds since the emulator started, for the calling thread."""
        timeline = current()
        return self.base if timeline is None else timeline.now()

    def elapsed(self) -> float:
        """How long the calling thread's actor has run (0 outside any actor)."""
        timeline = current()
        return 0.0 if timeline is None else timeline.elapsed()

    # -- time passing ----------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Time passes for everyone: every running actor's elapsed time grows."""
        with self._lock:
            self.base += max(seconds, 0.0)
        for timeline in list(_LIVE):
            if timeline.deadline is not None and timeline.elapsed() >= timeline.deadline:
                timeline.expired.set()

    def sleep(self, emulated_seconds: float) -> None:
        """A wait of the calling actor (a back-off, a function's `time.sleep`)."""
        self._wait(None, emulated_seconds, counts_as_waiting=True)

    def wait(self, event: threading.Event, emulated_seconds: float) -> None:
        """A `Wait` state: as `sleep`, and a real wait ends early when `event` is set (the
        execution stopped)."""
        self._wait(event, emulated_seconds, counts_as_waiting=True)

    def spend(self, emulated_seconds: float) -> None:
        """Time the calling actor spends waiting for an answer (a slowed AWS call, a
        synchronous call to another actor): as `sleep`, but not counted in `waited`."""
        self._wait(None, emulated_seconds, counts_as_waiting=False)

    def real_seconds(self, emulated_seconds: float) -> float:
        """How long a wait of `emulated_seconds` really takes (and count it as waited)."""
        with self._lock:
            self.waited += max(emulated_seconds, 0.0)
        return max(emulated_seconds, 0.0) * self.scale

    def _wait(
        self, event: threading.Event | None, seconds: float, *, counts_as_waiting: bool
    ) -> None:
        seconds = max(seconds, 0.0)
        if counts_as_waiting:
            with self._lock:
                self.waited += seconds
        timeline = current()
        if timeline is not None:
            timeline.check()
            seconds = timeline.advance(seconds)
        real = seconds * self.scale
        if real > 0:
            (event or threading.Event()).wait(real)
        if timeline is not None:
            timeline.check()

    # -- actors ----------------------------------------------------------------------------
    def invocation(self, function: str, timeout: float) -> InvocationTimeline:
        return _live(InvocationTimeline(self, function, timeout))

    def execution(self, name: str, timeout: float | None) -> ExecutionTimeline:
        return _live(ExecutionTimeline(self, name, timeout))


# timelines of actors still running (so `advance` can expire them), until `ended`
_LIVE: set[Timeline] = set()
_T = TypeVar("_T", bound=Timeline)
_LIVE_LOCK = threading.Lock()


def _live(timeline: _T) -> _T:
    with _LIVE_LOCK:
        _LIVE.add(timeline)
    return timeline


def ended(timeline: Timeline) -> None:
    """The actor finished: `advance` no longer needs to look at it."""
    with _LIVE_LOCK:
        _LIVE.discard(timeline)
