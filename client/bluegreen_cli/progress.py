"""What a switch has done so far, read from its Step Functions execution history.

Pure functions over `GetExecutionHistory` events: the plan the first state produced,
the state the switch is in, which milestones it passed (for the progress bar), the
state of each traffic step, and a timeline a person can read. The deployment record
adds the gate verdicts (`verdicts_by_gate`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PENDING, ACTIVE, PASSED, FAILED = "pending", "active", "passed", "failed"
APPROVAL_STATE = "WaitForApproval"


@dataclass
class Entry:
    at: str  # ISO 8601
    text: str
    level: str = "info"  # info | ok | warn | fail


@dataclass
class Wait:
    """One Wait state of the execution: when it began and ended (real offsets from the
    execution's start, in seconds) and the seconds the state machine was asked to wait."""

    state: str
    start: float
    end: float | None
    seconds: float


# Where each Wait state of the switch reads its seconds from (its SecondsPath)
WAIT_SECONDS = {
    "Bake": ("cursor", "bakeSeconds"),
    "WaitForIdleHealth": ("plan", "request", "healthCheck", "pollSeconds"),
    "WaitForRevision": ("plan", "request", "revision", "pollSeconds"),
    "EcsWait": ("progress", "delaySeconds"),
}


@dataclass
class Progress:
    request: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    state: str = ""  # the state entered last and not yet left ("" when none)
    milestones: list[str] = field(default_factory=list)  # reached, in order
    step_states: dict[int, str] = field(default_factory=dict)
    cursor: int = 0  # index of the traffic step in progress
    waiting_for_approval: bool = False
    approval_token: str | None = None
    approval: str = ""  # "" | WAITING | APPROVED | REJECTED | TIMED_OUT
    timeline: list[Entry] = field(default_factory=list)
    failure: dict[str, str] | None = None  # {state, error, cause} of the first failed task
    ended: str = ""  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT | ""
    end_error: str = ""
    end_cause: str = ""
    started_at: str = ""  # the execution's start (ISO 8601)
    entered_at: str = ""  # when the current state was entered
    since: dict[str, str] = field(default_factory=dict)  # phase -> first entered (ISO 8601)
    waits: list[Wait] = field(default_factory=list)
    platform_status: str = ""  # ECS: the platform deployment's status, last observed

    def all_milestones(self) -> list[str]:
        """Every milestone this switch will pass, in order (needs the plan)."""
        if self.plan is None:
            return []
        if platform(self.plan, self.request) == "ECS":
            return ["validated", "locked", "deployed", "switched"]
        names = ["validated", "locked"]
        if self.plan.get("hasRevision"):
            names.append("revision")
        names.append("healthy")
        if self.plan.get("hasTestTraffic"):
            names.append("test traffic")
        if self.plan.get("needsApproval"):
            names.append("approved")
        names += [f"step {s['index'] + 1}" for s in self.plan.get("steps", [])]
        names.append("switched")
        return names


def read(
    events: Sequence[Mapping[str, Any]],
    verdicts: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
) -> Progress:
    """Progress from the events of one execution (oldest first); `verdicts` (gate index ->
    the record's verdicts) name the checks each gate passed."""
    reader = _Reader(verdicts or {})
    for event in events:
        reader.feed(event)
    return reader.progress


def pending_task_token(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The task token of a `waitForTaskToken` task still waiting for its answer."""
    return read(events).approval_token


class _Reader:
    def __init__(self, verdicts: Mapping[int, Sequence[Mapping[str, Any]]]) -> None:
        self.progress = Progress()
        self.verdicts = verdicts
        self.names: dict[str, str] = {}
        self.scheduled: dict[str, Any] = {}
        self.last_health = ""
        self.task_failed_here = False  # the state's task failed (its Catch routes on)

    # -- helpers -----------------------------------------------------------------------
    def name(self, arn: str) -> str:
        return self.names.get(arn) or short_name(arn)

    def add(self, event: Mapping[str, Any], text: str, level: str = "info") -> None:
        self.progress.timeline.append(Entry(iso(event["timestamp"]), text, level))

    def reach(self, milestone: str) -> None:
        if milestone not in self.progress.milestones:
            self.progress.milestones.append(milestone)

    # -- dispatch ------------------------------------------------------------------------
    def feed(self, event: Mapping[str, Any]) -> None:
        kind = str(event["type"])
        if kind == "ExecutionStarted":
            self.started(event)
        elif kind.endswith("StateEntered"):
            self.entered(event, event["stateEnteredEventDetails"])
        elif kind.endswith("StateExited"):
            self.exited(event, event["stateExitedEventDetails"])
        elif kind == "TaskScheduled":
            self.scheduled = _json(event["taskScheduledEventDetails"].get("parameters"))
            self.task_failed_here = False
        elif kind == "TaskSucceeded":
            self.task_failed_here = False
        elif kind == "TaskSubmitted" and self.progress.state == APPROVAL_STATE:
            self.approval_asked(event)
        elif kind in {"TaskFailed", "TaskTimedOut"}:
            self.task_failed(event, kind)
        elif kind.startswith("Execution"):
            self.execution_ended(event, kind)

    def offset(self, event: Mapping[str, Any]) -> float:
        start = _when(self.progress.started_at)
        at = _when(iso(event["timestamp"]))
        return (at - start).total_seconds() if start and at else 0.0

    def started(self, event: Mapping[str, Any]) -> None:
        self.progress.started_at = iso(event["timestamp"])
        self.progress.request = _json(event["executionStartedEventDetails"].get("input"))
        who = self.progress.request.get("requestedBy") or "unknown"
        self.add(event, f"started by {who}")

    def entered(self, event: Mapping[str, Any], details: Mapping[str, Any]) -> None:
        state = str(details["name"])
        self.progress.state = state
        self.progress.entered_at = iso(event["timestamp"])
        self.progress.since.setdefault(_PHASE_OF.get(state, state), self.progress.entered_at)
        data = _json(details.get("input"))
        if state in WAIT_SECONDS:
            seconds = _path(data, WAIT_SECONDS[state])
            self.progress.waits.append(Wait(state, self.offset(event), None, float(seconds or 0)))
        if state == "ShiftTraffic":
            self.progress.cursor = int(data.get("cursor", {}).get("index", 0))
            self.progress.step_states[self.progress.cursor] = ACTIVE
        elif state == "Bake":
            bake = data.get("cursor", {}).get("bakeSeconds", 0)
            if bake:
                self.add(event, f"baking {duration(int(bake))}")
        elif state == "DryRunPlan":
            self.add(event, "dry run: plan only, nothing changed", "ok")
        elif state == "Rollback":
            self.add(event, "rolling back: restoring the snapshot", "warn")

    def exited(self, event: Mapping[str, Any], details: Mapping[str, Any]) -> None:
        state = str(details["name"])
        data = _json(details.get("output"))
        self.progress.state = ""
        waits = self.progress.waits
        if state in WAIT_SECONDS and waits and waits[-1].end is None:
            waits[-1].end = self.offset(event)
        if self.task_failed_here:  # left through its Catch: nothing was achieved here
            self.task_failed_here = False
            return
        handler = {
            "ValidateInput": self.validated,
            "Begin": self.locked,
            "CheckRevision": self.revision_checked,
            "CheckIdleHealth": self.health_checked,
            "TestTraffic": self.tested,
            APPROVAL_STATE: self.approved,
            "ShiftTraffic": self.shifted,
            "Gate": self.gated,
            "Finish": self.finished,
            "Rollback": self.rolled_back,
            "EcsBegin": self.locked,
            "EcsObserve": self.ecs_observed,
            "EcsFinish": self.finished,
            "EcsAbort": self.rolled_back,
        }.get(state)
        if handler is not None:
            handler(event, data)

    # -- states ------------------------------------------------------------------------
    def validated(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        plan = data.get("plan")
        if not isinstance(plan, dict):
            return
        self.progress.plan = plan
        self.progress.step_states = {s["index"]: PENDING for s in plan.get("steps", [])}
        self.reach("validated")
        if platform(plan, self.progress.request) == "ECS":
            self.add(event, "validated: ECS service release")
            return
        routes = len(plan.get("routes", []))
        self.add(
            event,
            f"validated: {self.name(plan.get('from', ''))} -> {self.name(plan.get('to', ''))}, "
            f"{strategy_text(plan)}, {routes} route{'s' if routes != 1 else ''}",
        )
        for finding in (plan.get("fleetChecks") or {}).get("findings", []):
            self.add(event, f"fleet check {finding['severity']}: {finding['message']}", "warn")

    def locked(self, event: Mapping[str, Any], _data: Mapping[str, Any]) -> None:
        self.reach("locked")
        if platform(self.progress.plan or {}, self.progress.request) == "ECS":
            self.add(event, "locked the service, record written")
            return
        locks = len((self.progress.plan or {}).get("locks", []))
        self.add(event, f"locked {locks} listener{'s' if locks != 1 else ''}, snapshot taken")

    def revision_checked(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        revision = data.get("revision") or {}
        if revision.get("done"):
            self.reach("revision")
            self.add(event, "revision deployed to the idle fleet", "ok")

    def health_checked(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        health = data.get("health") or {}
        if (self.progress.plan or {}).get("hasRevision"):
            self.reach("revision")
        target = self.name((self.progress.plan or {}).get("to", ""))
        detail = str(health.get("detail", ""))
        if health.get("healthy"):
            self.reach("healthy")
            self.add(event, f"{target} healthy: {detail}", "ok")
        elif detail != self.last_health:
            self.add(event, f"waiting for {target} to be healthy: {detail}", "warn")
        self.last_health = detail

    def tested(self, event: Mapping[str, Any], _data: Mapping[str, Any]) -> None:
        self.reach("test traffic")
        self.add(event, "test traffic: every probe passed", "ok")

    def approval_asked(self, event: Mapping[str, Any]) -> None:
        self.progress.waiting_for_approval = True
        self.progress.approval = "WAITING"
        token = self.scheduled.get("Payload", {}).get("taskToken")
        self.progress.approval_token = str(token) if token else None
        self.add(event, "waiting for approval", "warn")

    def approved(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        self.progress.waiting_for_approval = False
        self.progress.approval_token = None
        self.progress.approval = "APPROVED"
        self.reach("approved")
        given = data.get("approval")
        answer: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        by = answer.get("name") or answer.get("by") or answer.get("approvedBy")
        self.add(event, f"approved{f' by {by}' if by else ''}", "ok")

    def shifted(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        cursor = data.get("cursor") or {}
        percent = cursor.get("percent", "?")
        total = len((self.progress.plan or {}).get("steps", [])) or "?"
        index = int(cursor.get("index", self.progress.cursor))
        target = self.name((self.progress.plan or {}).get("to", ""))
        self.add(event, f"step {index + 1}/{total}: {percent}% on {target} (read back ok)")

    def gated(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        # the gate answers with the index of the next step, or of the same one when it
        # could not decide yet and the bake is extended
        gate = data.get("gate") or data.get("cursor") or {}
        if gate.get("inconclusive"):
            index = int(gate.get("index", self.progress.cursor))
            seconds = gate.get("extendSeconds", "?")
            self.add(event, f"gate {index + 1} could not decide yet: bake {seconds} s more", "warn")
            return
        index = int(gate.get("index", self.progress.cursor + 1)) - 1
        self.progress.step_states[index] = PASSED
        self.reach(f"step {index + 1}")
        checks = [str(v.get("check")) for v in self.verdicts.get(index, [])]
        passed = ", ".join(checks or gate.get("passed", []))
        self.add(event, f"gate {index + 1} passed{': ' + passed if passed else ''}", "ok")

    def ecs_observed(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        progress = data.get("progress") or {}
        status = str(progress.get("status") or "")
        if status:
            self.progress.platform_status = status
        if progress.get("done"):
            self.reach("deployed")
        if status and status != self.last_health:
            self.add(event, f"ECS deployment: {status} {progress.get('reason') or ''}".strip())
        self.last_health = status

    def finished(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        self.reach("switched")
        live = (data.get("result") or {}).get("live") or (self.progress.plan or {}).get("to", "")
        self.add(event, f"switched: {self.name(live)} is live, locks released", "ok")

    def rolled_back(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        status = (data.get("rollback") or {}).get("status", "")
        text = "nothing to restore (failed before any change)" if status == "NOT_STARTED" else ""
        self.add(event, f"rolled back: {text or 'snapshot restored and verified'}", "warn")

    def task_failed(self, event: Mapping[str, Any], kind: str) -> None:
        self.task_failed_here = True
        details = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails") or {}
        state = self.progress.state or "?"
        error = str(details.get("error") or ("States.Timeout" if kind == "TaskTimedOut" else ""))
        cause = error_message(details.get("cause"))
        if state == APPROVAL_STATE:
            self.progress.waiting_for_approval = False
            self.progress.approval_token = None
            self.progress.approval = "TIMED_OUT" if kind == "TaskTimedOut" else "REJECTED"
        if state in {"ShiftTraffic", "Gate"}:
            self.progress.step_states[self.progress.cursor] = FAILED
        if self.progress.failure is None and state != "Rollback":
            self.progress.failure = {"state": state, "error": error, "cause": cause}
        self.add(event, f"{state} failed: {error}{': ' + cause if cause else ''}", "fail")

    def execution_ended(self, event: Mapping[str, Any], kind: str) -> None:
        status = {
            "ExecutionSucceeded": "SUCCEEDED",
            "ExecutionFailed": "FAILED",
            "ExecutionAborted": "ABORTED",
            "ExecutionTimedOut": "TIMED_OUT",
        }.get(kind)
        if status is None:
            return
        self.progress.ended = status
        self.progress.waiting_for_approval = False
        self.progress.approval_token = None
        details = (
            event.get("executionFailedEventDetails")
            or event.get("executionAbortedEventDetails")
            or event.get("executionTimedOutEventDetails")
            or {}
        )
        if status == "SUCCEEDED":
            self.add(event, "ended: SUCCEEDED", "ok")
            return
        error = details.get("error") or ""
        self.progress.end_error = str(error)
        self.progress.end_cause = error_message(details.get("cause"))
        cause = "" if error else self.progress.end_cause  # the view shows the cause
        self.add(event, f"ended: {status} {error}{': ' + cause if cause else ''}".strip(), "fail")


# -- helpers shared with the renderer ---------------------------------------------------------
def short_name(arn: str) -> str:
    """`shop-blue` from a target group ARN; the last path part of any other ARN."""
    if ":targetgroup/" in arn:
        return arn.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return arn.rsplit("/", 1)[-1] or arn


def strategy_text(plan: Mapping[str, Any]) -> str:
    steps = plan.get("steps", [])
    kind = (plan.get("request") or {}).get("strategy", {}).get("type", "steps")
    if not steps:
        return str(kind)
    percents = " -> ".join(f"{s['percent']}%" for s in steps)
    longest = max(s["bakeSeconds"] for s in steps[:-1]) if len(steps) > 1 else 0
    longest = longest or steps[-1]["bakeSeconds"]
    bake = f", bake {duration(longest)}" if longest else ""
    return f"{kind} {percents}{bake}"


def platform(plan: Mapping[str, Any], request: Mapping[str, Any]) -> str:
    return str(
        plan.get("platform")
        or (plan.get("request") or {}).get("platform")
        or request.get("platform")
        or "EC2"
    )


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def error_message(cause: Any) -> str:
    """The readable part of a Step Functions cause (often a Lambda error as JSON)."""
    text = str(cause or "")
    if text.startswith("{"):
        try:
            return str(json.loads(text).get("errorMessage") or text)
        except ValueError:
            return text
    return text


def verdicts_by_gate(record_steps: Iterable[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Gate index -> the verdicts the record keeps for it."""
    return {
        int(step["index"]): list(step.get("verdicts", []))
        for step in record_steps
        if step.get("phase") == "gate"
    }


# The phases a countdown measures from: the first entry of any of their states
_PHASE_OF = {
    "CheckIdleHealth": "health",
    "WaitForIdleHealth": "health",
    "DeployRevision": "revision",
    "WaitForRevision": "revision",
    "CheckRevision": "revision",
    "WaitForApproval": "approval",
    "EcsStartDeployment": "platform",
    "EcsWait": "platform",
    "EcsObserve": "platform",
}


def _path(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _when(text: str) -> datetime | None:
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# -- the state machine's clock ---------------------------------------------------------------
EMULATED_BELOW = 0.5  # waits lasting less than half their seconds: a scaled (emulated) clock


def clock_scale(waits: Sequence[Wait]) -> float:
    """Real seconds per state-machine second, read from the waits that ended: 1 on AWS
    (a Wait state lasts at least its seconds); the emulator's `--scale` when its waits are
    shorter. 1 until a wait of at least one second has ended."""
    ratios = [(w.end - w.start) / w.seconds for w in waits if w.end is not None and w.seconds >= 1]
    if not ratios or max(ratios) >= EMULATED_BELOW:
        return 1.0
    return max(*ratios, 0.0)


def machine_seconds(real_offset: float, waits: Sequence[Wait], scale: float) -> float:
    """A real offset from the execution's start, on the state machine's clock: a wait
    counts the seconds it was asked for, whatever it really took."""
    total = real_offset
    for wait in waits:
        if wait.start >= real_offset:
            break
        end = real_offset if wait.end is None or wait.end > real_offset else wait.end
        real = max(0.0, end - wait.start)
        if wait.end is not None and wait.end <= real_offset:
            counted = wait.seconds
        else:  # still waiting
            counted = min(wait.seconds, real / scale) if scale > 0 else wait.seconds
        total += counted - real
    return total


def _json(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
