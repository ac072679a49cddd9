"""Records, locks and alarm guards on DynamoDB: what one switch may assume about another.

These run on moto's in-process DynamoDB (no socket, no emulator): conditional writes and
transactions are DynamoDB's semantics, not something worth faking by hand.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bluegreen import records
from bluegreen.records import LockHeld, OutcomeAlreadyDecided, RecordNotFound, Records

pytestmark = pytest.mark.unit

TABLE = "deployments"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/def"
TEST_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/ghi"
OTHER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/other-alb/abc/xyz"
SNAPSHOT = {"routes": [{"kind": "listener", "arn": LISTENER, "actions": []}], "test": None}


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Records]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        yield Records(dynamodb, TABLE, lock_ttl_seconds=600)


def begin(repo: Records, deployment_id: str, locks: list[str], now: float | None = None) -> None:
    repo.begin(
        deployment_id=deployment_id,
        execution_arn=f"arn:aws:states:us-east-1:1:execution:switch:{deployment_id}",
        lock_resources=locks,
        alarms=["shop-5xx"],
        record={"platform": "EC2", "from": "blue", "to": "green", "snapshot": SNAPSHOT},
        rollback={"snapshot": SNAPSHOT},
        now=now,
    )


def keys(repo: Records) -> list[str]:
    items = repo.dynamodb.scan(TableName=TABLE)["Items"]
    return sorted(f"{i['pk']['S']} {i['sk']['S']}" for i in items)


def test_begin_takes_the_locks_and_writes_the_record_and_guards_together(repo: Records) -> None:
    begin(repo, "d1", [LISTENER, TEST_LISTENER])

    assert keys(repo) == [
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
        {"snapshot": SNAPSHOT},
        tuple(sorted([LISTENER, TEST_LISTENER])),
    )


def test_a_second_switch_on_any_locked_listener_is_refused_naming_the_holder(
    repo: Records,
) -> None:
    begin(repo, "d1", [LISTENER])
    before = keys(repo)

    with pytest.raises(LockHeld) as refused:
        begin(repo, "d2", [OTHER, LISTENER])

    message = str(refused.value)
    assert f"{LISTENER} is locked by deployment d1" in message
    assert "execution arn:aws:states:us-east-1:1:execution:switch:d1" in message
    assert "expires in" in message
    # and nothing of the second switch was written, not even its free lock
    assert keys(repo) == before


def test_an_expired_lock_is_taken_over(repo: Records) -> None:
    begin(repo, "crashed", [LISTENER], now=time.time() - 3600)  # its TTL (600 s) is over

    begin(repo, "d2", [LISTENER])

    assert repo.holder(LISTENER)["owner"] == "d2"  # type: ignore[index]


def test_the_first_outcome_wins_and_the_second_is_told_who_won(repo: Records) -> None:
    begin(repo, "d1", [LISTENER])

    repo.claim_outcome("d1", records.SUCCEEDED, {"summary": "100% on green"})
    with pytest.raises(OutcomeAlreadyDecided) as late:
        repo.claim_outcome("d1", records.ROLLED_BACK, {"failedAt": "Gate"})

    assert "already ended as SUCCEEDED" in str(late.value)
    record = repo.get("d1")
    assert (record["status"], record["outcome"]) == ("SUCCEEDED", {"summary": "100% on green"})
    assert "endedAt" in record


def test_steps_are_appended_in_order_while_running_and_refused_after(repo: Records) -> None:
    begin(repo, "d1", [LISTENER])
    repo.append_step("d1", {"phase": "shift", "percent": 10})
    repo.append_step("d1", {"phase": "gate", "percent": 10, "verdicts": [{"ok": True}]})
    repo.claim_outcome("d1", records.ROLLED_BACK, {"failedAt": "Alarm"})

    with pytest.raises(records.OutcomeAlreadyDecided, match="d1 is not running"):
        repo.append_step("d1", {"phase": "shift", "percent": 100})

    assert [s["phase"] for s in repo.get("d1")["steps"]] == ["shift", "gate"]


def test_a_step_can_set_fields_of_the_record_in_the_same_write(repo: Records) -> None:
    begin(repo, "d1", [LISTENER])
    repo.set_field("d1", "approval", {"state": "WAITING"})

    repo.append_step("d1", {"phase": "shift", "percent": 10}, {"approval": {"state": "APPROVED"}})

    record = repo.get("d1")
    assert (record["approval"], record["steps"]) == (
        {"state": "APPROVED"},
        [{"phase": "shift", "percent": 10}],
    )


def test_release_frees_only_what_the_deployment_owns_and_can_run_twice(repo: Records) -> None:
    begin(repo, "d1", [LISTENER])
    begin(repo, "d2", [OTHER])

    repo.release("d1", [LISTENER, OTHER], ["shop-5xx"])
    repo.release("d1", [LISTENER, OTHER], ["shop-5xx"])

    assert repo.holder(LISTENER) is None
    assert repo.holder(OTHER)["owner"] == "d2"  # type: ignore[index]
    assert [g.deployment_id for g in repo.guards_for_alarm("shop-5xx")] == ["d2"]


def test_extra_fields_and_missing_records_read_as_expected(repo: Records) -> None:
    begin(repo, "d1", [LISTENER])
    repo.set_field("d1", "approval", {"state": "WAITING"})

    assert repo.get("d1")["approval"] == {"state": "WAITING"}
    with pytest.raises(RecordNotFound):
        repo.get("nope")
    body: dict[str, Any] = json.loads(
        repo.dynamodb.get_item(TableName=TABLE, Key=records.record_key("d1"))["Item"]["body"]["S"]
    )
    assert body["deploymentId"] == "d1"


def test_locks_and_guards_last_as_long_as_the_deployment_can_take_plus_the_ttl(
    repo: Records,
) -> None:
    # Given a deployment that may bake for a day
    now = time.time()
    repo.begin(
        deployment_id="slow",
        execution_arn="arn:aws:states:us-east-1:1:execution:switch:slow",
        lock_resources=[LISTENER],
        alarms=["shop-5xx"],
        record={"platform": "EC2"},
        rollback={"snapshot": SNAPSHOT},
        now=now,
        hold_seconds=86400,
    )

    # Then its lock outlives the bake by the TTL, and its guard still answers the alarm
    assert repo.holder(LISTENER)["expiresAt"] == int(now) + 86400 + 600  # type: ignore[index]
    assert [g.deployment_id for g in repo.guards_for_alarm("shop-5xx", now=now + 86400)] == ["slow"]
    # and a second deployment an hour later (past the plain TTL) is still refused
    with pytest.raises(LockHeld):
        begin(repo, "eager", [LISTENER], now=now + 3600)
