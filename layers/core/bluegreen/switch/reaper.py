"""The endings the machine cannot catch: a `StopExecution` (console, CLI, API), an
execution timeout, an uncatchable error (`States.DataLimitExceeded`, `States.Runtime`)
or a settle that failed for good. EventBridge's `Step Functions Execution Status Change`
(ABORTED, TIMED_OUT, FAILED) for this stack's state machine invokes `reap`, which settles
a record still open, exactly as the machine would have (idempotent with the machine's
own settle and with an alarm's: whoever claimed first decides).

The execution is asked first whether it really ended (the event is not trusted to say
so). The snapshot comes from the record, or, if the record is gone, from the execution
history: every state's output carries the plan and Begin's result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from ..errors import BlueGreenError, InvalidInput
from ..store import ENDED, ROLLED_BACK
from .endings import Ask, EndingDeps, Settled, SettlePending, Subject, settle

logger = Logger(child=True)
REAPED = ("ABORTED", "TIMED_OUT", "FAILED")
HISTORY_PAGE = 100


class StillRunning(BlueGreenError):
    """The execution is still running: only its own settle may end it."""


@dataclass(frozen=True)
class ExecutionChange:
    execution_arn: str
    name: str
    status: str
    error: str
    cause: str

    @classmethod
    def from_event(cls, event: Any) -> ExecutionChange:
        if not isinstance(event, Mapping):
            raise InvalidInput("$", "the event must be a JSON object")
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            raise InvalidInput("detail", "must be the execution status change object")
        values = {key: detail.get(key) for key in ("executionArn", "name", "status")}
        for key, value in values.items():
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"detail.{key}", "is missing or not a string")
        return cls(
            execution_arn=str(values["executionArn"]),
            name=str(values["name"]),
            status=str(values["status"]),
            error=str(detail.get("error") or ""),
            cause=str(detail.get("cause") or ""),
        )


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up per call: the sleep of the process the layer runs in


@dataclass
class ReaperDeps:
    endings: EndingDeps
    sleep: Callable[[float], None] = _sleep
    remaining_seconds: Callable[[], float] = lambda: 60.0
    pending_poll_seconds: float = 10.0


def reap(
    change: ExecutionChange, deps: ReaperDeps, actor_kind: str = "reaper"
) -> tuple[dict[str, Any], Settled | None]:
    """Settle the deployment of an execution that ended without settling it: what was
    done, and the settle result when there was one."""
    if change.status not in REAPED:
        note = f"status {change.status}"
        return {"deploymentId": change.name, "result": "IGNORED", "note": note}, None
    sfn = deps.endings.clients.stepfunctions
    if sfn.describe_execution(executionArn=change.execution_arn)["status"] == "RUNNING":
        raise StillRunning(f"{change.execution_arn} is still RUNNING")
    store = deps.endings.store
    record = store.find(change.name)
    if record is not None and record["status"] in ENDED:
        answer = {"deploymentId": change.name, "result": "ALREADY_ENDED"}
        return {**answer, "status": record["status"]}, None
    subject = _subject(change, record, sfn)
    if subject is None:
        answer = {"deploymentId": change.name, "result": "NOTHING_TO_SETTLE"}
        return {**answer, "note": "the execution ended before Begin wrote anything"}, None
    ending = how_it_ended(sfn, change)
    ask = Ask(
        intent=ROLLED_BACK,
        actor={"kind": actor_kind, "executionArn": change.execution_arn},  # type: ignore[typeddict-item]
        failed_at=ending.failed_at,
        error=ending.error,
        cause=ending.cause,
    )
    settled = _settle_patiently(subject, ask, deps)
    logger.info("reaped", deploymentId=change.name, status=settled.status)
    return {"deploymentId": change.name, "result": "SETTLED", **settled.as_dict()}, settled


class ExecutionEnded(BlueGreenError):
    """The execution ended while this task ran; what the task wrote was settled here."""


def reap_if_ended(execution_arn: str, deployment_id: str, deps: ReaperDeps) -> None:
    """Begin's last word: if the execution was stopped while Begin ran, the reaper may
    already have looked and found nothing to settle; the locks and the record Begin just
    wrote would then stay forever. So look again, after writing, and settle them here.
    (The reaper reads the record only after the execution has ended; this reads the
    execution only after the record exists: one of the two sees the other.)"""
    sfn = deps.endings.clients.stepfunctions
    status = str(sfn.describe_execution(executionArn=execution_arn)["status"])
    if status == "RUNNING":
        return
    change = ExecutionChange(execution_arn, deployment_id, status, "", "")
    answer, _ = reap(change, deps)
    raise ExecutionEnded(
        f"the execution ended ({status}) while Begin ran: {answer.get('result')} "
        f"{answer.get('status', '')}".strip()
    )


def _settle_patiently(subject: Subject, ask: Ask, deps: ReaperDeps) -> Settled:
    """Settle; while the platform still rolls back, wait and look again (bounded by the
    invocation's remaining time, then Lambda's retry takes over)."""
    while True:
        try:
            return settle(subject, ask, deps.endings)
        except SettlePending:
            if deps.remaining_seconds() < 3 * deps.pending_poll_seconds:
                raise
            deps.sleep(deps.pending_poll_seconds)


@dataclass(frozen=True)
class Ending:
    failed_at: str  # the state it was in, and how it ended: `Bake (aborted)`
    error: str
    cause: str


_HOW = {"ABORTED": "aborted", "TIMED_OUT": "timed out", "FAILED": "failed"}
_DETAILS = ("executionAbortedEventDetails", "executionTimedOutEventDetails",
            "executionFailedEventDetails")  # fmt: skip


def how_it_ended(stepfunctions: Any, change: ExecutionChange) -> Ending:
    """Where and why the execution ended, from the end of its history (the status event
    need not carry the error and cause a StopExecution gave)."""
    page = stepfunctions.get_execution_history(
        executionArn=change.execution_arn, reverseOrder=True, maxResults=HISTORY_PAGE
    )
    error, cause, state = change.error, change.cause, ""
    for event in page.get("events", []):
        details = next((event[key] for key in _DETAILS if key in event), None)
        if details is not None and not (error or cause):
            error, cause = str(details.get("error") or ""), str(details.get("cause") or "")
        entered = event.get("stateEnteredEventDetails")
        if entered and not state:
            state = str(entered.get("name") or "")
    how = _HOW.get(change.status, change.status.lower())
    error = error or f"States.{change.status}"
    failed_at = f"{state} ({how})" if state else f"execution {how}"
    return Ending(
        failed_at=failed_at,
        error=error,
        cause=f"{failed_at}: {error}: {cause or 'execution ' + how}",
    )


def _subject(
    change: ExecutionChange, record: Mapping[str, Any] | None, stepfunctions: Any
) -> Subject | None:
    if record is not None:
        return Subject(deployment_id=change.name, execution_arn=change.execution_arn).with_record(
            record
        )
    state = last_state(stepfunctions, change.execution_arn)
    if not state or not (state.get("begun") or {}).get("snapshot"):
        return None
    return Subject.from_state(state["plan"], state["begun"], state.get("progress"))


def last_state(stepfunctions: Any, execution_arn: str) -> dict[str, Any] | None:
    """The last state output that carries a plan (newest first in the history)."""
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "executionArn": execution_arn,
            "reverseOrder": True,
            "maxResults": HISTORY_PAGE,
            "includeExecutionData": True,
        }
        if token:
            kwargs["nextToken"] = token
        page = stepfunctions.get_execution_history(**kwargs)
        for event in page.get("events", []):
            output = (event.get("stateExitedEventDetails") or {}).get("output")
            if not output:
                continue
            try:
                state = json.loads(output)
            except ValueError:
                continue
            if isinstance(state, dict) and isinstance(state.get("plan"), dict):
                return state
        token = page.get("nextToken")
        if not token:
            return None
