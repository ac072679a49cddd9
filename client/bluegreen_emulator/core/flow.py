"""A deterministic driver for emulated AWS workflows (a CodeDeploy or ECS deployment).

A flow is a generator of steps: a string names what just happened, a `Wait` asks for
emulated time to pass. Tests drive flows one step at a time (`advance`,
`run_until_done`): waits move an emulated counter and the flow's own timeline
(core/clock.py, `FlowTimeline`: what the flow stamps reads it, and the functions it
invokes start at its now), and nothing sleeps. With `background` set, each flow runs on
its own thread, also really sleeping `clock`-scaled time (the demo).

A background flow's steps take real time, while an actor's wait takes none at scale 0:
a function polling a platform (the reaper waiting out a rollback) could spend all of its
emulated patience before the flow took one step, however loaded the machine. So an
outside actor's wait first lets every background flow in flight take one more step
(`let_flows_step`): a poll interval is at least one step of the platform, never zero.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from . import clock as clocks
from .clock import Clock, Timeline


@dataclass
class Wait:
    """A step that waits `seconds` of emulated time, or until `until()` holds."""

    seconds: float
    reason: str
    until: Callable[[], bool] | None = None


Step = str | Wait
Flow = Generator[Step, None, None]


class FlowDriver:
    """Runs flows (generators of steps) one step at a time, or on a background thread.

    `lock` guards bookkeeping only: no lock is held while a step runs (a step invokes
    functions, and a function may call back into the emulation, e.g. to report a hook
    status or stop a deployment). A flow runs one step at a time; an error thrown into a
    flow while it runs a step (a stop request) is delivered right after that step.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._idle = threading.Condition(self.lock)
        self.emulated_seconds = 0.0
        self.background = False
        self.flows: dict[str, Flow] = {}
        self.steps: list[tuple[str, str]] = []  # (id, step) in the order they happened
        self.closed = False
        self._running: set[str] = set()
        self._pending: dict[str, BaseException] = {}
        self.timelines: dict[str, Timeline] = {}  # each flow's emulated time
        self._taken: dict[str, int] = {}  # steps each flow has taken
        self._threaded: set[str] = set()  # flows a background thread is running

    def on_time(self, key: str) -> AbstractContextManager[Timeline | None]:
        """Run on flow `key`'s timeline (made on first use, starting at the caller's
        now): what the flow stamps reads it, and the functions it invokes start there."""
        with self.lock:
            timeline = self.timelines.get(key)
            if timeline is None:
                timeline = self.timelines[key] = self.clock.flow(key)
        return clocks.running_on(timeline)

    def start_flow(self, key: str, flow: Flow) -> None:
        with self.lock:
            self.flows[key] = flow
            if key not in self.timelines:  # its time starts at its creator's now
                self.timelines[key] = self.clock.flow(key)
        if self.background:
            with self.lock:
                self._threaded.add(key)
            threading.Thread(target=self._run_background, args=(key,), daemon=True).start()

    def advance(self, key: str | None = None) -> Step | None:
        """Run the next step of one flow (the oldest unfinished if `key` is None)."""
        flow = self._claim(key)
        if flow is None:
            return None
        name, generator = flow
        try:
            with self.on_time(name):
                step = self._next(name, generator)
            return self._record(name, step)
        finally:
            self._release(name)

    def run_until_done(self, key: str | None = None, max_steps: int = 500) -> None:
        for _ in range(max_steps):
            with self.lock:
                pending = key in self.flows if key else bool(self.flows)
            if not pending:
                return
            self.advance(key)
        raise RuntimeError(f"flow {key or '(any)'} still running after {max_steps} steps")

    def throw(self, key: str, error: BaseException) -> bool:
        """Deliver `error` into the flow now (True), or after its running step (False)."""
        with self._idle:
            if key not in self.flows:
                return True
            if key in self._running:
                self._pending[key] = error
                return False
            generator = self.flows[key]
            self._running.add(key)
        try:
            with self.on_time(key):
                step = self._throw(key, generator, error)
            self._record(key, step)
        finally:
            self._release(key)
        return True

    def close(self) -> None:
        """The emulator is stopping: background flows end where they are."""
        with self._idle:
            self.closed = True
            self._idle.notify_all()

    def let_flows_step(self, safety_net: float = 30.0) -> None:
        """Return once every flow a background thread runs has taken one more step or
        ended (see the module docstring); real seconds, at most `safety_net` (a hung
        flow). A flow nobody runs in the background (a test drives it) is not waited for."""
        with self._idle:
            taken = {key: self._taken.get(key, 0) for key in self._threaded}
            self._idle.wait_for(
                lambda: (
                    self.closed
                    or all(
                        key not in self._threaded or self._taken.get(key, 0) > count
                        for key, count in taken.items()
                    )
                ),
                safety_net,
            )

    # -- internals ----------------------------------------------------------------------------
    def _claim(self, key: str | None) -> tuple[str, Flow] | None:
        """Take a flow to run one step of (waiting while another thread runs it)."""
        with self._idle:
            while True:
                if key is not None and key not in self.flows:
                    return None
                if key is None and not self.flows:
                    return None
                candidates = [key] if key is not None else list(self.flows)
                name = next((k for k in candidates if k not in self._running), None)
                if name is not None:
                    self._running.add(name)
                    return name, self.flows[name]
                self._idle.wait()

    def _release(self, key: str) -> None:
        with self._idle:
            self._running.discard(key)
            self._idle.notify_all()

    def _next(self, key: str, generator: Flow) -> Step | None:
        try:
            step: Step | None = next(generator)
        except StopIteration:
            self._finished(key)
            return None
        while step is not None:
            with self.lock:
                error = self._pending.pop(key, None)
            if error is None:
                break
            step = self._throw(key, generator, error)
        return step

    def _throw(self, key: str, generator: Flow, error: BaseException) -> Step | None:
        try:
            return generator.throw(error)
        except StopIteration:
            self._finished(key)
            return None

    def _finished(self, key: str) -> None:
        with self._idle:
            self.flows.pop(key, None)
            self._pending.pop(key, None)
            self._idle.notify_all()

    def _record(self, key: str, step: Step | None) -> Step | None:
        if step is None:
            return None
        with self._idle:
            self._taken[key] = self._taken.get(key, 0) + 1
            self._idle.notify_all()
            self.steps.append((key, step if isinstance(step, str) else f"wait: {step.reason}"))
            if isinstance(step, Wait) and not (step.until and step.until()):
                self.emulated_seconds += step.seconds
                timeline = self.timelines.get(key)
                if timeline is not None:  # the wait is the flow's time passing
                    timeline.advance(step.seconds)
        return step

    def _run_background(self, key: str) -> None:
        try:
            while not self.closed:
                with self.lock:
                    if key not in self.flows:
                        return
                step = self.advance(key)
                if isinstance(step, Wait):
                    self._sleep(step)
        finally:
            with self._idle:
                self._threaded.discard(key)
                self._idle.notify_all()

    def _sleep(self, step: Wait) -> None:
        slices = 20
        for _ in range(slices):
            if self.closed or (step.until and step.until()):
                return
            self.clock.sleep(step.seconds / slices)
