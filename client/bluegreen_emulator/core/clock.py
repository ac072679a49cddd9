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
- **Timers.** `Timeline.after(seconds, callback)` fires when the actor's time has moved
  that far (by `advance` or its own waits, on the thread that moved it), never because
  real time passed. `Clock.await_event` waits for something outside the actor (a task's
  callback or heartbeat, a task's answer within its `TimeoutSeconds`) until the first of
  the event or the timer: whichever happened first decides.
- **Flows.** An emulated service's workflow (a CodeDeploy or ECS deployment, core/flow.py)
  runs on a `FlowTimeline`: its waits move it, its dates read it, and the hooks it invokes
  start at its now. A flow run in the background takes real time per step; so at scale
  0, a `sleep` of an invocation no flow started (a delivery's: the reaper polling a
  rollback) first lets each background flow take one more step (`yield_to`): however
  loaded the machine, a poll never comes round before the platform moved.
- **Epoch time.** `Clock.epoch()` is the same emulated now as a date (epoch seconds):
  a fixed origin (the real time the emulator started, floored to its minute) plus
  `now()`. Whatever is stamped with a date (a metric's timestamp, a state's entered
  time, a metric query's window, a function's `time.time`, a lifecycle event's start and
  end) reads it, so all of them
  agree on one emulated timeline. Off any actor's timeline (a test, the emulator's own
  threads) `time.time` and `date_now()` are the real clock.
- **Real time.** With `scale` 0 (tests) nothing really sleeps; with `scale` > 0 (the demo,
  `make server SCALE=...`) every wait also really sleeps `scale` seconds per emulated
  second, so a person can follow a canary as it bakes. What is still measured in real
  time: a probe's HTTP latency and its socket timeout (`time.perf_counter` in the layer),
  `datetime.now()` and `time.monotonic()` inside a function, and the real-second bounds
  of `Emulator.wait_for_execution` and the like (safety nets, never verdicts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

# a thread blocked at its execution's deadline waits at most this long (real seconds) for
# the execution to be timed out; it never needs more than a few milliseconds
RELEASE_SECONDS = 30.0

# the header an actor's HTTP request carries its `Clock.epoch` in (moto_patches/clock.py)
SENT_AT_HEADER = "X-Bluegreen-Emulated-Sent-At"

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
        self.caller = current()  # the actor that started it (None: none, e.g. a delivery)
        self.own = 0.0  # emulated seconds its own waits took
        self.deadline = deadline  # elapsed seconds it may run for (None: no limit)
        self.expired = threading.Event()  # its time reached the deadline
        self._lock = threading.Lock()
        self._timers: list[Timer] = []  # what fires when its time reaches a point (`after`)

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
        self.fire_due()
        return step

    def after(self, seconds: float, callback: Callable[[], None]) -> Timer:
        """Call `callback` once this actor's time has moved `seconds` from now (by its own
        waits or by `Clock.advance`), on the thread that moved it; at once if `seconds` is
        not positive. Real time never fires it."""
        timer = Timer(self.elapsed() + max(seconds, 0.0), callback)
        with self._lock:
            self._timers.append(timer)
        self.fire_due()
        return timer

    def fire_due(self) -> None:
        """Fire the timers whose time has come (in the order of their times)."""
        with self._lock:
            elapsed = self.elapsed()
            due = sorted((t for t in self._timers if t.at <= elapsed), key=lambda t: t.at)
            self._timers = [t for t in self._timers if t.at > elapsed]
        for timer in due:
            timer.fire()

    def check(self) -> None:
        """Called before anything this actor does that takes time or goes out."""
        if self.expired.is_set():
            self.reach_deadline()

    def reach_deadline(self) -> None:  # pragma: no cover - each kind decides
        raise NotImplementedError


class Timer:
    """A callback due when a timeline's elapsed time reaches `at` (`Timeline.after`)."""

    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self._callback: Callable[[], None] | None = callback
        self._lock = threading.Lock()

    def fire(self) -> None:
        with self._lock:
            callback, self._callback = self._callback, None
        if callback is not None:
            callback()

    def cancel(self) -> None:
        """It will not fire (it may have already)."""
        with self._lock:
            self._callback = None


class FirstOf:
    """Of several endings racing (an answer, a timeout), the first to happen decides:
    `end(name)` is True for the first caller only, and `ended` is set then."""

    def __init__(self) -> None:
        self.winner: str | None = None
        self.ended = threading.Event()
        self._lock = threading.Lock()

    def end(self, name: str) -> bool:
        with self._lock:
            if self.winner is not None:
                return False
            self.winner = name
        self.ended.set()
        return True


class InvocationTimeline(Timeline):
    """A Lambda invocation: killed at its function's timeout."""

    kind = "invocation"

    def reach_deadline(self) -> None:
        assert self.deadline is not None
        raise SandboxTimedOut(self.name, self.deadline)


class FlowTimeline(Timeline):
    """An emulated service's workflow (a CodeDeploy or ECS deployment, core/flow.py):
    its waits (a bake, a hook's timeout, a termination wait) move it, and what it
    stamps (a lifecycle event's start and end) reads it. It has no deadline."""

    kind = "flow"

    def reach_deadline(self) -> None:  # pragma: no cover - it has no deadline
        return None


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


def date_now() -> datetime:
    """The calling actor's emulated now as a date (UTC); the real clock's off any actor."""
    timeline = current()
    if timeline is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(timeline.clock.origin + timeline.now(), UTC)


def detached() -> AbstractContextManager[Timeline | None]:
    """Off the calling thread's timeline: what runs here (an asynchronous delivery, a
    service invoking a hook) takes none of the caller's time."""
    return running_on(None)


def whole_minute(epoch: float) -> float:
    """`epoch` floored to its minute. The emulated account starts on a whole minute, so
    whatever is counted per minute (the ALB's metrics, an analysis window's buckets)
    splits the same way whenever a test runs, not by the wall clock's seconds."""
    return float(int(epoch // 60) * 60)


@dataclass
class Clock:
    """The account's clock (see the module docstring for the model)."""

    scale: float = 0.0  # real seconds per emulated second of waiting
    waited: float = field(default=0.0)  # emulated seconds of every wait asked for
    base: float = field(default=0.0)  # the shared base: emulated seconds for everyone
    origin: float = field(default_factory=lambda: whole_minute(time.time()))  # when now() was 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # called before an outside invocation's sleep at scale 0: lets background flows step
    yield_to: Callable[[], None] | None = field(default=None, repr=False)

    # -- reading ---------------------------------------------------------------------------
    def now(self) -> float:
        """Emulated seconds since the emulator started, for the calling thread."""
        timeline = current()
        return self.base if timeline is None else timeline.now()

    def epoch(self) -> float:
        """The calling thread's emulated now as a date (epoch seconds): a 300 s bake at
        scale 0 is 300 s later for everything stamped with it."""
        return self.origin + self.now()

    def epoch_of(self, sent_at: str | None) -> float:
        """When a request was sent: its sender's `epoch` (the header it carries), else the
        calling thread's."""
        try:
            return float(sent_at) if sent_at else self.epoch()
        except ValueError:
            return self.epoch()

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
            timeline.fire_due()

    def sleep(self, emulated_seconds: float) -> None:
        """A wait of the calling actor (a back-off, a function's `time.sleep`)."""
        timeline = current()
        if (
            self.yield_to is not None
            and self.scale == 0
            and isinstance(timeline, InvocationTimeline)
            and timeline.caller is None
        ):
            self.yield_to()
        self._wait(None, emulated_seconds, counts_as_waiting=True)

    def wait(self, event: threading.Event, emulated_seconds: float) -> None:
        """A `Wait` state: as `sleep`, and a real wait ends early when `event` is set (the
        execution stopped)."""
        self._wait(event, emulated_seconds, counts_as_waiting=True)

    def spend(self, emulated_seconds: float) -> None:
        """Time the calling actor spends waiting for an answer (a slowed AWS call, a
        synchronous call to another actor): as `sleep`, but not counted in `waited`."""
        self._wait(None, emulated_seconds, counts_as_waiting=False)

    def await_event(
        self,
        event: threading.Event,
        emulated_seconds: float | None,
        expired: Callable[[], None] | None = None,
    ) -> bool:
        """Wait for something outside the calling actor (a callback, a heartbeat, a task's
        answer) for at most `emulated_seconds` of the actor's time: True if `event` was set
        first, False if its time got there first (then `expired` is called at that moment,
        on the thread that moved the time, before anyone can set `event` after it).
        Time passes only by `advance` or the actor's own waits, never by waiting here.
        Off any actor's timeline it is `event.wait(emulated_seconds)` in real time."""
        timeline = current()
        if timeline is None or emulated_seconds is None:
            return event.wait(emulated_seconds)
        cond = event._cond  # type: ignore[attr-defined]  # Event's own condition: set() takes it
        state = {"expired": False}

        def expire() -> None:
            with cond:
                if event.is_set():
                    return
                state["expired"] = True
                if expired is not None:
                    expired()
                cond.notify_all()

        timer = timeline.after(emulated_seconds, expire)
        try:
            with cond:
                while not event.is_set() and not state["expired"]:
                    cond.wait()
                return not state["expired"]
        finally:
            timer.cancel()

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

    def flow(self, name: str) -> FlowTimeline:
        """A workflow's timeline, starting at the calling actor's now (who created it)."""
        return FlowTimeline(self, name)

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
