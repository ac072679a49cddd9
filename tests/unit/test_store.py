"""Records, leases and alarm guards on DynamoDB: what one switch may assume about another.

These run on moto's in-process DynamoDB (no socket, no emulator): conditional writes and
transactions are DynamoDB's semantics, not something worth faking by hand. The clock is
injected: nothing here depends on wall time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen.store import (
    Deployments,
    LeaseLost,
    LockHeld,
    NotTheOwner,
    OutcomeAlreadyDecided,
    RecordNotFound,
    StoreUnavailable,
    keys,
)
from tests.unit.moto_table import deployments_table

pytestmark = pytest.mark.unit

TABLE = "deployments"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/def"
TEST_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/ghi"
OTHER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/other-alb/abc/xyz"
SNAPSHOT = {"adapter": "alb", "routes": [{"kind": "listener", "arn": LISTENER, "actions": []}]}
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[Deployments]:
    with deployments_table(monkeypatch, TABLE) as dynamodb:
        yield Deployments(dynamodb, TABLE, clock=clock)


def execution(deployment_id: str) -> str:
    return f"arn:aws:states:us-east-1:1:execution:switch:{deployment_id}"


def begin(repo: Deployments, deployment_id: str, locks: list[str], lease: int = 600) -> None:
    repo.begin(
        deployment_id=deployment_id,
        execution_arn=execution(deployment_id),
        lock_resources=locks,
        alarms=["shop-5xx"],
        record={"platform": "EC2", "from": "blue", "to": "green", "snapshot": SNAPSHOT},
        guard=SNAPSHOT,
        lease_until=int(repo.clock()) + lease,
    )


def claim(repo: Deployments, deployment_id: str, intent: str, by: str = "execution") -> Any:
    actor = {"kind": by, "executionArn": execution(deployment_id)}
    return repo.claim(
        deployment_id,
        {"intent": intent, "actor": actor, "cause": f"{intent} by {by}"},
        execution_arn=execution(deployment_id),
    )


def item_keys(repo: Deployments) -> list[str]:
    items = repo.dynamodb.scan(TableName=TABLE)["Items"]
    return sorted(f"{i['pk']['S']} {i['sk']['S']}" for i in items)


# -- begin ------------------------------------------------------------------------------------
def test_begin_takes_the_locks_and_writes_the_record_and_guards_together(
    repo: Deployments,
) -> None:
    begin(repo, "d1", [LISTENER, TEST_LISTENER])

    assert item_keys(repo) == [
        "ALARM#shop-5xx DEPLOY#d1",
        "DEPLOY#d1 RECORD",
        f"LOCK#{LISTENER} LOCK",
        f"LOCK#{TEST_LISTENER} LOCK",
    ]
    record = repo.get("d1")
    assert (record["status"], record["locks"], record["steps"]) == (
        "IN_PROGRESS",
        sorted([LISTENER, TEST_LISTENER]),
        [],
    )
    (guard,) = repo.guards_for_alarm("shop-5xx")
    assert (guard.deployment_id, guard.rollback, guard.locks) == (
        "d1",
        SNAPSHOT,
        tuple(sorted([LISTENER, TEST_LISTENER])),
    )


def test_a_second_switch_on_any_locked_listener_is_refused_naming_the_holder(
    repo: Deployments,
) -> None:
    begin(repo, "d1", [LISTENER])
    before = item_keys(repo)

    with pytest.raises(LockHeld) as refused:
        begin(repo, "d2", [OTHER, LISTENER])

    message = str(refused.value)
    assert f"{LISTENER} is locked by deployment d1" in message
    assert f"execution {execution('d1')}" in message
    assert "its lease runs 600 s more" in message
    # and nothing of the second switch was written, not even its free lock
    assert item_keys(repo) == before


def test_a_lease_that_ran_out_is_never_taken_over_by_time_alone(
    repo: Deployments, clock: Clock
) -> None:
    # Given a deployment whose execution died: nothing renewed its lease for a day
    begin(repo, "crashed", [LISTENER], lease=600)
    clock.now += 86400

    # When a second deployment wants the listener
    with pytest.raises(LockHeld) as refused:
        begin(repo, "d2", [LISTENER])

    # Then it is refused, told the holder's lease ran out and what frees it
    assert "its lease ran out 85800 s ago" in str(refused.value)
    assert "settling it" in str(refused.value)
    assert repo.holder(LISTENER)["owner"] == "crashed"  # type: ignore[index]


# -- while the switch lives -------------------------------------------------------------------
def test_renewing_extends_every_lock_and_guard_of_a_running_record(
    repo: Deployments, clock: Clock
) -> None:
    begin(repo, "d1", [LISTENER, TEST_LISTENER])
    clock.now += 300

    repo.renew("d1", execution("d1"), [LISTENER, TEST_LISTENER], ["shop-5xx"], int(clock.now) + 999)

    assert repo.holder(LISTENER)["leaseUntil"] == int(clock.now) + 999  # type: ignore[index]
    assert repo.holder(TEST_LISTENER)["leaseUntil"] == int(clock.now) + 999  # type: ignore[index]
    assert repo.get("d1")["leaseUntil"] == int(clock.now) + 999


def test_renewing_a_claimed_record_is_refused_so_no_task_writes_traffic_after_it(
    repo: Deployments,
) -> None:
    begin(repo, "d1", [LISTENER])
    claim(repo, "d1", "ROLLED_BACK", by="alarm")

    with pytest.raises(OutcomeAlreadyDecided, match="not running"):
        repo.renew("d1", execution("d1"), [LISTENER], ["shop-5xx"], int(repo.clock()) + 60)


def test_renewing_a_lock_someone_else_holds_is_refused(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])

    with pytest.raises(LeaseLost, match=f"no longer holds {OTHER}"):
        repo.renew("d1", execution("d1"), [LISTENER, OTHER], [], int(repo.clock()) + 60)


def test_steps_are_appended_in_order_while_running_and_refused_after(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])
    repo.append_step("d1", {"phase": "shift", "percent": 10})
    repo.append_step("d1", {"phase": "gate", "percent": 10}, {"approval": {"state": "APPROVED"}})
    claim(repo, "d1", "ROLLED_BACK")

    with pytest.raises(OutcomeAlreadyDecided, match="d1 is not running"):
        repo.append_step("d1", {"phase": "shift", "percent": 100})

    record = repo.get("d1")
    assert [s["phase"] for s in record["steps"]] == ["shift", "gate"]
    assert record["approval"] == {"state": "APPROVED"}


# -- the ending -------------------------------------------------------------------------------
def test_the_first_claim_decides_and_a_second_learns_who_claimed(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])

    first = claim(repo, "d1", "SUCCEEDED")
    second = claim(repo, "d1", "ROLLED_BACK", by="alarm")

    assert (first.won, first.status, first.intent) == (True, "SETTLING", "SUCCEEDED")
    assert (second.won, second.status, second.intent) == (False, "SETTLING", "SUCCEEDED")


def test_only_the_records_own_execution_may_claim_it(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])

    with pytest.raises(NotTheOwner, match="belongs to execution"):
        repo.claim("d1", {"intent": "ROLLED_BACK"}, execution_arn=execution("someone-else"))

    assert repo.status("d1") == "IN_PROGRESS"


def test_conclude_writes_the_outcome_once(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])
    claim(repo, "d1", "ROLLED_BACK")

    assert repo.conclude("d1", {"status": "ROLLED_BACK", "observed": {"serving": "from"}})
    assert not repo.conclude("d1", {"status": "FAILED"})

    record = repo.get("d1")
    assert (record["status"], record["outcome"]["observed"]) == ("ROLLED_BACK", {"serving": "from"})
    assert "endedAt" in record
    assert claim(repo, "d1", "ROLLED_BACK").ended


def test_a_lost_record_is_written_back_already_settling(repo: Deployments) -> None:
    body = {"deploymentId": "d1", "executionArn": execution("d1"), "snapshot": SNAPSHOT}

    written = repo.recreate("d1", body, {"intent": "ROLLED_BACK"})
    again = repo.recreate("d1", body, {"intent": "SUCCEEDED"})

    assert (written.won, written.status, written.intent) == (True, "SETTLING", "ROLLED_BACK")
    assert (again.won, again.intent) == (False, "ROLLED_BACK")
    assert "recreatedAt" in repo.get("d1")


def test_release_frees_only_what_the_deployment_owns_and_remembers_the_last_holder(
    repo: Deployments,
) -> None:
    begin(repo, "d1", [LISTENER])
    begin(repo, "d2", [OTHER])

    repo.release("d1", [LISTENER, OTHER], ["shop-5xx"])
    repo.release("d1", [LISTENER, OTHER], ["shop-5xx"])

    assert repo.holder(LISTENER) is None
    assert repo.last_on(LISTENER) == "d1"
    assert repo.holder(OTHER)["owner"] == "d2"  # type: ignore[index]
    assert [g.deployment_id for g in repo.guards_for_alarm("shop-5xx")] == ["d2"]
    # and the freed listener can be locked again, which makes the new one its last holder
    begin(repo, "d3", [LISTENER])
    assert repo.last_on(LISTENER) == "d3"


def test_a_guard_answers_its_alarm_however_long_the_switch_bakes(
    repo: Deployments, clock: Clock
) -> None:
    begin(repo, "slow", [LISTENER], lease=60)
    clock.now += 30 * 86400

    assert [g.deployment_id for g in repo.guards_for_alarm("shop-5xx")] == ["slow"]


def test_announcing_is_marked_once(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])

    assert repo.mark_once("d1", "announcedAt")
    assert not repo.mark_once("d1", "announcedAt")
    repo.unmark("d1", "announcedAt")
    assert repo.mark_once("d1", "announcedAt")


def test_missing_records_and_raw_bodies_read_as_expected(repo: Deployments) -> None:
    begin(repo, "d1", [LISTENER])

    with pytest.raises(RecordNotFound):
        repo.get("nope")
    assert repo.find("nope") is None
    item = repo.dynamodb.get_item(TableName=TABLE, Key=keys.record("d1"))["Item"]
    assert json.loads(item["body"]["S"])["deploymentId"] == "d1"


def test_a_throttled_table_is_store_unavailable_for_the_machine_to_retry(
    repo: Deployments,
) -> None:
    class Throttled:
        exceptions = repo.dynamodb.exceptions

        def get_item(self, **_: Any) -> Any:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem"
            )

    throttled = Deployments(Throttled(), TABLE)

    with pytest.raises(StoreUnavailable, match="ThrottlingException"):
        throttled.get("d1")
