"""A background flow's step takes real time, an actor's wait at scale 0 takes none: an
outside invocation's sleep lets each background flow take one more step first
(core/flow.py `let_flows_step`, core/clock.py `yield_to`), so a function polling a
platform (the reaper waiting out a rollback) never spends its patience before the
platform moved, however loaded the machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bluegreen_emulator.core import clock as clocks
from bluegreen_emulator.core.clock import Clock
from bluegreen_emulator.core.flow import FlowDriver, Step

pytestmark = pytest.mark.unit


def _platform(clock: Clock, gate: threading.Event) -> tuple[FlowDriver, list[str]]:
    """A background flow whose first step does real work until `gate` opens."""
    driver = FlowDriver(clock)
    driver.background = True
    clock.yield_to = driver.let_flows_step
    done: list[str] = []

    def rollback() -> Iterator[Step]:
        gate.wait(30)  # bounded: the step's real work, finished when the test says
        done.append("rolled back")
        yield "rolled back"

    driver.start_flow("d-1", rollback())
    return driver, done


def _sleep_in(
    clock: Clock, timeline: clocks.Timeline, seen: list[list[str]], flow: list[str]
) -> threading.Thread:
    def run() -> None:
        with clocks.running_on(timeline):
            clock.sleep(10)
        seen.append(list(flow))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_outside_invocations_sleep_waits_for_the_platforms_next_step() -> None:
    # Given a platform flow busy with a step, and a delivery's invocation (no caller)
    clock, gate = Clock(), threading.Event()
    driver, flow = _platform(clock, gate)
    reaper = clock.invocation("ReaperFunction", 300)
    seen: list[list[str]] = []

    # When the invocation sleeps
    sleeper = _sleep_in(clock, reaper, seen, flow)

    # Then its sleep has not returned while the step still runs
    sleeper.join(0.3)  # bounded: still sleeping after 0.3 s
    assert sleeper.is_alive() and seen == []
    # and once the step is done, it returns having seen it, its 10 s passed
    gate.set()
    sleeper.join(30)
    assert seen == [["rolled back"]]
    assert reaper.elapsed() == pytest.approx(10)
    driver.close()


def test_a_sleep_of_an_invocation_the_flow_started_does_not_wait_for_it() -> None:
    # Given the platform busy with a step, and a hook it invoked (its caller is the flow)
    clock, gate = Clock(), threading.Event()
    driver, flow = _platform(clock, gate)
    with clocks.running_on(driver.timelines["d-1"]):
        hook = clock.invocation("HookFunction", 60)
    seen: list[list[str]] = []

    # When the hook sleeps, then its sleep returns at once (the flow waits for it)
    _sleep_in(clock, hook, seen, flow).join(30)
    assert seen == [[]]
    gate.set()
    driver.close()


def test_a_flow_nobody_runs_in_the_background_is_not_waited_for() -> None:
    # Given a flow started while the platform was driven by hand, then background set
    clock = Clock()
    driver = FlowDriver(clock)
    clock.yield_to = driver.let_flows_step

    def deployment() -> Iterator[Step]:
        yield "created"

    driver.start_flow("d-2", deployment())
    driver.background = True
    seen: list[list[str]] = []

    # When a delivery's invocation sleeps, then it returns at once: no thread would step it
    _sleep_in(clock, clock.invocation("ReaperFunction", 300), seen, []).join(30)
    assert seen == [[]]
    assert "d-2" in driver.flows
    driver.close()
