"""The one way every switch ends: `settle`.

Success, a gate or probe failing, a rejection or approval timeout, an abort, an alarm,
a manual `StopExecution`, an execution timeout, an uncatchable error, a lost record:
every ending calls `settle`, which

1. **claims** the outcome: a conditional write moves the record from IN_PROGRESS to
   SETTLING with the intent (SUCCEEDED or ROLLED_BACK), the actor and the cause. The
   first claim decides; a later caller backs off, unless it is the same actor retrying
   or the reaper taking over a dead execution's claim. An ended record is never
   settled again (`DeploymentEnded`, nothing changed): going back after a success is a
   new deployment. A lost record is written back from the execution state first.
2. **makes traffic match** the intent through the platform adapter (restore the
   snapshot, stop the platform's deployment with rollback, or finish a success), and
   stops the execution when the actor is not the execution itself;
3. **reads traffic back** from the platform and decides the status from what it saw:
   a record never says ROLLED_BACK while production serves the new release (that is
   FAILED, with the observation); a platform still moving is `SettlePending`;
4. **records** the outcome (conditional: SETTLING -> status), **releases** the locks and
   guards, and **announces** once.

Every step is idempotent, so any caller may run it again after a failure at any point.
When the table cannot be reached, a rollback by the execution restores traffic from the
snapshot it carries before raising `StoreUnavailable` (the machine retries for minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from .. import announce
from .. import clock as wall_clock
from ..contracts import Actor, Observation, Snapshot
from ..errors import BlueGreenError, cause_message
from ..platforms import adapter_for
from ..platforms.codedeploy_ec2 import CodeDeployEc2
from ..platforms.codedeploy_ecs import DONE as CODEDEPLOY_DONE
from ..platforms.ecs_native import DONE as NATIVE_DONE
from ..store import (
    FAILED,
    ROLLED_BACK,
    SUCCEEDED,
    Deployments,
    OutcomeAlreadyDecided,
    RecordNotFound,
    StoreUnavailable,
)

ANNOUNCED = "announcedAt"
NOT_STARTED = "NOT_STARTED"  # a failure before Begin: no record, nothing changed
REWRITES = 3  # a restore read back wrong is written again at most this many times
_DETAIL_TYPE = {
    SUCCEEDED: announce.SUCCEEDED,
    ROLLED_BACK: announce.ROLLED_BACK,
    FAILED: announce.FAILED,
}


class SettlePending(BlueGreenError):
    """The platform is still moving traffic (a rollback in progress): settle again later."""


class DeploymentEnded(BlueGreenError):
    """The deployment had already ended before this call; nothing was changed."""


@dataclass(frozen=True)
class Subject:
    """What settle acts on, from the execution state, the record or an alarm guard."""

    deployment_id: str
    execution_arn: str
    platform: str = ""
    adapter: str = ""
    live: str = ""  # plan "from"
    idle: str = ""  # plan "to"
    locks: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    snapshot: Snapshot | None = None
    target: str = ""  # what a person calls it: load balancer name or cluster/service
    started_at: str = ""  # the record's start (ISO), for the duration metric
    steps_taken: int = 0  # traffic steps the record shows (EC2)

    @classmethod
    def from_state(
        cls,
        plan: Mapping[str, Any],
        begun: Mapping[str, Any] | None,
        progress: Mapping[str, Any] | None,
    ) -> Subject:
        """From the execution state: the plan, Begin's result and the progress."""
        snapshot = cast(Snapshot | None, (begun or {}).get("snapshot"))
        if snapshot is not None:
            snapshot = with_progress(snapshot, progress or {})
        request = plan.get("request") or {}
        return cls(
            deployment_id=str(plan["deploymentId"]),
            execution_arn=str(plan["executionArn"]),
            platform=str(plan.get("platform", "")),
            adapter=str(plan.get("adapter", "")),
            live=str(plan.get("from", "")),
            idle=str(plan.get("to", "")),
            locks=tuple(plan.get("locks") or ()),
            alarms=tuple(request.get("alarms") or ()),
            snapshot=snapshot,
            target=target_name(plan),
        )

    def with_record(self, record: Mapping[str, Any]) -> Subject:
        """Fill what the caller did not know from the record (the caller's own wins)."""
        snapshot = self.snapshot or cast(Snapshot | None, record.get("snapshot"))
        started = record.get("platformDeployment") or {}
        if snapshot is not None and started.get("id"):
            snapshot = with_progress(snapshot, {"reference": started["id"]})
        revision = (record.get("revisionDeployment") or {}).get("id")
        if snapshot is not None and revision and not snapshot.get("revision"):
            snapshot = cast(Snapshot, {**snapshot, "revision": revision})
        return replace(
            self,
            platform=self.platform or str(record.get("platform", "")),
            adapter=self.adapter or str(record.get("adapter") or _adapter_of(record)),
            live=self.live or str(record.get("from", "")),
            idle=self.idle or str(record.get("to", "")),
            locks=self.locks or tuple(record.get("locks") or ()),
            alarms=tuple(sorted({*self.alarms, *(record.get("alarms") or ())})),
            snapshot=snapshot,
            target=self.target or str(record.get("target", "")),
            started_at=self.started_at or str(record.get("startedAt", "")),
            steps_taken=sum(1 for s in record.get("steps") or [] if s.get("phase") == "shift"),
        )

    def body(self) -> dict[str, Any]:
        """A record body for a record that was lost (what the state still holds)."""
        return {
            "deploymentId": self.deployment_id,
            "executionArn": self.execution_arn,
            "platform": self.platform,
            "adapter": self.adapter,
            "from": self.live,
            "to": self.idle,
            "locks": list(self.locks),
            "alarms": list(self.alarms),
            "snapshot": self.snapshot,
            "target": self.target,
            "startedAt": "",
        }


def with_progress(snapshot: Snapshot, progress: Mapping[str, Any]) -> Snapshot:
    """The snapshot, with the platform deployment the progress names (once started)."""
    updated = dict(snapshot)
    if progress.get("reference"):
        updated["reference"] = progress["reference"]
    if progress.get("codeDeployDeploymentId"):
        updated["revision"] = progress["codeDeployDeploymentId"]
    return cast(Snapshot, updated)


def target_name(plan: Mapping[str, Any]) -> str:
    """The `Target` metric dimension: the load balancer's name, or cluster/service."""
    if plan.get("platform") == "ECS":
        request = plan.get("request") or {}
        return f"{_last(request.get('cluster', ''))}/{_last(request.get('service', ''))}"
    for route in plan.get("routes") or []:
        resource = str(route["arn"]).split(":", 5)[-1]  # listener/app/<name>/<id>/...
        parts = resource.split("/")
        if len(parts) > 2:
            return parts[2]
    return ""


def _last(name: str) -> str:
    return str(name).rsplit("/", 1)[-1]


def _adapter_of(record: Mapping[str, Any]) -> str:
    if record.get("platform") == "ECS":
        return "codedeploy-ecs" if record.get("mode") == "codedeploy" else "ecs-native"
    return "alb"


@dataclass(frozen=True)
class Ask:
    """What the caller asks settle to do, and why."""

    intent: str  # SUCCEEDED | ROLLED_BACK
    actor: Actor
    failed_at: str = ""
    error: str = ""
    cause: str = ""
    alarm_epoch: float | None = None  # when the alarm changed state (time to rollback)
    answer: Mapping[str, Any] | None = None  # a rejection: who, when, why (bluegreen.approval)

    def settling(self, at: str) -> dict[str, Any]:
        claim = {
            "intent": self.intent,
            "actor": dict(self.actor),
            "at": at,
            "failedAt": self.failed_at,
            "error": self.error,
            "cause": self.cause,
            "alarmEpoch": self.alarm_epoch,
        }
        if self.answer:
            claim["answer"] = dict(self.answer)
        return claim


@dataclass
class EndingDeps:
    store: Deployments
    clients: Any  # lazily created elbv2, ecs, codedeploy, stepfunctions
    announcer: Callable[[], announce.Announcer]
    verdicts: Callable[[str], list[dict[str, str]]] = lambda _reference: []
    clock: Callable[[], float] = wall_clock.now
    adapters: Callable[[str, Any], Any] = adapter_for  # kind, clients -> adapter


@dataclass
class Settled:
    """What settle did: the status it recorded (from what it read back)."""

    deployment_id: str
    status: str
    intent: str
    outcome: dict[str, Any]
    concluded_now: bool = False
    announced_now: bool = False
    restored_at: float | None = None
    actions: list[str] = field(default_factory=list)
    subject: Subject | None = None

    @property
    def observed(self) -> Observation:
        return cast(Observation, self.outcome.get("observed") or {})

    def as_dict(self) -> dict[str, Any]:
        subject = self.subject
        live, idle = (subject.live, subject.idle) if subject else ("", "")
        if self.status == SUCCEEDED:
            live, idle = idle, live
        return {
            "deploymentId": self.deployment_id,
            "status": self.status,
            "live": live,  # what production serves, as read back (FAILED: what it was)
            "idle": idle,
            "intent": self.intent,
            "failedAt": self.outcome.get("failedAt", ""),
            "error": self.outcome.get("error", ""),
            "cause": self.outcome.get("cause", ""),
            "observed": self.observed,
            "actions": list(self.actions),
        }


# -- settle ---------------------------------------------------------------------------------
def settle(subject: Subject, ask: Ask, deps: EndingDeps) -> Settled:
    """End one deployment (see the module docstring); idempotent."""
    try:
        record = _claim(subject, ask, deps)
    except RecordNotFound:
        if ask.actor["kind"] != "execution" or subject.snapshot is not None:
            raise
        return _not_started(subject, ask)
    subject = subject.with_record(record)
    if record["status"] in {SUCCEEDED, ROLLED_BACK, FAILED}:
        return _already_ended(subject, record, ask, deps)
    settling = record.get("settling") or {}
    intent = str(settling.get("intent", ask.intent))
    claimer = cast(Actor, settling.get("actor") or ask.actor)
    result = Settled(subject.deployment_id, "", intent, {}, subject=subject)
    adapter = deps.adapters(subject.adapter, deps.clients)
    snapshot = _snapshot_of(subject)
    if intent == ROLLED_BACK:
        _restore(adapter, snapshot, record, result, deps)
        result.actions += _stop_revision(snapshot, deps)
    else:
        result.actions.append(adapter.complete(_plan_view(subject), snapshot))
    if ask.actor["kind"] in {"alarm", "operator"}:  # the reaper's execution already ended
        result.actions.append(_stop_execution(subject.execution_arn, settling, deps))
    observed, exact = _read_back(adapter, subject, snapshot, intent, result)
    _close_approval(record, settling, deps)
    outcome = _outcome(subject, settling, claimer, intent, (observed, exact), ask, result, deps)
    result.concluded_now = deps.store.conclude(subject.deployment_id, outcome)
    if not result.concluded_now:  # another caller of the same claim concluded first
        outcome = dict(deps.store.get(subject.deployment_id).get("outcome") or outcome)
    result.outcome, result.status = outcome, str(outcome["status"])
    _finish(subject, result, deps)
    return result


def _claim(subject: Subject, ask: Ask, deps: EndingDeps) -> dict[str, Any]:
    """Claim the ending, or learn who did; the record after the attempt."""
    settling = ask.settling(_now_iso(deps))
    # an execution (or the reaper of one) may claim only a record of that execution
    owner = ask.actor.get("executionArn") if ask.actor["kind"] in {"execution", "reaper"} else None
    try:
        claim = deps.store.claim(subject.deployment_id, settling, execution_arn=owner)
    except RecordNotFound:
        if subject.snapshot is None:
            raise
        claim = deps.store.recreate(subject.deployment_id, subject.body(), settling)
    except StoreUnavailable:
        if ask.intent == ROLLED_BACK and ask.actor["kind"] == "execution" and subject.snapshot:
            # The record cannot be read or written, but this execution holds the lease
            # and carries the snapshot: traffic first, the bookkeeping on a retry.
            deps.adapters(subject.adapter, deps.clients).restore(subject.snapshot)
        raise
    record = claim.record
    if claim.won or record["status"] in {SUCCEEDED, ROLLED_BACK, FAILED}:
        return record
    claimed_by = cast(Actor, (record.get("settling") or {}).get("actor") or {})
    if same_actor(claimed_by, ask.actor) or ask.actor["kind"] in {"reaper", "operator"}:
        return record  # a retry of the claimer, or a takeover of a dead execution's claim
    intent = (record.get("settling") or {}).get("intent")
    raise OutcomeAlreadyDecided(
        f"deployment {subject.deployment_id} is being settled ({intent}) by "
        f"{describe_actor(claimed_by)}"
    )


def _not_started(subject: Subject, ask: Ask) -> Settled:
    """The machine failed before Begin wrote anything: nothing changed, nothing to undo."""
    outcome = {
        "status": NOT_STARTED,
        "intent": ask.intent,
        "failedAt": ask.failed_at,
        "error": ask.error,
        "cause": ask.cause,
        "observed": {"serving": "from", "detail": "nothing was changed", "routes": []},
        "actor": dict(ask.actor),
    }
    return Settled(subject.deployment_id, NOT_STARTED, ask.intent, outcome, subject=subject)


def same_actor(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    if one.get("kind") != other.get("kind"):
        return False
    if one.get("kind") == "alarm":
        return bool(one.get("claimKey")) and one.get("claimKey") == other.get("claimKey")
    return bool(one.get("executionArn")) and one.get("executionArn") == other.get("executionArn")


def describe_actor(actor: Mapping[str, Any]) -> str:
    kind = actor.get("kind", "?")
    if kind == "alarm":
        return f"alarm {actor.get('alarm')}"
    if kind == "operator":
        return f"operator {actor.get('by', '?')}"
    if kind == "reaper":
        return "the reaper (its execution had ended)"
    return "the state machine"


def _already_ended(
    subject: Subject, record: Mapping[str, Any], ask: Ask, deps: EndingDeps
) -> Settled:
    outcome = dict(record.get("outcome") or {})
    result = Settled(
        subject.deployment_id,
        str(record["status"]),
        str(outcome.get("intent", "")),
        outcome,
        subject=subject,
    )
    if same_actor(cast(Actor, outcome.get("actor") or {}), ask.actor):
        _finish(subject, result, deps)  # a retry after the record was written: finish up
        return result
    raise DeploymentEnded(ended_message(subject, record, deps))


def ended_message(subject: Subject, record: Mapping[str, Any], deps: EndingDeps) -> str:
    """Why an ended deployment is not settled again, naming what came after it."""
    outcome = record.get("outcome") or {}
    by = describe_actor(outcome.get("actor") or {})
    message = (
        f"deployment {subject.deployment_id} already ended {record['status']} "
        f"at {record.get('endedAt', '?')} (settled by {by}); nothing was changed"
    )
    newer = sorted(
        {
            f"{last} on {lock}"
            for lock in subject.locks
            if (last := deps.store.last_on(lock)) and last != subject.deployment_id
        }
    )
    if newer:
        message += "; newer deployment(s) since: " + ", ".join(newer)
    if record["status"] == SUCCEEDED:
        message += "; to go back, start a new deployment to the previous release"
    return message


def _restore(
    adapter: Any, snapshot: Snapshot, record: Mapping[str, Any], result: Settled, deps: EndingDeps
) -> None:
    """Routes are written back on every attempt (idempotent, and a late write may have
    moved them); a platform's stop-with-rollback is asked once (the claim keeps when),
    then only observed."""
    exact_routes = hasattr(adapter, "matches_snapshot")
    settling = dict(record.get("settling") or {})
    if not exact_routes and settling.get("restoredAt"):
        result.actions.append("stop with rollback already requested")
        return
    result.actions.append(adapter.restore(snapshot))
    result.restored_at = deps.clock()
    if not settling.get("restoredAt"):  # the first restore is when traffic came back
        settling["restoredAt"] = result.restored_at
        deps.store.set_field(str(record["deploymentId"]), "settling", settling)


def _snapshot_of(subject: Subject) -> Snapshot:
    if subject.snapshot is None:
        # A record without a snapshot was written before the first change: nothing moved.
        return cast(Snapshot, {"adapter": subject.adapter, "routes": [], "test": None})
    return subject.snapshot


def _plan_view(subject: Subject) -> Any:
    return {"from": subject.live, "to": subject.idle}


def _stop_revision(snapshot: Snapshot, deps: EndingDeps) -> list[str]:
    reference = snapshot.get("revision")
    if not reference or snapshot.get("adapter") != "alb":
        return []
    return [CodeDeployEc2(deps.clients.codedeploy).stop(str(reference))]


def _stop_execution(execution_arn: str, settling: Mapping[str, Any], deps: EndingDeps) -> str:
    """Stop the machine (it must not write after us); fine if it already ended."""
    sfn = deps.clients.stepfunctions
    cause = str(settling.get("cause") or "settled")[:32000]
    try:
        error = str(settling.get("error") or "SwitchSettled")
        sfn.stop_execution(executionArn=execution_arn, error=error, cause=cause)
    except sfn.exceptions.ExecutionDoesNotExist:
        return "execution not found"
    return "execution stopped"


def _read_back(
    adapter: Any, subject: Subject, snapshot: Snapshot, intent: str, result: Settled
) -> tuple[Observation, bool]:
    """Traffic as the platform reports it, and whether a restore read back exactly as
    snapshotted; a restore read back wrong is written again (a task in flight may have
    written after us)."""
    observed: Observation = adapter.observe(_plan_view(subject), snapshot)
    exact = True
    if hasattr(adapter, "matches_snapshot") and intent == ROLLED_BACK:  # exact routes (ALB)
        exact = adapter.matches_snapshot(snapshot, observed)
        for _ in range(REWRITES):
            if exact:
                break
            result.actions.append("a route moved after the restore: written again")
            adapter.restore(snapshot)
            observed = adapter.observe(_plan_view(subject), snapshot)
            exact = adapter.matches_snapshot(snapshot, observed)
    if observed["serving"] == "moving":
        raise SettlePending(
            f"deployment {subject.deployment_id}: the platform is still moving traffic "
            f"({observed['detail']}); settling again shortly"
        )
    return observed, exact


def _close_approval(
    record: Mapping[str, Any], settling: Mapping[str, Any], deps: EndingDeps
) -> None:
    """A switch that ends while it waits for approval records how the wait ended (a
    rejection with its approver's answer: who, when, why)."""
    approval = dict(record.get("approval") or {})
    failed_at = str(settling.get("failedAt") or "")
    if not failed_at.startswith("WaitForApproval") or approval.get("state") != "WAITING":
        return
    if failed_at.endswith("(aborted)"):
        state = "ABORTED"  # stopped while it waited (`bluegreen abort`, the console)
    elif settling.get("error") == "States.Timeout":
        state = "TIMED_OUT"
    else:
        state = "REJECTED"
    approval.update({"at": _now_iso(deps), **(settling.get("answer") or {}), "state": state})
    deps.store.set_field(str(record["deploymentId"]), "approval", approval)


def status_for(intent: str, observed: Observation, exact: bool = True) -> tuple[str, str]:
    """The status a record may state for what was read back, and why if it is FAILED."""
    side = observed["serving"]
    if intent == ROLLED_BACK and side == "from" and exact:
        return ROLLED_BACK, ""
    if intent == SUCCEEDED and side == "to":
        return SUCCEEDED, ""
    if side == "to":
        return FAILED, "production still serves the new release: the rollback did not happen"
    if side == "from" and intent == ROLLED_BACK:
        return FAILED, "a route does not match its snapshot after the restore"
    if side == "from":
        return FAILED, "production serves the previous release although the switch succeeded"
    return FAILED, f"production traffic is {side}: {observed['detail']}"


def _platform_finished(observed: Observation) -> bool:
    """The platform (CodeDeploy, ECS) completed its blue/green deployment: production
    serves the release it verified with this stack's hooks; a stop that comes after
    that cannot undo it (only a new deployment back can)."""
    finished = observed.get("platformStatus") in (CODEDEPLOY_DONE | NATIVE_DONE)
    return finished and observed["serving"] == "to"


def _outcome(
    subject: Subject,
    settling: Mapping[str, Any],
    claimer: Actor,
    intent: str,
    seen: tuple[Observation, bool],
    ask: Ask,
    result: Settled,
    deps: EndingDeps,
) -> dict[str, Any]:
    observed, exact = seen
    status, why = status_for(intent, observed, exact)
    if status == FAILED and claimer.get("kind") == "reaper" and _platform_finished(observed):
        status, why = (
            SUCCEEDED,
            (
                "the platform's deployment had succeeded, every hook passing, before the "
                "execution ended: the release is live"
            ),
        )
    cause = str(settling.get("cause") or ask.cause)
    outcome: dict[str, Any] = {
        "status": status,
        "intent": intent,
        "failedAt": settling.get("failedAt", ask.failed_at),
        "error": settling.get("error", ask.error),
        "cause": f"{cause}; {why}" if why and cause else (why or cause),
        "observed": observed,
        "actor": dict(claimer),
        "actions": list(result.actions),
    }
    reference = subject.snapshot.get("reference") if subject.snapshot else None
    if subject.platform == "ECS" and reference and intent == ROLLED_BACK:
        outcome["hooks"] = deps.verdicts(str(reference))
    alarm_epoch = settling.get("alarmEpoch")
    restored_at = settling.get("restoredAt") or result.restored_at
    if isinstance(alarm_epoch, int | float) and isinstance(restored_at, int | float):
        outcome["timeToRollbackMs"] = round((restored_at - alarm_epoch) * 1000, 1)
    return outcome


def _finish(subject: Subject, result: Settled, deps: EndingDeps) -> None:
    """Release the locks and guards, then announce once."""
    deps.store.release(subject.deployment_id, subject.locks, subject.alarms)
    if not deps.store.mark_once(subject.deployment_id, ANNOUNCED):
        return
    outcome = result.outcome
    shown = result.as_dict()
    detail = {
        "deploymentId": subject.deployment_id,
        "platform": subject.platform,
        "status": result.status,
        "from": subject.live,
        "to": subject.idle,
        "live": shown["live"],
        "idle": shown["idle"],
        "failedAt": outcome.get("failedAt", ""),
        "cause": outcome.get("cause", ""),
        "observed": (outcome.get("observed") or {}).get("detail", ""),
        "settledBy": describe_actor(outcome.get("actor") or {}),
    }
    if (outcome.get("actor") or {}).get("kind") == "alarm":
        detail["alarm"] = outcome["actor"].get("alarm", "")
    try:
        deps.announcer().announce(_DETAIL_TYPE[result.status], detail)
    except Exception:
        deps.store.unmark(subject.deployment_id, ANNOUNCED)  # let the retry announce
        raise
    result.announced_now = True


# What an error that carries no message of its own means, by state (a States.Timeout or a
# SendTaskFailure without a cause would otherwise leave the cause saying nothing).
_SILENT_ERRORS = {
    ("WaitForApproval", "States.Timeout"): (
        "no approval within approval.timeoutSeconds (nobody sent the task token back)"
    ),
    ("WaitForApproval", "*"): "the approval was refused (SendTaskFailure without a cause)",
    ("*", "States.Timeout"): "the state timed out",
}


def describe_failure(failed_at: str, error: Mapping[str, Any]) -> str:
    """`<state>: <error>: <message>` for a Catch's `{Error, Cause}`."""
    message = cause_message(error)
    name = error.get("Error") or "Error"
    if not message.strip():
        message = (
            _SILENT_ERRORS.get((failed_at, name))
            or _SILENT_ERRORS.get((failed_at, "*"))
            or _SILENT_ERRORS.get(("*", name))
            or "no detail given"
        )
    return f"{failed_at}: {name}: {message}"


def _now_iso(deps: EndingDeps) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deps.clock()))
