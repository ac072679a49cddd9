"""What the commands do to a switch: start, plan, approve, abort, restore, list.

Each action talks to the stack's own resources (its state machine, its table, its
Rollback function) through the `Aws` clients, and raises `CliError` with what to do
when it cannot act.

Abort, and why it is done this way: while the switch waits for approval, abort answers
the task token with `SendTaskFailure` and the machine's own Catch rolls back. Otherwise
the execution is stopped (`StopExecution` skips every Catch) and the stack's Rollback
function is invoked with the deployment id: it restores the snapshot, verifies it by
read-back, records the outcome and releases the locks, exactly as the machine would.
A task that was already running when the execution stopped (a Lambda is not
interrupted by StopExecution) could still write after that restore, so when the history
shows one in flight, the restore is repeated once that task's timeout has passed; the
Rollback function is idempotent, so the second call changes nothing unless the late
write happened.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bluegreen.ec2 import gates, traffic
from bluegreen.records import Records

from . import exits
from .connect import Aws, Stack, call
from .exits import CliError
from .progress import error_message, platform, read
from .status import Snapshot, collect, describe, execution_arn, history_events, record_of

Sleep = Callable[[float], None]
POLL = 0.2  # seconds between reads while waiting for the state machine (set from --interval)
STARTED_MILESTONE = "locked"


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


# -- deploy -----------------------------------------------------------------------------------
def start(aws: Aws, stack: Stack, request: Mapping[str, Any], deployment_id: str) -> str:
    sfn = aws.client("stepfunctions")
    try:
        started = call(
            aws,
            sfn.start_execution,
            stateMachineArn=stack.state_machine_arn,
            name=deployment_id,
            input=json.dumps(request),
        )
    except CliError as error:
        if error.aws_code != "ExecutionAlreadyExists":
            raise
        raise CliError(
            f"a switch named {deployment_id!r} already exists",
            f"pick another --id; see that one with `bluegreen status {deployment_id}`",
            exits.BAD_INPUT,
        ) from None
    return str(started["executionArn"])


def wait_until_started(
    aws: Aws, stack: Stack, deployment_id: str, sleep: Sleep, timeout: float = 120.0
) -> Snapshot:
    """Poll until the switch holds its locks (validated and begun) or has ended."""
    deadline = time.monotonic() + timeout
    while True:
        snapshot = collect(aws, stack, deployment_id)
        if snapshot.ended or snapshot.milestones_done >= 2 or time.monotonic() > deadline:
            return snapshot
        sleep(min(POLL, 1.0))


def wait_until_ended(
    aws: Aws, stack: Stack, deployment_id: str, sleep: Sleep, timeout: float = 600.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = describe(aws, stack, deployment_id)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise CliError(
                f"switch {deployment_id} still running after {int(timeout)} s",
                f"follow it with `bluegreen status {deployment_id}`",
                exits.RUNNING,
            )
        sleep(min(POLL, 1.0))


# -- plan -------------------------------------------------------------------------------------
def plan(aws: Aws, stack: Stack, request: Mapping[str, Any], sleep: Sleep) -> dict[str, Any]:
    """Run the state machine's dry run: the plan it would follow, nothing changed."""
    name = f"plan-{now_stamp()}-{secrets.token_hex(3)}"
    start(aws, stack, {**request, "dryRun": True}, name)
    described = wait_until_ended(aws, stack, name, sleep, timeout=120)
    if described["status"] == "SUCCEEDED":
        return dict(json.loads(described.get("output") or "{}"))
    error = str(described.get("error") or described["status"])
    cause = str(described.get("cause") or "")
    if error == "InvalidInput":
        raise CliError(
            f"invalid request: {cause}",
            "fix the field named above in the spec file or flags",
            exits.BAD_INPUT,
        )
    raise CliError(
        f"the dry run failed: {error}: {error_message(cause)}",
        f"see `bluegreen status {name}`",
    )


# -- approve ----------------------------------------------------------------------------------
def approve(aws: Aws, stack: Stack, deployment_id: str, by: str, comment: str) -> None:
    token = _approval_token(aws, stack, deployment_id, "approve")
    answer = {"approvedBy": by, "comment": comment, "at": datetime.now(UTC).isoformat()}
    _answer(aws, deployment_id, "send_task_success", taskToken=token, output=json.dumps(answer))


def _approval_token(aws: Aws, stack: Stack, deployment_id: str, verb: str) -> str:
    described = describe(aws, stack, deployment_id)
    if described["status"] != "RUNNING":
        raise CliError(
            f"cannot {verb}: switch {deployment_id} already ended {described['status']}",
            f"see what happened with `bluegreen status {deployment_id} --once`",
        )
    record = record_of(aws, stack, deployment_id) or {}
    stored = (record.get("approval") or {}).get("taskToken")
    progress = read(history_events(aws, described["executionArn"]))
    token = stored if progress.waiting_for_approval and stored else progress.approval_token
    if not token:
        raise CliError(
            f"cannot {verb}: switch {deployment_id} is not waiting for approval "
            f"(it is in {progress.state or 'a transition'})",
            "only a switch requested with approval.required waits; "
            f"`bluegreen status {deployment_id}` shows when it does",
        )
    return str(token)


def _answer(aws: Aws, deployment_id: str, operation: str, **kwargs: Any) -> None:
    sfn = aws.client("stepfunctions")
    try:
        call(aws, getattr(sfn, operation), **kwargs)
    except CliError as error:
        if error.aws_code not in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
            raise
        raise CliError(
            f"switch {deployment_id} no longer waits for this answer ({error.aws_code})",
            f"the approval timed out or was answered; see `bluegreen status {deployment_id}`",
        ) from None


# -- abort ------------------------------------------------------------------------------------
def abort(
    aws: Aws,
    stack: Stack,
    deployment_id: str,
    by: str,
    reason: str,
    sleep: Sleep,
    say: Callable[[str], object] = print,
) -> Snapshot:
    described = describe(aws, stack, deployment_id)
    if described["status"] != "RUNNING":
        hint = f"see `bluegreen status {deployment_id} --once`"
        if described["status"] == "SUCCEEDED":
            hint = f"to move traffic back to where it was, `bluegreen rollback {deployment_id}`"
        raise CliError(
            f"nothing to abort: switch {deployment_id} already ended {described['status']}", hint
        )
    cause = f"aborted by {by}" + (f": {reason}" if reason else "")
    events = history_events(aws, described["executionArn"])
    progress = read(events)
    if progress.waiting_for_approval and progress.approval_token:
        _answer(
            aws,
            deployment_id,
            "send_task_failure",
            taskToken=progress.approval_token,
            error="SwitchAborted",
            cause=cause,
        )
        wait_until_ended(aws, stack, deployment_id, sleep, timeout=300)
        return collect(aws, stack, deployment_id)
    call(
        aws,
        aws.client("stepfunctions").stop_execution,
        executionArn=described["executionArn"],
        error="SwitchAborted",
        cause=cause,
    )
    in_flight = _task_in_flight(history_events(aws, described["executionArn"]))
    failed_at = f"{progress.state or 'a transition'} (aborted)"
    undo = rollback_function(platform(progress.plan or {}, progress.request))
    _invoke_rollback(aws, stack, deployment_id, failed_at, cause, undo)
    if in_flight is not None:
        scheduled_at, function = in_flight
        wait = scheduled_at + _timeout_of(aws, function) + 1 - time.time()
        if wait > 0:
            say(
                f"a task ({function.rsplit(':', 1)[-1]}) was running when the switch stopped: "
                f"restoring again in {int(wait)} s, once it cannot write any more"
            )
            sleep(wait)
        _invoke_rollback(aws, stack, deployment_id, failed_at, cause, undo)
    return collect(aws, stack, deployment_id)


def _task_in_flight(events: Sequence[Mapping[str, Any]]) -> tuple[float, str] | None:
    """(scheduled at, function) of a Lambda task scheduled and not finished, if any."""
    pending: tuple[float, str] | None = None
    for event in events:
        kind = event["type"]
        if kind == "TaskScheduled":
            parameters = json.loads(event["taskScheduledEventDetails"].get("parameters") or "{}")
            stamp = event["timestamp"]
            at = stamp.timestamp() if isinstance(stamp, datetime) else time.time()
            pending = (at, str(parameters.get("FunctionName", "")))
        elif kind in {"TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskSubmitted"}:
            pending = None
    return pending


def _timeout_of(aws: Aws, function: str) -> int:
    try:
        configuration = call(
            aws, aws.client("lambda").get_function_configuration, FunctionName=function
        )
    except CliError:
        return 900  # the longest a Lambda can run
    return int(configuration.get("Timeout", 900))


def rollback_function(platform_name: str) -> str:
    """The stack function that undoes a switch of this platform (logical id)."""
    return "EcsAbortFunction" if platform_name == "ECS" else "RollbackFunction"


def _invoke_rollback(
    aws: Aws, stack: Stack, deployment_id: str, failed_at: str, cause: str, function: str
) -> dict[str, Any]:
    payload = {
        "deploymentId": deployment_id,
        "failedAt": failed_at,
        "error": {"Error": "SwitchAborted", "Cause": cause},
    }
    answer = call(
        aws,
        aws.client("lambda").invoke,
        FunctionName=stack.function(function),
        Payload=json.dumps(payload).encode(),
    )
    body = answer["Payload"].read().decode() or "{}"
    if answer.get("FunctionError"):
        raise CliError(
            f"the stack's Rollback function failed: {error_message(body)}",
            "traffic may be split: follow the runbook (README: rollback that did not happen), "
            f"then `bluegreen rollback {deployment_id}`",
        )
    return dict(json.loads(body))


# -- rollback (restore a snapshot on demand) --------------------------------------------------
def restore(
    aws: Aws,
    stack: Stack,
    deployment_id: str,
    by: str,
    listener: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Put a listener (or every route a deployment touched) back to its snapshot."""
    records = Records(aws.client("dynamodb"), stack.table)
    record = record_of(aws, stack, deployment_id)
    if record is None:
        raise CliError(
            f"no record for deployment {deployment_id}",
            "list recorded deployments with `bluegreen history`",
            exits.BAD_INPUT,
        )
    if record["status"] == "IN_PROGRESS":
        return _restore_unfinished(aws, stack, deployment_id, by, str(record.get("platform")))
    if record.get("platform") == "ECS":
        raise CliError(
            f"deployment {deployment_id} is an ECS release: there is no listener snapshot",
            "release the previous task definition with `bluegreen deploy` instead",
            exits.BAD_INPUT,
        )
    routes = _routes_to_restore(record, listener)
    _refuse_if_locked(records, routes, deployment_id)
    if not force:
        _refuse_if_newer(aws, records, record, routes)
        _refuse_if_unhealthy(aws, routes)
    elbv2 = aws.client("elbv2")
    try:
        observed = traffic.restore(elbv2, routes)
    except traffic.RouteMismatch as mismatch:
        raise CliError(
            f"restored, but the read-back differs: {mismatch}",
            "something else is changing this listener; stop it and run the rollback again",
        ) from None
    entry = {"by": by, "at": datetime.now(UTC).isoformat(), "routes": [r["arn"] for r in routes]}
    recorded = _note_manual_rollback(aws, records, deployment_id, record, entry)
    return {"deploymentId": deployment_id, "restored": observed, "recorded": recorded}


def _restore_unfinished(
    aws: Aws, stack: Stack, deployment_id: str, by: str, platform_name: str
) -> dict[str, Any]:
    described = describe(aws, stack, deployment_id)
    if described["status"] == "RUNNING":
        raise CliError(
            f"switch {deployment_id} is still running",
            f"stop it and restore its snapshot with `bluegreen abort {deployment_id}`",
            exits.BAD_INPUT,
        )
    # The execution ended without recording an outcome (stopped, or its rollback failed):
    # the stack's own Rollback function restores, records and unlocks.
    result = _invoke_rollback(
        aws,
        stack,
        deployment_id,
        "manual rollback",
        f"rolled back by {by} after the switch ended",
        rollback_function(platform_name),
    )
    return {"deploymentId": deployment_id, "restored": result, "recorded": True}


def _routes_to_restore(record: Mapping[str, Any], listener: str | None) -> list[dict[str, Any]]:
    snapshot = record.get("snapshot") or {}
    routes = list(snapshot.get("routes", [])) + list(snapshot.get("test") or [])
    if listener is None:
        return routes
    chosen = [r for r in routes if traffic.listener_of(r) == listener]
    if not chosen:
        touched = sorted({traffic.listener_of(r) for r in routes})
        raise CliError(
            f"deployment {record['deploymentId']} did not change listener {listener}",
            f"its listeners: {', '.join(touched)}",
            exits.BAD_INPUT,
        )
    return chosen


def _refuse_if_locked(
    records: Records, routes: Sequence[Mapping[str, Any]], deployment_id: str
) -> None:
    now = time.time()
    for resource in sorted({traffic.listener_of(r) for r in routes}):
        holder = records.holder(resource)
        if holder and holder["owner"] != deployment_id and holder["expiresAt"] >= now:
            raise CliError(
                str(records.describe_holder(resource, now)),
                f"wait for it (`bluegreen status {holder['owner']}`) or abort it first",
                exits.LOCK_HELD,
            )


def _refuse_if_newer(
    aws: Aws, records: Records, record: Mapping[str, Any], routes: Sequence[Mapping[str, Any]]
) -> None:
    mine = {traffic.listener_of(r) for r in routes}
    started = str(record.get("startedAt", ""))
    for other in records.history(limit=100):
        if other.get("deploymentId") == record["deploymentId"]:
            continue
        if not mine & set(other.get("locks", [])):
            continue
        later = str(other.get("startedAt", "")) > started
        if str(other.get("startedAt", "")) == started:  # records keep seconds: ask the executions
            later = _start_date(aws, other) > _start_date(aws, record)
        if later:
            raise CliError(
                f"deployment {other['deploymentId']} changed the same listener after "
                f"{record['deploymentId']}",
                "restoring the older snapshot would undo that one too: roll back "
                f"{other['deploymentId']} instead, or pass --force",
                exits.BAD_INPUT,
            )


def _start_date(aws: Aws, record: Mapping[str, Any]) -> float:
    described = call(
        aws,
        aws.client("stepfunctions").describe_execution,
        executionArn=record["executionArn"],
    )
    return float(described["startDate"].timestamp())


def _refuse_if_unhealthy(aws: Aws, routes: Sequence[Mapping[str, Any]]) -> None:
    elbv2 = aws.client("elbv2")
    groups = {
        arn
        for route in routes
        for arn, weight in traffic.forward_weights(route["actions"]).items()
        if weight
    }
    for group in sorted(groups):
        healthy, registered, _ = gates.healthy_targets(elbv2, group)
        if healthy == 0:
            raise CliError(
                f"the snapshot sends traffic to {group}, which has no healthy target "
                f"(0/{registered})",
                "fix its targets first (never send weight to a group with no healthy target), "
                "or pass --force",
            )


def _note_manual_rollback(
    aws: Aws,
    records: Records,
    deployment_id: str,
    record: Mapping[str, Any],
    entry: Mapping[str, Any],
) -> bool:
    previous = list(record.get("manualRollbacks") or [])
    try:
        call(aws, lambda: records.set_field(deployment_id, "manualRollbacks", [*previous, entry]))
    except CliError as error:
        if error.aws_code.startswith("AccessDenied"):
            return False
        raise
    return True


# -- history ----------------------------------------------------------------------------------
def history(aws: Aws, stack: Stack, limit: int) -> list[dict[str, Any]]:
    return call(aws, lambda: Records(aws.client("dynamodb"), stack.table).history(limit))  # type: ignore[no-any-return]


def latest(aws: Aws, stack: Stack) -> str:
    """The most recent deployment id, for `bluegreen status` without one."""
    recent = history(aws, stack, 1)
    if not recent:
        raise CliError(
            "no deployments recorded yet",
            "start one with `bluegreen deploy SPEC`, or name one: `bluegreen status ID`",
            exits.BAD_INPUT,
        )
    return str(recent[0]["deploymentId"])


def abort_succeeded(snapshot: Snapshot) -> bool:
    return snapshot.outcome == "ROLLED_BACK" or (
        snapshot.status == "ABORTED" and snapshot.outcome == ""
    )


def execution_of(stack: Stack, deployment_id: str) -> str:
    return execution_arn(stack, deployment_id)
