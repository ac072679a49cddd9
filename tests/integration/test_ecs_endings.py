"""Every way an ECS switch can end: production, the record and the lock agree afterwards.

The platform moves the traffic here (CodeDeploy's ECS blue/green, or ECS-native
blue/green, emulated in the background as they run on AWS, concurrently with the
switch), so a restore is the platform's rollback, and what the record says must be what
the service and its listeners serve once the platform has finished:

- a stop by hand at every state of the ECS path, as it enters and as it leaves;
- a hook failing at each CodeDeploy lifecycle event;
- a deployment group whose automatic rollback is off: refused at the first state, and if
  it is turned off after that, a failure is recorded as what production then serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.codedeploy.models import codedeploy_backends

from bluegreen.hooks.config import CODEDEPLOY_EVENTS
from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ecs_fleet import EcsFleet, build_ecs_fleet

from . import sweep
from .ec2_helpers import AwsCalls, detail_types, finished, hooked_layer_clients, start_switch
from .stopping import ORDERS, StopPoint, stop_at
from .test_ecs_switch import MODES, ecs_request, lock_free, record_of, serving_one_colour, settle

pytestmark = pytest.mark.integration

ENDINGS = {"Switch Succeeded", "Switch Rolled Back", "Switch Failed"}
STATES = [("EcsBegin", 1), ("EcsStartDeployment", 1), ("EcsWait", 1), ("EcsObserve", 1),
          ("Finish", 1)]  # fmt: skip


@pytest.fixture
def calls() -> Iterator[AwsCalls]:
    with hooked_layer_clients(AwsCalls()) as hooked:
        yield hooked


def emulator_for(calls: AwsCalls, mode: str) -> tuple[Emulator, EcsFleet]:
    aws = Emulator().start()
    calls.aws = aws
    for emulation in (aws.codedeploy_emulation, aws.ecs_emulation):
        emulation.background = True
    return aws, build_ecs_fleet(aws, mode=MODES[mode])


def assert_one_truthful_ending(aws: Emulator, fleet: EcsFleet, name: str, point: str) -> str:
    """Once the platform has finished: production on one colour, the record saying
    which, the lock free, one ending announced."""
    settle(aws)
    colour = serving_one_colour(aws, fleet)
    assert lock_free(aws, fleet), f"{point}: the lock is held"
    try:
        saved = record_of(aws, name)
    except Exception:
        assert colour.endswith("blue"), f"{point}: no record, yet serving {colour}"
        return "NO_RECORD"
    expected = {"ROLLED_BACK": "blue", "SUCCEEDED": "green"}
    assert saved["status"] in expected, f"{point}: {saved['status']} ({saved.get('outcome')})"
    assert colour.endswith(expected[saved["status"]]), (
        f"{point}: record says {saved['status']}, production serves {colour}"
    )
    endings = [t for t in detail_types(aws, name) if t in ENDINGS]
    assert len(endings) == 1, f"{point}: announced {endings}"
    return str(saved["status"])


def turn_off_automatic_rollback(aws: Emulator, fleet: EcsFleet) -> None:
    """What `aws deploy update-deployment-group --auto-rollback-configuration
    enabled=false` does (moto has no UpdateDeploymentGroup: set it on moto's group)."""
    backend = codedeploy_backends[aws.account_id][aws.region]
    group = backend.get_deployment_group(str(fleet.application), str(fleet.deployment_group))
    group.auto_rollback_configuration = {"enabled": False, "events": []}


def _stops() -> list[Any]:
    """Every (mode, state, entry, order); outside BLUEGREEN_SWEEP=all, each state in one
    order or the other in turn (the two modes in opposite turns)."""
    everything = sweep.everything()
    cases = []
    for turn, mode in enumerate(MODES):
        for index, (state, nth) in enumerate(STATES):
            for order in ORDERS:
                if everything or ORDERS[(index + turn) % 2] == order:
                    cases.append(
                        pytest.param(mode, state, nth, order, id=f"{mode}-{state}{nth}-{order}",
                                     marks=pytest.mark.sweep)
                    )  # fmt: skip
    return cases


@pytest.mark.parametrize(("mode", "state", "nth", "order"), _stops())
def test_an_ecs_switch_stopped_anywhere_ends_with_production_and_record_agreeing(
    calls: AwsCalls, mode: str, state: str, nth: int, order: str
) -> None:
    aws, fleet = emulator_for(calls, mode)
    try:
        # Given an ECS switch, stopped by hand as it enters or leaves this state
        name = f"stop-{mode}-{state}-{nth}-{order}".lower()
        point = StopPoint(state, nth, order)
        with stop_at(aws, point):
            run = finished(aws, start_switch(aws, ecs_request(fleet, mode), name))
        # Then the stop landed there, and once the platform is done, production, the
        # record and the lock agree
        assert point.stopped, f"the switch never reached {point.label}: {point.seen}"
        assert run.status == "ABORTED", (run.status, run.cause)
        status = assert_one_truthful_ending(aws, fleet, name, point.label)
        if state == "Finish":  # the platform had finished: a stop cannot undo it
            assert status == "SUCCEEDED"
        elif (state, order) in {("EcsBegin", "entering"), ("EcsBegin", "leaving"),
                                ("EcsStartDeployment", "entering")}:  # fmt: skip
            assert status == "ROLLED_BACK"  # stopped before or as the platform started
        # in between, the platform may have finished before the stop or not: either way
        # the record says what production serves (asserted above)
    finally:
        aws.stop()


@pytest.mark.parametrize("event", CODEDEPLOY_EVENTS)
def test_a_hook_failing_at_any_lifecycle_event_ends_rolled_back_and_says_which(
    calls: AwsCalls, event: str
) -> None:
    aws, fleet = emulator_for(calls, "codedeploy")
    try:
        # Given both colours answer 503 (the test listener reaches the original task set
        # until test traffic moves), and only this lifecycle event's hook probes them
        # (before the replacement task set exists, the probe fails for want of it)
        for colour in (fleet.blue_arn, fleet.green_arn):
            aws.alb_http.respond(colour, status=503, body="upstream down")
        checks = {e: (["httpProbes"] if e == event else []) for e in CODEDEPLOY_EVENTS}
        request = ecs_request(fleet, "codedeploy", hooks={"checks": checks})
        # When the switch runs
        name = f"hook-{event}".lower()
        run = finished(aws, start_switch(aws, request, name))
        # Then CodeDeploy rolled back, the record says so and names the failing hook
        assert run.status == "FAILED", run.cause
        assert assert_one_truthful_ending(aws, fleet, name, event) == "ROLLED_BACK"
        outcome = record_of(aws, name)["outcome"]
        assert f"hook {event} Failed" in outcome["cause"], outcome["cause"]
    finally:
        aws.stop()


def test_a_deployment_group_without_automatic_rollback_is_refused_at_the_first_state(
    calls: AwsCalls,
) -> None:
    aws, fleet = emulator_for(calls, "codedeploy")
    try:
        # Given the service's deployment group does not roll back on its own
        turn_off_automatic_rollback(aws, fleet)
        # When a switch is asked for
        run = finished(aws, start_switch(aws, ecs_request(fleet, "codedeploy"), "no-rollback"))
        # Then the first state refuses it, naming the setting, and nothing changed
        assert run.status == "FAILED"
        assert run.states[-1] == "InputRefused"
        assert "autoRollbackConfiguration" in (run.cause or ""), run.cause
        assert assert_one_truthful_ending(aws, fleet, "no-rollback", "refused") == "NO_RECORD"
    finally:
        aws.stop()


def test_automatic_rollback_turned_off_mid_switch_is_recorded_as_what_production_serves(
    calls: AwsCalls,
) -> None:
    aws, fleet = emulator_for(calls, "codedeploy")
    try:
        # Given the group's automatic rollback is turned off after the first state, and
        # the last hook (after production traffic moved) fails
        def turn_off(aws: Emulator, _: str) -> None:
            turn_off_automatic_rollback(aws, fleet)

        aws.alb_http.respond(fleet.green_arn, status=503, body="upstream down")
        checks = {
            e: (["httpProbes"] if e == "AfterAllowTraffic" else []) for e in CODEDEPLOY_EVENTS
        }
        request = ecs_request(fleet, "codedeploy", hooks={"checks": checks})
        point = StopPoint("EcsBegin", 1, "leaving", act=turn_off)
        with stop_at(aws, point):
            run = finished(aws, start_switch(aws, request, "rollback-off"))
        settle(aws)
        # Then the switch failed, and its record says what production serves: whichever
        # colour that is, never "rolled back" while the release serves
        assert point.stopped
        assert run.status == "FAILED"
        saved = record_of(aws, "rollback-off")
        colour = serving_one_colour(aws, fleet)
        if colour.endswith("green"):
            assert saved["status"] == "FAILED", saved["outcome"]
            assert saved["outcome"]["observed"]["serving"] == "to"
        else:
            assert saved["status"] == "ROLLED_BACK", saved["outcome"]
        assert lock_free(aws, fleet)
    finally:
        aws.stop()


class StopWhileStarting(AwsCalls):
    """Stops the execution (and so brings the reaper) just before EcsStart's call that
    creates the platform's deployment: the call still goes out, after the settle."""

    operation: str = ""
    execution: str = ""
    fired: bool = False

    def _before_call(self, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        call = self._call(model)
        starting = call.function == "EcsStartFunction" and call.operation == self.operation
        if starting and self.aws is not None and self.execution and not self.fired:
            self.fired = True
            with acting_as(None):
                self.aws.client("stepfunctions").stop_execution(
                    executionArn=self.execution, error="Stopped", cause="operator"
                )
        return super()._before_call(model, params, **kwargs)


@pytest.mark.parametrize("mode", list(MODES))
def test_a_platform_deployment_created_after_the_ending_was_decided_is_stopped(
    mode: str,
) -> None:
    calls = StopWhileStarting()
    calls.operation = "CreateDeployment" if mode == "codedeploy" else "UpdateService"
    with hooked_layer_clients(calls):
        aws, fleet = emulator_for(calls, mode)
        try:
            # Given an execution stopped (and reaped: nothing had moved) while EcsStart
            # was creating the platform's deployment
            calls.execution = start_switch(aws, ecs_request(fleet, mode), f"late-{mode}")
            run = finished(aws, calls.execution)
            assert calls.fired and run.status == "ABORTED"
            # Then the deployment that got created anyway was stopped with a rollback (by
            # EcsStart, finding the ending decided, or by the reaper, finding it in flight),
            # and production, the record and the lock agree on blue
            stop = "StopDeployment" if mode == "codedeploy" else "StopServiceDeployment"
            stops = [c.function for c in calls.calls if c.operation == stop]
            assert set(stops) & {"EcsStartFunction", "ReaperFunction"}, (
                f"the late deployment was not stopped: {calls.counts()}"
            )
            status = assert_one_truthful_ending(aws, fleet, f"late-{mode}", "late start")
            assert status == "ROLLED_BACK"
        finally:
            aws.stop()
