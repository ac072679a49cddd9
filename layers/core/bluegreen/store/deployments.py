"""Deployment records, leases (locks) and alarm guards: one table, one class.

A switch starts with one `TransactWriteItems`: every lock (free, or already ours), the
record and one guard per alarm. Either all are written or none, so a second switch on
any of the same listeners or services fails with nothing half-applied, naming the holder.

Leases do not lapse while their execution lives: every task renews them (`renew`, one
transaction that is also the ownership check before any traffic write), and a lock is
never taken over because time passed. Only `settle` ends a lease: it claims the record,
and `release` frees the locks, remembering on each lock which deployment held it last
(so a replay of an old deployment can be refused by name).

Record statuses: `IN_PROGRESS` -> `SETTLING` (a claim names the intent, the actor and the
cause; whoever claims first decides) -> `SUCCEEDED` | `ROLLED_BACK` | `FAILED`, each
written from what settle read back from the platform.

DynamoDB being unreachable or throttled surfaces as `StoreUnavailable`, which the state
machine retries for minutes; a missing record is `RecordNotFound`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import clock as wall_clock
from ..errors import BlueGreenError
from . import keys

IN_PROGRESS = "IN_PROGRESS"
SETTLING = "SETTLING"
SUCCEEDED = "SUCCEEDED"
ROLLED_BACK = "ROLLED_BACK"
FAILED = "FAILED"
ENDED = frozenset({SUCCEEDED, ROLLED_BACK, FAILED})
GUARD_KEEP_SECONDS = 7 * 24 * 3600  # garbage collection only: guards are deleted on release
_UNAVAILABLE = {
    "InternalServerError",
    "ServiceUnavailable",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
}


class LockHeld(BlueGreenError):
    """Another deployment holds a lock this one needs."""


class LeaseLost(BlueGreenError):
    """This deployment no longer holds one of its locks (settled elsewhere)."""


class OutcomeAlreadyDecided(BlueGreenError):
    """Another path (settle by the machine, an alarm, the reaper) already claimed the ending."""


class RecordNotFound(BlueGreenError):
    """No record for this deployment id."""


class NotTheOwner(BlueGreenError):
    """The record belongs to another execution than the caller's."""


class StoreUnavailable(BlueGreenError):
    """DynamoDB could not be reached or refused for capacity: retry later."""


def now_iso(clock: Callable[[], float] = wall_clock.now) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


@dataclass(frozen=True)
class Guard:
    """What an alarm guard says about one deployment."""

    alarm: str
    deployment_id: str
    platform: str
    execution_arn: str
    rollback: dict[str, Any]  # the snapshot, with the platform deployment once started
    locks: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """How a claim on a record's ending went."""

    won: bool  # this call moved it from IN_PROGRESS
    record: dict[str, Any]  # the record after the attempt

    @property
    def status(self) -> str:
        return str(self.record["status"])

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def intent(self) -> str | None:
        settling = self.record.get("settling") or {}
        return settling.get("intent")


class Deployments:
    """The deployments table, as the switch, the alarm function and the CLI use it."""

    def __init__(
        self, dynamodb: Any, table: str, clock: Callable[[], float] = wall_clock.now
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.clock = clock

    # -- plumbing ----------------------------------------------------------------------
    def _call(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
        """One DynamoDB call (a bound client method, so what is called stays visible);
        unreachable or throttled becomes `StoreUnavailable`."""
        try:
            return operation(TableName=self.table, **kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _UNAVAILABLE:
                raise StoreUnavailable(f"DynamoDB {error.operation_name}: {code}") from error
            raise
        except BotoCoreError as error:  # connection or read timeouts
            name = "".join(part.title() for part in operation.__name__.split("_"))
            raise StoreUnavailable(f"DynamoDB {name}: {error}") from error

    def _transact(self, items: list[dict[str, Any]]) -> Any:
        try:
            return self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _UNAVAILABLE:
                raise StoreUnavailable(f"DynamoDB TransactWriteItems: {code}") from error
            raise
        except BotoCoreError as error:
            raise StoreUnavailable(f"DynamoDB TransactWriteItems: {error}") from error

    def _conditional(self, operation: Callable[..., Any], **kwargs: Any) -> Any | None:
        """A conditional write: its answer, or None when the condition did not hold."""
        try:
            return self._call(operation, **kwargs)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None

    def now(self) -> int:
        return int(self.clock())

    # -- begin -------------------------------------------------------------------------
    def begin(
        self,
        deployment_id: str,
        execution_arn: str,
        lock_resources: Sequence[str],
        alarms: Iterable[str],
        record: Mapping[str, Any],
        guard: Mapping[str, Any],
        lease_until: int,
    ) -> None:
        """Take every lock, write the record and the alarm guards, atomically."""
        locks = sorted(set(lock_resources))
        alarm_names = sorted(set(alarms))
        started = now_iso(self.clock)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": keys.lock(resource),
                    "UpdateExpression": (
                        "SET #o = :me, executionArn = :exec, acquiredAt = :at, leaseUntil = :until"
                    ),
                    "ConditionExpression": "attribute_not_exists(#o) OR #o = :me",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {
                        ":me": {"S": deployment_id},
                        ":exec": {"S": execution_arn},
                        ":at": {"S": started},
                        ":until": {"N": str(lease_until)},
                    },
                }
            }
            for resource in locks
        ]
        body = {
            **record,
            "deploymentId": deployment_id,
            "executionArn": execution_arn,
            "locks": locks,
            "alarms": alarm_names,
            "startedAt": started,
        }
        items.append(
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        **keys.record(deployment_id),
                        "status": {"S": IN_PROGRESS},
                        "body": {"S": json.dumps(body)},
                        "steps": {"L": []},
                        "executionArn": {"S": execution_arn},
                        "leaseUntil": {"N": str(lease_until)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        for alarm in alarm_names:
            payload = {
                "alarm": alarm,
                "deploymentId": deployment_id,
                "platform": record.get("platform", "EC2"),
                "executionArn": execution_arn,
                "rollback": dict(guard),
                "locks": locks,
            }
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **keys.guard(alarm, deployment_id),
                            "guard": {"S": json.dumps(payload)},
                            "expiresAt": {"N": str(lease_until + GUARD_KEEP_SECONDS)},
                        },
                    }
                }
            )
        try:
            self._transact(items)
        except self.dynamodb.exceptions.TransactionCanceledException as cancelled:
            raise self._why_cancelled(cancelled, locks, deployment_id) from None

    def _why_cancelled(
        self, cancelled: Any, locks: Sequence[str], deployment_id: str
    ) -> BlueGreenError:
        reasons = cancelled.response.get("CancellationReasons", [])
        for index, reason in enumerate(reasons[: len(locks)]):
            if reason.get("Code") == "ConditionalCheckFailed":
                return self.describe_holder(locks[index])
        for resource in locks:  # reasons are not always itemised: look the holders up
            holder = self.holder(resource)
            if holder and holder["owner"] != deployment_id:
                return self.describe_holder(resource)
        return LockHeld(f"deployment {deployment_id} already exists or its lock write was refused")

    def holder(self, resource_arn: str) -> dict[str, Any] | None:
        """The deployment holding `resource_arn` now (None when free)."""
        item = self._call(
            self.dynamodb.get_item, Key=keys.lock(resource_arn), ConsistentRead=True
        ).get("Item")
        if not item or "owner" not in item:
            return None
        return {
            "owner": item["owner"]["S"],
            "executionArn": item.get("executionArn", {}).get("S", ""),
            "acquiredAt": item.get("acquiredAt", {}).get("S", ""),
            "leaseUntil": int(item.get("leaseUntil", {}).get("N", "0")),
        }

    def last_on(self, resource_arn: str) -> str | None:
        """The deployment that held `resource_arn` most recently (now, or before)."""
        item = self._call(
            self.dynamodb.get_item, Key=keys.lock(resource_arn), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        for name in ("owner", "last"):
            if name in item:
                return str(item[name]["S"])
        return None

    def describe_holder(self, resource_arn: str) -> LockHeld:
        holder = self.holder(resource_arn)
        if holder is None:
            return LockHeld(f"{resource_arn} is locked by another deployment")
        lease = holder["leaseUntil"] - self.now()
        renewed = (
            f"its lease runs {lease} s more"
            if lease >= 0
            else f"its lease ran out {-lease} s ago: its execution may have died; settling it "
            "(the reaper, or `bluegreen abort`) frees the lock"
        )
        return LockHeld(
            f"{resource_arn} is locked by deployment {holder['owner']} "
            f"(execution {holder['executionArn']}, since {holder['acquiredAt']}; {renewed})"
        )

    # -- while the switch lives --------------------------------------------------------
    def renew(
        self,
        deployment_id: str,
        execution_arn: str,
        lock_resources: Iterable[str],
        alarms: Iterable[str],
        lease_until: int,
    ) -> None:
        """Extend the lease on every lock and guard; the ownership check before any
        traffic write. `OutcomeAlreadyDecided` when the record is no longer running (an
        alarm or the reaper claimed it), `LeaseLost` when a lock is not ours."""
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": keys.record(deployment_id),
                    "UpdateExpression": "SET leaseUntil = :until",
                    "ConditionExpression": "#st = :running AND executionArn = :exec",
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": {
                        ":until": {"N": str(lease_until)},
                        ":running": {"S": IN_PROGRESS},
                        ":exec": {"S": execution_arn},
                    },
                }
            }
        ]
        locks = sorted(set(lock_resources))
        items += [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": keys.lock(resource),
                    "UpdateExpression": "SET leaseUntil = :until",
                    "ConditionExpression": "#o = :me",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {
                        ":until": {"N": str(lease_until)},
                        ":me": {"S": deployment_id},
                    },
                }
            }
            for resource in locks
        ]
        items += [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": keys.guard(alarm, deployment_id),
                    "UpdateExpression": "SET expiresAt = :gc",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {
                        ":gc": {"N": str(lease_until + GUARD_KEEP_SECONDS)}
                    },
                }
            }
            for alarm in sorted(set(alarms))
        ]
        try:
            self._transact(items)
        except self.dynamodb.exceptions.TransactionCanceledException as cancelled:
            reasons = cancelled.response.get("CancellationReasons", [])
            failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
            if failed and 0 < failed[0] <= len(locks):
                raise LeaseLost(
                    f"deployment {deployment_id} no longer holds {locks[failed[0] - 1]}"
                ) from None
            status = self.find_status(deployment_id)
            raise OutcomeAlreadyDecided(
                f"deployment {deployment_id} is not running ({status or 'no record'})"
            ) from None

    def append_step(
        self,
        deployment_id: str,
        step: Mapping[str, Any],
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Append a step to a running record; `fields` (JSON values) in the same write."""
        names = {"#st": "status"}
        values: dict[str, Any] = {
            ":s": {"L": [{"S": json.dumps({**step, "at": now_iso(self.clock)})}]},
            ":running": {"S": IN_PROGRESS},
        }
        sets = ["steps = list_append(steps, :s)"]
        for index, (name, value) in enumerate(sorted((fields or {}).items())):
            names[f"#f{index}"] = name
            values[f":f{index}"] = {"S": json.dumps(value)}
            sets.append(f"#f{index} = :f{index}")
        written = self._conditional(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="#st = :running",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        if written is None:
            raise OutcomeAlreadyDecided(
                f"deployment {deployment_id} is not running (no record, or it already ended)"
            )

    def set_field(self, deployment_id: str, name: str, value: Any) -> None:
        """Store a JSON field on an existing record (an approval, the platform deployment)."""
        written = self._conditional(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="SET #f = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#f": name},
            ExpressionAttributeValues={":v": {"S": json.dumps(value)}},
        )
        if written is None:
            raise RecordNotFound(f"no record for deployment {deployment_id}")

    def record_approval(self, deployment_id: str, answer: Mapping[str, Any]) -> None:
        """Keep an approver's answer in the record's `approval` (with when the wait
        began), while the switch runs: `OutcomeAlreadyDecided` once it is settling."""
        record = self.get(deployment_id)
        approval = {**(record.get("approval") or {}), **answer}
        written = self._conditional(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="SET approval = :a",
            ConditionExpression="#st = :running",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":a": {"S": json.dumps(approval)},
                ":running": {"S": IN_PROGRESS},
            },
        )
        if written is None:
            raise OutcomeAlreadyDecided(
                f"deployment {deployment_id} is not running: the approval came too late"
            )

    def update_guard_rollback(
        self, alarm: str, deployment_id: str, rollback: Mapping[str, Any]
    ) -> None:
        """Replace what a guard says a rollback needs (the platform deployment, once
        known). Only an existing guard is updated: a settled switch has none."""
        item = self._call(
            self.dynamodb.get_item, Key=keys.guard(alarm, deployment_id), ConsistentRead=True
        ).get("Item")
        if not item:
            return
        guard = json.loads(item["guard"]["S"])
        guard["rollback"] = dict(rollback)
        self._conditional(
            self.dynamodb.update_item,
            Key=keys.guard(alarm, deployment_id),
            UpdateExpression="SET guard = :g",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":g": {"S": json.dumps(guard)}},
        )

    # -- the ending (bluegreen.switch.endings.settle is the only caller) ----------------
    def claim(
        self, deployment_id: str, settling: Mapping[str, Any], execution_arn: str | None = None
    ) -> Claim:
        """Move the record from IN_PROGRESS to SETTLING with `settling`; the first caller
        wins. With `execution_arn`, only a record of that execution can be claimed."""
        condition = "#st = :running"
        values: dict[str, Any] = {
            ":settling": {"S": SETTLING},
            ":claim": {"S": json.dumps(dict(settling))},
            ":running": {"S": IN_PROGRESS},
        }
        if execution_arn is not None:
            condition += " AND executionArn = :exec"
            values[":exec"] = {"S": execution_arn}
        answer = self._conditional(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="SET #st = :settling, settling = :claim",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        if answer is not None:
            return Claim(True, decode_record(answer["Attributes"]))
        record = self.get(deployment_id)
        if (
            execution_arn is not None
            and record.get("executionArn") != execution_arn
            and record["status"] not in ENDED
        ):
            raise NotTheOwner(
                f"deployment {deployment_id} belongs to execution {record.get('executionArn')}, "
                f"not {execution_arn}"
            )
        return Claim(False, record)

    def recreate(
        self, deployment_id: str, body: Mapping[str, Any], settling: Mapping[str, Any]
    ) -> Claim:
        """Write a record that was lost (deleted) back, already SETTLING, from what the
        execution state still holds. Refused if a record exists (then claim it)."""
        written = self._conditional(
            self.dynamodb.put_item,
            Item={
                **keys.record(deployment_id),
                "status": {"S": SETTLING},
                "body": {"S": json.dumps({**body, "recreatedAt": now_iso(self.clock)})},
                "steps": {"L": []},
                "executionArn": {"S": str(body.get("executionArn", ""))},
                "settling": {"S": json.dumps(dict(settling))},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        if written is None:
            return Claim(False, self.get(deployment_id))
        return Claim(True, self.get(deployment_id))

    def conclude(self, deployment_id: str, outcome: Mapping[str, Any]) -> bool:
        """SETTLING -> the outcome's status; True if this call wrote it."""
        written = self._conditional(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="SET #st = :status, outcome = :outcome, endedAt = :ended",
            ConditionExpression="#st = :settling",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":status": {"S": str(outcome["status"])},
                ":outcome": {"S": json.dumps(dict(outcome), default=str)},
                ":ended": {"S": now_iso(self.clock)},
                ":settling": {"S": SETTLING},
            },
        )
        return written is not None

    def mark_once(self, deployment_id: str, name: str) -> bool:
        """Set attribute `name` (a timestamp) unless set: True if set by this call."""
        written = self._conditional(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="SET #n = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#n)",
            ExpressionAttributeNames={"#n": name},
            ExpressionAttributeValues={":now": {"S": now_iso(self.clock)}},
        )
        return written is not None

    def unmark(self, deployment_id: str, name: str) -> None:
        """Undo `mark_once` (the act it guarded failed and must be retried)."""
        self._call(
            self.dynamodb.update_item,
            Key=keys.record(deployment_id),
            UpdateExpression="REMOVE #n",
            ExpressionAttributeNames={"#n": name},
        )

    def release(
        self, deployment_id: str, lock_resources: Iterable[str], alarms: Iterable[str]
    ) -> None:
        """Delete this deployment's guards and free the locks it owns (idempotent); each
        lock remembers the deployment as the last that held it."""
        for alarm in sorted(set(alarms)):
            self._call(self.dynamodb.delete_item, Key=keys.guard(alarm, deployment_id))
        for resource in sorted(set(lock_resources)):
            self._conditional(
                self.dynamodb.update_item,
                Key=keys.lock(resource),
                UpdateExpression=(
                    "REMOVE #o, executionArn, leaseUntil, acquiredAt SET #last = :me, "
                    "releasedAt = :now"
                ),
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner", "#last": "last"},
                ExpressionAttributeValues={
                    ":me": {"S": deployment_id},
                    ":now": {"S": now_iso(self.clock)},
                },
            )

    # -- reads -------------------------------------------------------------------------
    def find(self, deployment_id: str) -> dict[str, Any] | None:
        item = self._call(
            self.dynamodb.get_item, Key=keys.record(deployment_id), ConsistentRead=True
        ).get("Item")
        return decode_record(item) if item else None

    def get(self, deployment_id: str) -> dict[str, Any]:
        record = self.find(deployment_id)
        if record is None:
            raise RecordNotFound(f"no record for deployment {deployment_id}")
        return record

    def find_status(self, deployment_id: str) -> str | None:
        record = self.find(deployment_id)
        return None if record is None else str(record["status"])

    def status(self, deployment_id: str) -> str:
        return str(self.get(deployment_id)["status"])

    def guards_for_alarm(self, alarm_name: str) -> list[Guard]:
        """Every deployment `alarm_name` guards: one Query. A guard exists exactly while
        its deployment is unsettled (settle deletes it), whatever time has passed."""
        response = self._call(
            self.dynamodb.query,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.guards_of(alarm_name)}},
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
            "FilterExpression": "sk = :r",
            "ExpressionAttributeValues": {":r": {"S": "RECORD"}},
        }
        while True:
            page = self._call(self.dynamodb.scan, **kwargs)
            items.extend(decode_record(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda r: r.get("startedAt", ""), reverse=True)
        return items[:limit]


_FIXED = {"pk", "sk", "body", "status", "steps", "outcome", "endedAt"}


def decode_record(item: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(item["body"]["S"])
    record["status"] = item["status"]["S"]
    record["steps"] = [json.loads(step["S"]) for step in item.get("steps", {}).get("L", [])]
    if "outcome" in item:
        record["outcome"] = json.loads(item["outcome"]["S"])
    if "endedAt" in item:
        record["endedAt"] = item["endedAt"]["S"]
    for name, value in item.items():
        if name in _FIXED:
            continue
        if "N" in value:
            record[name] = int(value["N"])
        elif "S" in value:
            try:
                record[name] = json.loads(value["S"])
            except ValueError:
                record[name] = value["S"]
    return record
