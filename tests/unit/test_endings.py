"""`settle`, the one ending: who may end a deployment, what it does to traffic, and what
the record may say, decided against a real (moto, in-process) table and a platform
adapter double whose read-back the test chooses.

The end-to-end paths (the machine's own settle, the alarm, the reaper) run on the
emulated AWS in tests/integration; here each rule is attacked on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.store import (
    Deployments,
    NotTheOwner,
    OutcomeAlreadyDecided,
    RecordNotFound,
    StoreUnavailable,
)
from bluegreen.switch.endings import Ask, DeploymentEnded, SettlePending, Subject, settle
from bluegreen.switch.reaper import ExecutionEnded, ReaperDeps, reap_if_ended
from tests.unit.settle_world import (  # noqa: F401 - world_fixture is the `world` fixture
    ALARM,
    BLUE,
    GREEN,
    LISTENER,
    SNAPSHOT,
    T0,
    TABLE,
    World,
    execution,
    machine,
    world_fixture,
)

pytestmark = pytest.mark.unit


def subject(name: str = "d1", snapshot: Any = SNAPSHOT) -> Subject:
    return Subject(
        deployment_id=name,
        execution_arn=execution(name),
        platform="EC2",
        adapter="alb",
        live=BLUE,
        idle=GREEN,
        locks=(LISTENER,),
        alarms=("shop-5xx",),
        snapshot=snapshot,
    )


def rollback(actor: dict[str, Any], **more: Any) -> Ask:
    return Ask(intent="ROLLED_BACK", actor=actor, failed_at="Gate", error="GateFailed",
               cause="Gate: GateFailed: 5xx", **more)  # type: ignore[arg-type]  # fmt: skip


# -- what the record may say ----------------------------------------------------------------
def test_a_rollback_read_back_on_the_old_colour_is_recorded_rolled_back_and_announced_once(
    world: World,
) -> None:
    world.begin()

    settled = settle(subject(), rollback(machine()), world.deps())

    assert (settled.status, world.adapter.calls) == ("ROLLED_BACK", ["restore", "observe"])
    record = world.store.get("d1")
    assert record["status"] == "ROLLED_BACK"
    assert record["outcome"]["observed"]["serving"] == "from"
    assert world.store.holder(LISTENER) is None
    assert world.store.guards_for_alarm("shop-5xx") == []
    assert [t for t, _ in world.announced.events] == ["Switch Rolled Back"]


def test_a_rollback_that_production_does_not_show_is_recorded_failed_never_rolled_back(
    world: World,
) -> None:
    # Given a platform that did not roll back: production still serves the new release
    world.begin()
    world.adapter.serving = ["to"]

    settled = settle(subject(), rollback(machine()), world.deps())

    assert settled.status == "FAILED"
    record = world.store.get("d1")
    assert record["status"] == "FAILED"
    assert "production still serves the new release" in record["outcome"]["cause"]
    assert [t for t, _ in world.announced.events] == ["Switch Failed"]


def test_a_success_read_back_anywhere_but_the_new_colour_is_recorded_failed(
    world: World,
) -> None:
    world.begin()
    world.adapter.serving = ["split"]

    settled = settle(subject(), Ask("SUCCEEDED", machine()), world.deps())  # type: ignore[arg-type]

    assert settled.status == "FAILED"
    assert "split" in world.store.get("d1")["outcome"]["cause"]
    assert world.adapter.calls == ["complete", "observe"]


def test_a_platform_still_moving_is_settled_again_later_not_recorded(world: World) -> None:
    # Given a platform rolling back: the first read-back shows traffic still moving
    world.begin()
    world.adapter.serving = ["moving", "from"]

    with pytest.raises(SettlePending):
        settle(subject(), rollback(machine()), world.deps())
    assert world.store.status("d1") == "SETTLING"

    # When the machine settles again (its Retry), Then the same claim finishes the job
    settled = settle(subject(), rollback(machine()), world.deps())
    assert settled.status == "ROLLED_BACK"


# -- who may end a deployment ---------------------------------------------------------------
def test_an_ended_deployment_is_never_settled_again_by_anyone_else(world: World) -> None:
    # Given d1 succeeded and d2 has since switched the same listener
    world.begin("d1")
    world.adapter.serving = ["to"]
    settle(subject("d1"), Ask("SUCCEEDED", machine("d1")), world.deps())  # type: ignore[arg-type]
    world.begin("d2")
    world.adapter.calls.clear()

    # When an old Rollback of d1 is replayed (by hand, or a stuck delivery)
    with pytest.raises(DeploymentEnded) as refused:
        settle(subject("d1"), rollback(ALARM), world.deps())

    # Then nothing was touched, and the refusal names the outcome and the newer deployment
    assert world.adapter.calls == []
    message = str(refused.value)
    assert "already ended SUCCEEDED" in message
    assert f"d2 on {LISTENER}" in message
    assert "start a new deployment" in message


def test_a_retry_of_the_actor_that_ended_it_only_finishes_what_was_left(world: World) -> None:
    # Given a settle whose announcement failed after the record was written
    world.begin()
    world.announced.fail = True
    with pytest.raises(RuntimeError):
        settle(subject(), rollback(machine()), world.deps())
    assert world.store.status("d1") == "ROLLED_BACK"

    # When the machine retries it
    world.announced.fail = False
    world.adapter.calls.clear()
    settled = settle(subject(), rollback(machine()), world.deps())

    # Then traffic is left alone, and the ending is announced, once
    assert settled.status == "ROLLED_BACK"
    assert world.adapter.calls == []
    assert [t for t, _ in world.announced.events] == ["Switch Rolled Back"]


def test_an_alarm_that_comes_second_backs_off_and_changes_nothing(world: World) -> None:
    # Given the machine claimed the success first (and is finishing it)
    world.begin()
    world.store.claim("d1", {"intent": "SUCCEEDED", "actor": machine()}, execution("d1"))

    # When the alarm settles the deployment it guards
    with pytest.raises(OutcomeAlreadyDecided, match="SUCCEEDED"):
        settle(subject(), rollback(ALARM), world.deps())

    # Then it did not touch traffic, nor stop the execution
    assert world.adapter.calls == []
    assert world.clients.stepfunctions.stopped == []


def test_the_machine_coming_second_to_an_alarm_backs_off(world: World) -> None:
    world.begin()
    world.store.claim("d1", {"intent": "ROLLED_BACK", "actor": ALARM})

    with pytest.raises(OutcomeAlreadyDecided, match="alarm shop-5xx"):
        settle(subject(), Ask("SUCCEEDED", machine()), world.deps())  # type: ignore[arg-type]
    assert world.adapter.calls == []


def test_the_reaper_takes_over_a_dead_executions_claim_with_its_intent(world: World) -> None:
    # Given the machine claimed a rollback and died before finishing it
    world.begin()
    world.store.claim("d1", {"intent": "ROLLED_BACK", "actor": machine()}, execution("d1"))

    # When the reaper settles it (asking, as it always does, for a rollback)
    reaper = {"kind": "reaper", "executionArn": execution("d1")}
    settled = settle(subject(), Ask("ROLLED_BACK", reaper), world.deps())  # type: ignore[arg-type]

    # Then it finished the claimed ending, recorded as decided by the claimer
    assert settled.status == "ROLLED_BACK"
    assert world.store.get("d1")["outcome"]["actor"]["kind"] == "execution"


def test_another_executions_settle_is_refused(world: World) -> None:
    world.begin()

    with pytest.raises(NotTheOwner):
        settle(subject(), rollback(machine("someone-else")), world.deps())
    assert world.store.status("d1") == "IN_PROGRESS"


def test_an_alarm_stops_the_execution_before_it_reads_traffic_back(world: World) -> None:
    world.begin()

    settled = settle(subject(), rollback(ALARM, alarm_epoch=T0 - 1.5), world.deps())

    assert world.clients.stepfunctions.stopped == [(execution("d1"), "GateFailed")]
    assert settled.outcome["timeToRollbackMs"] == 1500.0


# -- nothing needed for a restore lives only in the table -----------------------------------
def test_a_lost_record_is_written_back_from_the_execution_state_and_settled(
    world: World,
) -> None:
    # Given a running switch whose record was deleted
    world.begin()
    world.store.dynamodb.delete_item(
        TableName=TABLE, Key={"pk": {"S": "DEPLOY#d1"}, "sk": {"S": "RECORD"}}
    )

    settled = settle(subject(), rollback(machine()), world.deps())

    assert settled.status == "ROLLED_BACK"
    assert world.adapter.calls[0] == "restore"
    record = world.store.get("d1")
    assert record["status"] == "ROLLED_BACK"
    assert "recreatedAt" in record
    assert world.store.holder(LISTENER) is None


def test_with_the_table_down_a_rollback_restores_traffic_first_then_asks_for_a_retry(
    world: World,
) -> None:
    world.begin()

    class Down:
        exceptions = world.store.dynamodb.exceptions

        def __getattr__(self, name: str) -> Any:
            def refuse(**_: Any) -> Any:
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, name)

            return refuse

    down = Deployments(Down(), TABLE)
    deps = world.deps()
    deps.store = down

    with pytest.raises(StoreUnavailable):
        settle(subject(), rollback(machine()), deps)

    assert world.adapter.calls == ["restore"]


def test_a_failure_before_begin_has_nothing_to_undo(world: World) -> None:
    settled = settle(subject(snapshot=None), rollback(machine()), world.deps())

    assert (settled.status, world.adapter.calls) == ("NOT_STARTED", [])
    assert world.store.find("d1") is None


def test_an_alarm_for_a_deployment_with_no_record_and_no_snapshot_is_refused(
    world: World,
) -> None:
    with pytest.raises(RecordNotFound):
        settle(subject(snapshot=None), rollback(ALARM), world.deps())


# -- a stop that comes late ------------------------------------------------------------------
def reaper() -> dict[str, Any]:
    return {"kind": "reaper", "executionArn": execution("d1")}


def test_a_stop_after_the_platform_succeeded_is_recorded_as_the_success_it_was(
    world: World,
) -> None:
    # Given an ECS switch whose platform deployment had succeeded when the execution
    # was stopped: production serves the release the hooks verified
    world.begin()
    world.adapter.serving, world.adapter.platform_status = ["to"], "Succeeded"

    settled = settle(subject(), rollback(reaper()), world.deps())

    assert settled.status == "SUCCEEDED"
    outcome = world.store.get("d1")["outcome"]
    assert "had succeeded" in outcome["cause"]
    assert [t for t, _ in world.announced.events] == ["Switch Succeeded"]


@pytest.mark.parametrize("platform_status", [None, "Failed", "ROLLBACK_FAILED"])
def test_a_release_serving_without_the_platforms_success_stays_failed_for_the_reaper(
    world: World, platform_status: str | None
) -> None:
    world.begin()
    world.adapter.serving, world.adapter.platform_status = ["to"], platform_status

    assert settle(subject(), rollback(reaper()), world.deps()).status == "FAILED"


def test_an_alarm_after_the_platform_succeeded_is_a_failure_not_a_success(world: World) -> None:
    # Given the release went live on the platform, and a guarding alarm then fires
    world.begin()
    world.adapter.serving, world.adapter.platform_status = ["to"], "SUCCESSFUL"

    settled = settle(subject(), rollback(ALARM), world.deps())

    # Then the record says FAILED: the release the alarm condemns is serving
    assert settled.status == "FAILED"
    assert "production still serves the new release" in world.store.get("d1")["outcome"]["cause"]


def test_begin_settles_what_it_wrote_if_its_execution_ended_meanwhile(world: World) -> None:
    # Given Begin wrote the record and locks, but the execution was stopped while it ran
    # (the reaper came first and found nothing to settle)
    world.begin()
    world.clients.stepfunctions.statuses[execution("d1")] = "ABORTED"
    deps = ReaperDeps(endings=world.deps(), remaining_seconds=lambda: 0.0)

    # When Begin looks at its execution after writing
    with pytest.raises(ExecutionEnded, match="ABORTED"):
        reap_if_ended(execution("d1"), "d1", deps)

    # Then it settled it: traffic restored, the record ended, the lock free
    assert world.adapter.calls == ["restore", "observe"]
    assert world.store.status("d1") == "ROLLED_BACK"
    assert world.store.holder(LISTENER) is None


def test_begin_with_its_execution_running_changes_nothing(world: World) -> None:
    world.begin()
    deps = ReaperDeps(endings=world.deps(), remaining_seconds=lambda: 0.0)

    reap_if_ended(execution("d1"), "d1", deps)

    assert world.adapter.calls == []
    assert world.store.status("d1") == "IN_PROGRESS"
