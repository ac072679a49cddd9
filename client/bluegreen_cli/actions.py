"""What the commands do to a switch: start, plan, approve, reject, abort, roll back, list.

Each action talks to the stack's own resources (its state machine, its table, its
reaper) through the `Aws` clients, and raises `CliError` with what to do when it cannot
act.

Abort stops the execution; the stack's reaper (EventBridge `Execution Status Change`)
settles it like every other ending: claim, restore, read back, record, release,
announce. A task already running when the execution stopped cannot undo that: settle
re-reads traffic after stopping, and a late traffic write undoes itself.

Rollback never replays an ended deployment: after a success it starts a new deployment
back to the previous release (locked, recorded, announced).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bluegreen import approval
from bluegreen.store import ENDED, Deployments

from . import exits
from .connect import Aws, Stack, call
from .exits import CliError
from .progress import error_message, read
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


# -- approve / reject ---------------------------------------------------------------------------
def caller(aws: Aws) -> str:
    """Who this CLI acts as, as STS says (GetCallerIdentity needs no permission)."""
    return str(call(aws, aws.client("sts").get_caller_identity)["Arn"])


def approve(aws: Aws, stack: Stack, deployment_id: str, name: str, comment: str) -> dict[str, str]:
    """Answer the approval: the switch moves traffic. The answer names the approver (STS's
    identity and `name`), why and when; the switch keeps it in its record."""
    token = _approval_token(aws, stack, deployment_id, "approve")
    given = approval.answer(approval.APPROVED, caller(aws), comment, _now(), name)
    _answer(aws, deployment_id, "send_task_success", taskToken=token, output=json.dumps(given))
    return given


def reject(aws: Aws, stack: Stack, deployment_id: str, name: str, comment: str) -> dict[str, str]:
    """Refuse the approval: the switch rolls back (nothing moved in production yet) and
    keeps who refused it, why and when."""
    token = _approval_token(aws, stack, deployment_id, "reject")
    given = approval.answer(approval.REJECTED, caller(aws), comment, _now(), name)
    _answer(
        aws,
        deployment_id,
        "send_task_failure",
        taskToken=token,
        error=approval.REJECTED_ERROR,
        cause=approval.rejection_cause(given),
    )
    return given


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    settle_timeout: float = 120.0,
) -> Snapshot:
    """Stop the execution; the stack's reaper settles it (restores traffic, reads it
    back, records, unlocks), exactly as every other ending. Wait for the record."""
    described = describe(aws, stack, deployment_id)
    if described["status"] != "RUNNING":
        hint = f"see `bluegreen status {deployment_id} --once`"
        if described["status"] == "SUCCEEDED":
            hint = f"to go back, `bluegreen rollback {deployment_id}` starts a new deployment"
        raise CliError(
            f"nothing to abort: switch {deployment_id} already ended {described['status']}", hint
        )
    cause = f"aborted by {by}" + (f": {reason}" if reason else "")
    call(
        aws,
        aws.client("stepfunctions").stop_execution,
        executionArn=described["executionArn"],
        error="SwitchAborted",
        cause=cause,
    )
    say(f"stopped {deployment_id}; waiting for the stack to settle it (restore, read back, record)")
    _wait_for_record(aws, stack, deployment_id, sleep, settle_timeout)
    return collect(aws, stack, deployment_id)


def _wait_for_record(
    aws: Aws, stack: Stack, deployment_id: str, sleep: Sleep, timeout: float
) -> dict[str, Any] | None:
    """Poll the record until it ends (or there is none: the switch had not begun)."""
    deadline = time.monotonic() + timeout
    while True:
        record = record_of(aws, stack, deployment_id)
        if record is None or record.get("status") in ENDED:
            return record
        if time.monotonic() > deadline:
            raise CliError(
                f"switch {deployment_id} was stopped but is not settled after {int(timeout)} s",
                "the reaper settles it when EventBridge delivers the execution's end; "
                f"`bluegreen rollback {deployment_id}` settles it now",
                exits.RUNNING,
            )
        sleep(min(POLL, 1.0))


def abort_succeeded(snapshot: Snapshot) -> bool:
    return snapshot.outcome == "ROLLED_BACK" or (
        snapshot.status == "ABORTED" and snapshot.outcome == ""
    )


# -- rollback ---------------------------------------------------------------------------------
def rollback(aws: Aws, stack: Stack, deployment_id: str, by: str, new_id: str) -> dict[str, Any]:
    """Go back from a deployment.

    - still running: refused (that is `abort`);
    - its execution ended without settling (the reaper has not run): settle it now, through
      the stack's reaper (it checks the execution really ended);
    - ended: start a new deployment back to the release before it (locked, recorded and
      announced like any other): an ended deployment is never replayed.
    """
    record = record_of(aws, stack, deployment_id)
    if record is None:
        raise CliError(
            f"no record for deployment {deployment_id}",
            "list recorded deployments with `bluegreen history`",
            exits.BAD_INPUT,
        )
    described = describe(aws, stack, deployment_id)
    if record["status"] not in ENDED:
        if described["status"] == "RUNNING":
            raise CliError(
                f"switch {deployment_id} is still running",
                f"stop it (traffic goes back) with `bluegreen abort {deployment_id}`",
                exits.BAD_INPUT,
            )
        return {"deploymentId": deployment_id, "settled": _reap_now(aws, stack, described)}
    if record["status"] == "ROLLED_BACK":
        raise CliError(
            f"deployment {deployment_id} already rolled back: production serves "
            f"{record.get('from')} (as read back when it ended)",
            "nothing to undo; see `bluegreen history " + deployment_id + "`",
            exits.BAD_INPUT,
        )
    _refuse_if_newer(aws, stack, record)
    request = reverse_request(record, by)
    execution = start(aws, stack, request, new_id)
    say_started = {"deploymentId": new_id, "executionArn": execution, "reverts": deployment_id}
    return {**say_started, "request": request}


_HEALTH_FIELDS = ("minHealthy", "timeoutSeconds", "pollSeconds")


def _raw(value: Any) -> Any:
    """A parsed request value as a request states it: unset (None) fields left out."""
    if isinstance(value, Mapping):
        return {k: _raw(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_raw(v) for v in value]
    return value


def _refuse_if_newer(aws: Aws, stack: Stack, record: Mapping[str, Any]) -> None:
    """Going back from a deployment that a newer one has followed would undo that one."""
    table = Deployments(aws.client("dynamodb"), stack.table)
    for lock in record.get("locks") or []:
        last = call(aws, lambda lock=lock: table.last_on(lock))
        if last and last != record["deploymentId"]:
            raise CliError(
                f"deployment {last} changed {lock} after {record['deploymentId']}",
                f"going back from {record['deploymentId']} would undo it: roll back {last} instead",
                exits.BAD_INPUT,
            )


def reverse_request(record: Mapping[str, Any], by: str) -> dict[str, Any]:
    """A request that takes production back to the release before `record`'s: the same
    routes or service, all at once, no approval (it is a way back, not a release)."""
    request = dict(record.get("request") or {})
    if not request:
        raise CliError(
            f"the record of {record.get('deploymentId')} keeps no request to reverse",
            "start the previous release with `bluegreen deploy`",
            exits.BAD_INPUT,
        )
    keep = {
        "EC2": ("platform", "listeners", "rules", "alarms", "healthCheck", "metricChecks"),
        "ECS": ("platform", "mode", "cluster", "service", "container", "alarms", "codeDeploy",
                "ecsNative", "monitor", "hooks"),
    }[str(request.get("platform"))]  # fmt: skip
    reverse: dict[str, Any] = {k: _raw(request[k]) for k in keep if request.get(k) is not None}
    if "healthCheck" in reverse:  # what the request says, not what Plan derived from it
        reverse["healthCheck"] = {
            k: v for k, v in reverse["healthCheck"].items() if k in _HEALTH_FIELDS
        }
    if reverse["platform"] == "EC2":  # from what it went to, back to what it came from
        reverse["blueTargetGroupArn"], reverse["greenTargetGroupArn"] = record["to"], record["from"]
    else:
        reverse["taskDefinition"] = record["from"]
    reverse["strategy"] = {"type": "all-at-once"}
    reverse["requestedBy"] = by
    reverse["description"] = f"rollback of {record.get('deploymentId')}"[:256]
    reverse["version"] = str(request.get("version") or "")[:200] + " (previous)"
    return reverse


def _reap_now(aws: Aws, stack: Stack, described: Mapping[str, Any]) -> dict[str, Any]:
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": described["executionArn"],
            "name": described["name"],
            "status": described["status"],
            "error": described.get("error", ""),
            "cause": described.get("cause", ""),
        },
    }
    answer = call(
        aws,
        aws.client("lambda").invoke,
        FunctionName=stack.function("ReaperFunction"),
        Payload=json.dumps(event).encode(),
    )
    body = answer["Payload"].read().decode() or "{}"
    if answer.get("FunctionError"):
        raise CliError(
            f"the stack's reaper could not settle it: {error_message(body)}",
            "see docs/operations.md (a settle that did not finish)",
        )
    return dict(json.loads(body))


# -- history ----------------------------------------------------------------------------------
def history(aws: Aws, stack: Stack, limit: int) -> list[dict[str, Any]]:
    return call(aws, lambda: Deployments(aws.client("dynamodb"), stack.table).history(limit))  # type: ignore[no-any-return]


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


def execution_of(stack: Stack, deployment_id: str) -> str:
    return execution_arn(stack, deployment_id)
