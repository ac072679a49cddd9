"""Deployment records, locks and alarm guards: one DynamoDB table, single-table design.

| item        | pk                            | sk            | written                  |
|-------------|-------------------------------|---------------|--------------------------|
| lock        | `LOCK#<listener/service ARN>` | `LOCK`        | begin; deleted at the end |
| record      | `DEPLOY#<deployment id>`      | `RECORD`      | begin, each step, end    |
| alarm guard | `ALARM#<alarm name>`          | `DEPLOY#<id>` | begin; deleted at the end |

A switch starts with one `TransactWriteItems`: every lock (conditional: free or
expired), the record and one guard per alarm. Either all are written or none, so a
second switch on any of the same listeners fails with nothing half-applied.

The guard carries what a rollback needs (the snapshot, the execution, the lock keys), so
the alarm handler finds every deployment an alarm guards with one `Query` on
`pk = ALARM#<name>` and can restore traffic with its next call.

Outcomes are claimed with conditional writes on the record's `status`: whoever moves it
from `IN_PROGRESS` first (finish, the machine's rollback, the alarm handler) owns the
ending; the others see `OutcomeAlreadyDecided` and record nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BlueGreenError

IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
ROLLED_BACK = "ROLLED_BACK"
FAILED = "FAILED"
TERMINAL = frozenset({SUCCEEDED, ROLLED_BACK, FAILED})


class LockHeld(BlueGreenError):
    """Another deployment holds a lock this one needs."""


class OutcomeAlreadyDecided(BlueGreenError):
    """Another path (finish, rollback, alarm) already ended this deployment."""


class RecordNotFound(BlueGreenError):
    """No record for this deployment id."""


def lock_key(resource_arn: str) -> dict[str, Any]:
    return {"pk": {"S": f"LOCK#{resource_arn}"}, "sk": {"S": "LOCK"}}


def record_key(deployment_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"DEPLOY#{deployment_id}"}, "sk": {"S": "RECORD"}}


def guard_key(alarm_name: str, deployment_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"ALARM#{alarm_name}"}, "sk": {"S": f"DEPLOY#{deployment_id}"}}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class Guard:
    """What an alarm guard says about one deployment."""

    alarm: str
    deployment_id: str
    platform: str
    execution_arn: str
    rollback: dict[str, Any]  # platform-specific: snapshot, or CodeDeploy/ECS ids
    locks: tuple[str, ...]


CLAIM_WON = "won"
CLAIM_AGAIN = "again"
CLAIM_LOST = "lost"


@dataclass(frozen=True)
class AlarmClaim:
    """How an alarm's claim on a deployment's outcome went, and the record after it."""

    result: str  # CLAIM_WON | CLAIM_AGAIN | CLAIM_LOST
    record: dict[str, Any]


class Records:
    """Repository over the deployments table. The client is a low-level DynamoDB client."""

    def __init__(self, dynamodb: Any, table: str, lock_ttl_seconds: int = 7200) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.lock_ttl_seconds = lock_ttl_seconds

    # -- begin ---------------------------------------------------------------------------
    def begin(
        self,
        deployment_id: str,
        execution_arn: str,
        lock_resources: Sequence[str],
        alarms: Iterable[str],
        record: Mapping[str, Any],
        rollback: Mapping[str, Any],
        now: float | None = None,
        hold_seconds: int = 0,
    ) -> None:
        """Take every lock, write the record and the alarm guards, atomically.

        Locks and guards expire `lock_ttl_seconds` after the longest the deployment can
        take (`hold_seconds`: its bakes and timeouts), so a crashed run frees them and a
        slow, healthy one never loses them to a second deployment mid-way.
        """
        now = time.time() if now is None else now
        expires = int(now) + self.lock_ttl_seconds + max(0, int(hold_seconds))
        locks = sorted(set(lock_resources))
        items: list[dict[str, Any]] = []
        for resource in locks:
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **lock_key(resource),
                            "owner": {"S": deployment_id},
                            "executionArn": {"S": execution_arn},
                            "acquiredAt": {"S": now_iso()},
                            "expiresAt": {"N": str(expires)},
                        },
                        "ConditionExpression": (
                            "attribute_not_exists(pk) OR expiresAt < :now OR #o = :me"
                        ),
                        "ExpressionAttributeNames": {"#o": "owner"},
                        "ExpressionAttributeValues": {
                            ":now": {"N": str(int(now))},
                            ":me": {"S": deployment_id},
                        },
                    }
                }
            )
        body = {
            **record,
            "deploymentId": deployment_id,
            "executionArn": execution_arn,
            "status": IN_PROGRESS,
            "locks": locks,
            "alarms": sorted(set(alarms)),
            "startedAt": now_iso(),
            "steps": [],
        }
        items.append(
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        **record_key(deployment_id),
                        "status": {"S": IN_PROGRESS},
                        "body": {"S": json.dumps(body)},
                        "steps": {"L": []},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        for alarm in sorted(set(alarms)):
            guard = {
                "alarm": alarm,
                "deploymentId": deployment_id,
                "platform": record.get("platform", "EC2"),
                "executionArn": execution_arn,
                "rollback": dict(rollback),
                "locks": locks,
            }
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **guard_key(alarm, deployment_id),
                            "guard": {"S": json.dumps(guard)},
                            "expiresAt": {"N": str(expires)},
                        },
                    }
                }
            )
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
        except self.dynamodb.exceptions.TransactionCanceledException as cancelled:
            raise self._why_cancelled(cancelled, locks, deployment_id, now) from None

    def _why_cancelled(
        self, cancelled: Any, locks: Sequence[str], deployment_id: str, now: float
    ) -> BlueGreenError:
        reasons = cancelled.response.get("CancellationReasons", [])
        for index, reason in enumerate(reasons[: len(locks)]):
            if reason.get("Code") == "ConditionalCheckFailed":
                return self.describe_holder(locks[index], now)
        for resource in locks:  # reasons are not always itemised: look the holders up
            holder = self.holder(resource)
            if holder and holder["owner"] != deployment_id and holder["expiresAt"] >= now:
                return self.describe_holder(resource, now)
        return LockHeld(f"deployment {deployment_id} already exists or its lock write was refused")

    def holder(self, resource_arn: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key=lock_key(resource_arn), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return {
            "owner": item["owner"]["S"],
            "executionArn": item.get("executionArn", {}).get("S", ""),
            "acquiredAt": item.get("acquiredAt", {}).get("S", ""),
            "expiresAt": int(item["expiresAt"]["N"]),
        }

    def describe_holder(self, resource_arn: str, now: float) -> LockHeld:
        holder = self.holder(resource_arn)
        if holder is None:
            return LockHeld(f"{resource_arn} is locked by another deployment")
        return LockHeld(
            f"{resource_arn} is locked by deployment {holder['owner']} "
            f"(execution {holder['executionArn']}, since {holder['acquiredAt']}, "
            f"expires in {max(0, holder['expiresAt'] - int(now))} s)"
        )

    # -- during --------------------------------------------------------------------------
    def append_step(
        self,
        deployment_id: str,
        step: Mapping[str, Any],
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Append a step to a running record; `fields` (JSON values) are set in the same
        write (e.g. the approval that let the first step happen)."""
        names = {"#st": "status"}
        values: dict[str, Any] = {
            ":s": {"L": [{"S": json.dumps(dict(step))}]},
            ":running": {"S": IN_PROGRESS},
        }
        sets = ["steps = list_append(steps, :s)"]
        for index, (name, value) in enumerate(sorted((fields or {}).items())):
            names[f"#f{index}"] = name
            values[f":f{index}"] = {"S": json.dumps(value)}
            sets.append(f"#f{index} = :f{index}")
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=record_key(deployment_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#st = :running",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            raise OutcomeAlreadyDecided(
                f"deployment {deployment_id} is not running (no record, or it already ended)"
            ) from None

    def set_field(self, deployment_id: str, name: str, value: Any) -> None:
        """Store an extra JSON field on a running record (e.g. an approval token)."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key=record_key(deployment_id),
            UpdateExpression="SET #f = :v",
            ExpressionAttributeNames={"#f": name},
            ExpressionAttributeValues={":v": {"S": json.dumps(value)}},
        )

    def update_guard_rollback(
        self, alarm: str, deployment_id: str, rollback: Mapping[str, Any]
    ) -> None:
        """Replace what a guard says a rollback needs (e.g. once a platform deployment id
        is known). Only an existing guard is updated: a finished switch has none."""
        item = self.dynamodb.get_item(
            TableName=self.table, Key=guard_key(alarm, deployment_id), ConsistentRead=True
        ).get("Item")
        if not item:
            return
        guard = json.loads(item["guard"]["S"])
        guard["rollback"] = dict(rollback)
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=guard_key(alarm, deployment_id),
                UpdateExpression="SET guard = :g",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":g": {"S": json.dumps(guard)}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return  # released meanwhile

    # -- end -----------------------------------------------------------------------------
    def claim_outcome(self, deployment_id: str, status: str, details: Mapping[str, Any]) -> None:
        """Move the record from IN_PROGRESS to `status`; only the first caller wins."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=record_key(deployment_id),
                UpdateExpression="SET #st = :status, outcome = :outcome, endedAt = :ended",
                ConditionExpression="#st = :running",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":outcome": {"S": json.dumps(dict(details))},
                    ":ended": {"S": now_iso()},
                    ":running": {"S": IN_PROGRESS},
                },
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            current = self.status(deployment_id)
            raise OutcomeAlreadyDecided(
                f"deployment {deployment_id} already ended as {current}"
            ) from None

    def claim_for_alarm(
        self, deployment_id: str, details: Mapping[str, Any], claim_key: str
    ) -> AlarmClaim:
        """Claim ROLLED_BACK for one alarm state change (`claim_key`); idempotent for it.

        `won`: this call moved the record from IN_PROGRESS. `again`: the same alarm change
        claimed it before (a duplicate delivery or a retry): finish the bookkeeping.
        `lost`: another path decided first (`record["status"]` says how): record nothing.
        """
        try:
            response = self.dynamodb.update_item(
                TableName=self.table,
                Key=record_key(deployment_id),
                UpdateExpression=(
                    "SET #st = :status, outcome = :outcome, endedAt = :ended, claimKey = :key"
                ),
                ConditionExpression="#st = :running",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": ROLLED_BACK},
                    ":outcome": {"S": json.dumps(dict(details))},
                    ":ended": {"S": now_iso()},
                    ":key": {"S": claim_key},
                    ":running": {"S": IN_PROGRESS},
                },
                ReturnValues="ALL_NEW",
            )
            return AlarmClaim(CLAIM_WON, decode_record(response["Attributes"]))
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            record = self.get(deployment_id)
        if record.get("claimKey") == claim_key:
            return AlarmClaim(CLAIM_AGAIN, record)
        return AlarmClaim(CLAIM_LOST, record)

    def mark_once(self, deployment_id: str, name: str) -> bool:
        """Set attribute `name` (a timestamp) on the record unless it is set: True if set now."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=record_key(deployment_id),
                UpdateExpression="SET #n = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#n)",
                ExpressionAttributeNames={"#n": name},
                ExpressionAttributeValues={":now": {"S": now_iso()}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def unmark(self, deployment_id: str, name: str) -> None:
        """Undo `mark_once` (when the act it guarded failed and must be retried)."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key=record_key(deployment_id),
            UpdateExpression="REMOVE #n",
            ExpressionAttributeNames={"#n": name},
        )

    def release(
        self, deployment_id: str, lock_resources: Iterable[str], alarms: Iterable[str]
    ) -> None:
        """Delete this deployment's guards and the locks it owns (idempotent)."""
        for alarm in sorted(set(alarms)):
            self.dynamodb.delete_item(TableName=self.table, Key=guard_key(alarm, deployment_id))
        for resource in sorted(set(lock_resources)):
            try:
                self.dynamodb.delete_item(
                    TableName=self.table,
                    Key=lock_key(resource),
                    ConditionExpression="#o = :me",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues={":me": {"S": deployment_id}},
                )
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                continue  # already released, expired and re-taken, or never ours

    # -- reads ---------------------------------------------------------------------------
    def get(self, deployment_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.table, Key=record_key(deployment_id), ConsistentRead=True
        ).get("Item")
        if not item:
            raise RecordNotFound(f"no record for deployment {deployment_id}")
        return decode_record(item)

    def status(self, deployment_id: str) -> str:
        return str(self.get(deployment_id)["status"])

    def guards_for_alarm(self, alarm_name: str, now: float | None = None) -> list[Guard]:
        """Every running deployment `alarm_name` guards: one Query.

        Guards past their expiry (a crashed run whose lock has expired, waiting for the
        table's TTL sweep) are left out: their snapshot may be stale by now.
        """
        now = time.time() if now is None else now
        response = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            FilterExpression="attribute_not_exists(expiresAt) OR expiresAt >= :now",
            ExpressionAttributeValues={
                ":pk": {"S": f"ALARM#{alarm_name}"},
                ":now": {"N": str(int(now))},
            },
            ConsistentRead=True,
        )
        guards = []
        for item in response.get("Items", []):
            data = json.loads(item["guard"]["S"])
            guards.append(
                Guard(
                    alarm=data["alarm"],
                    deployment_id=data["deploymentId"],
                    platform=data["platform"],
                    execution_arn=data["executionArn"],
                    rollback=data["rollback"],
                    locks=tuple(data["locks"]),
                )
            )
        return guards

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent records, newest first (a scan: operator use, not a hot path)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :r",
            "ExpressionAttributeValues": {":r": {"S": "RECORD"}},
        }
        while True:
            page = self.dynamodb.scan(**kwargs)
            items.extend(decode_record(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda r: r.get("startedAt", ""), reverse=True)
        return items[:limit]


def decode_record(item: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(item["body"]["S"])
    record["status"] = item["status"]["S"]
    record["steps"] = [json.loads(step["S"]) for step in item.get("steps", {}).get("L", [])]
    if "outcome" in item:
        record["outcome"] = json.loads(item["outcome"]["S"])
    if "endedAt" in item:
        record["endedAt"] = item["endedAt"]["S"]
    for name, value in item.items():
        if (
            name not in {"pk", "sk", "body", "status", "steps", "outcome", "endedAt"}
            and "S" in value
        ):
            try:
                record[name] = json.loads(value["S"])
            except ValueError:
                record[name] = value["S"]
    return record
