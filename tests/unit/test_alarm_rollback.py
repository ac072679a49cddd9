"""The alarm's path into `settle`: which alarm changes act, how each guarded deployment
ends, and that one that cannot be settled does not hold up the others. Against a real
(moto, in-process) table and the platform adapter double of test_endings.

The calls made before traffic is restored, duplicates, and races with the machine run
on the emulated AWS in tests/integration/test_alarm_rollback.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.alarm_rollback import AlarmChange, InvalidAlarmEvent, RollbackDeps, roll_back
from bluegreen.alarm_rollback.rollback import RollbackIncomplete
from tests.conftest import load_event
from tests.unit.settle_world import (  # noqa: F401 - world_fixture is the `world` fixture
    LISTENER,
    SNAPSHOT,
    World,
    execution,
    world_fixture,
)

pytestmark = pytest.mark.unit

OTHER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/other-alb/abc/xyz"


def guarded_alarm() -> AlarmChange:
    return AlarmChange.from_event(load_event("alarm-state-change-guarded"))


def begin(world: World, name: str, listener: str = LISTENER, alarm: str = "shop-green-5xx") -> None:
    snapshot = {**SNAPSHOT, "routes": [{"kind": "listener", "arn": listener, "actions": []}]}
    world.store.begin(
        deployment_id=name,
        execution_arn=execution(name),
        lock_resources=[listener],
        alarms=[alarm],
        record={"platform": "EC2", "adapter": "alb", "from": "arn:tg/blue",
                "to": "arn:tg/green", "snapshot": snapshot},
        guard=snapshot,
        lease_until=int(world.now[0]) + 600,
    )  # fmt: skip


def results(report: Any) -> dict[str, str]:
    return {o.deployment_id: o.result for o in report.outcomes}


# -- the event -----------------------------------------------------------------------------------
def test_the_sample_events_parse_into_alarm_changes_keyed_by_alarm_and_state_time() -> None:
    change = guarded_alarm()
    assert (change.alarm, change.state) == ("shop-green-5xx", "ALARM")
    assert change.key == "shop-green-5xx@2026-11-24T10:00:00.000+0000"
    assert change.epoch == 1795514400.0
    assert AlarmChange.from_event(load_event("alarm-state-change-ok")).state == "OK"


def test_an_event_without_an_alarm_name_is_refused_naming_the_field() -> None:
    event = load_event("alarm-state-change-guarded")
    del event["detail"]["alarmName"]
    with pytest.raises(InvalidAlarmEvent, match=r"detail\.alarmName"):
        AlarmChange.from_event(event)


def test_an_event_that_is_not_an_object_is_refused_by_name() -> None:
    with pytest.raises(InvalidAlarmEvent, match="must be a JSON object, got list"):
        AlarmChange.from_event([])


# -- which changes act ---------------------------------------------------------------------------
def test_an_ok_state_touches_nothing(world: World) -> None:
    begin(world, "d1")
    report = roll_back(
        AlarmChange.from_event(load_event("alarm-state-change-ok")), RollbackDeps(world.deps())
    )
    assert report.note == "state OK: only ALARM rolls back"
    assert world.adapter.calls == []
    assert world.store.status("d1") == "IN_PROGRESS"


def test_an_alarm_that_guards_nothing_changes_nothing(world: World) -> None:
    begin(world, "d1", alarm="shop-p99")

    report = roll_back(guarded_alarm(), RollbackDeps(world.deps()))

    assert (report.note, report.outcomes) == ("guards no running deployment", [])
    assert world.store.status("d1") == "IN_PROGRESS"


# -- how each guarded deployment ends ------------------------------------------------------------
def test_every_deployment_the_alarm_guards_is_settled_by_it(world: World) -> None:
    begin(world, "d1", LISTENER)
    begin(world, "d2", OTHER)

    report = roll_back(guarded_alarm(), RollbackDeps(world.deps()))

    assert results(report) == {"d1": "ROLLED_BACK", "d2": "ROLLED_BACK"}
    for name in ("d1", "d2"):
        record = world.store.get(name)
        assert record["outcome"]["actor"]["claimKey"] == guarded_alarm().key
        assert record["outcome"]["failedAt"] == "Alarm"
    assert world.store.guards_for_alarm("shop-green-5xx") == []
    stopped = sorted(arn for arn, _ in world.clients.stepfunctions.stopped)
    assert stopped == [execution("d1"), execution("d2")]


def test_a_deployment_the_machine_already_claimed_is_left_to_it(world: World) -> None:
    begin(world, "d1")
    world.store.claim(
        "d1",
        {"intent": "SUCCEEDED", "actor": {"kind": "execution", "executionArn": execution("d1")}},
        execution("d1"),
    )

    report = roll_back(guarded_alarm(), RollbackDeps(world.deps()))

    assert results(report) == {"d1": "CLAIMED_BY_OTHER"}
    assert world.adapter.calls == []


def test_a_platform_still_rolling_back_is_left_to_the_reaper(world: World) -> None:
    # Given an ECS deployment whose platform takes a while to roll back
    begin(world, "d1")
    world.adapter.serving = ["moving"]

    report = roll_back(guarded_alarm(), RollbackDeps(world.deps()))

    # Then the platform was asked to roll back and the execution stopped (its ABORTED
    # event brings the reaper, which records what production then serves): no error
    assert results(report) == {"d1": "ROLLING_BACK"}
    assert world.adapter.calls[0] == "restore"
    assert world.clients.stepfunctions.stopped == [(execution("d1"), "AlarmRollback")]
    assert world.store.status("d1") == "SETTLING"


def test_one_deployment_that_cannot_be_restored_does_not_hold_up_the_others(
    world: World,
) -> None:
    # Given two guarded deployments, and restores that fail for the first one asked
    begin(world, "d1", LISTENER)
    begin(world, "d2", OTHER)
    failing = {"armed": True}
    real_restore = world.adapter.restore

    def restore_once_failing(snapshot: Any) -> str:
        if failing.pop("armed", False):
            raise RollbackIncomplete("ModifyListener refused")
        return real_restore(snapshot)

    world.adapter.restore = restore_once_failing  # type: ignore[method-assign]

    # When the alarm fires, Then the other is settled and the function fails (Lambda
    # retries it; the retry finishes the claim it left)
    with pytest.raises(RollbackIncomplete, match="ModifyListener refused"):
        roll_back(guarded_alarm(), RollbackDeps(world.deps()))
    statuses = sorted(world.store.status(name) for name in ("d1", "d2"))
    assert statuses == ["ROLLED_BACK", "SETTLING"]

    report = roll_back(guarded_alarm(), RollbackDeps(world.deps()))
    assert sorted(results(report).values()) == ["ROLLED_BACK"]
    assert [world.store.status(name) for name in ("d1", "d2")] == ["ROLLED_BACK"] * 2
