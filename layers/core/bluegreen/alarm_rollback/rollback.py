"""Roll back every deployment an alarm guards: traffic first, bookkeeping after.

Order, per alarm change (see the package docstring for why):

1. `Query` the alarm's guards (one read: `pk = ALARM#<name>`).
2. Restore, for every guarded deployment, before anything else: EC2 -> write the
   snapshot back, one `ModifyListener`/`ModifyRule` per production route; CodeDeploy
   ECS -> `StopDeployment(autoRollbackEnabled=True)`; ECS-native ->
   `StopServiceDeployment(stopType=ROLLBACK)`. This is the moment `TimeToRollback` measures.
3. Bookkeeping: read the routes back, claim ROLLED_BACK on the record (conditional),
   restore the test listener, stop the execution with a cause naming the alarm, release
   the locks, announce once, delete the guards last (so a retry still finds them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from .. import announce, records
from ..ec2 import traffic
from ..errors import BlueGreenError
from ..records import AlarmClaim, Guard, Records
from .event import ALARM, AlarmChange

logger = Logger(child=True)

EC2 = "EC2"
ECS = "ECS"
ANNOUNCED = "rollbackAnnouncedAt"
STOP_ERROR = "AlarmRollback"
NO_ECS_DEPLOYMENT = "none (no ECS deployment yet)"


class RollbackIncomplete(BlueGreenError):
    """At least one guarded deployment could not be rolled back (the others were)."""


class UnknownPlatform(BlueGreenError):
    """A guard names a platform or rollback payload this function cannot act on."""


@dataclass
class RollbackDeps:
    """What the rollback needs. `clients` is read lazily: only what a guard uses is built."""

    clients: Any  # bluegreen.aws.Clients, or a test double with the same attributes
    records: Records
    announcer: Callable[[], announce.Announcer]
    now: Callable[[], float] = time.time


@dataclass
class Restored:
    """Step 2's result for one guard."""

    guard: Guard
    restored_at: float
    action: str  # what was done: "snapshot", "StopDeployment", ...
    already_ended: bool = False  # the platform said the deployment had already ended
    routes: list[dict[str, Any]] = field(default_factory=list)  # EC2: production routes


@dataclass
class Outcome:
    """What happened to one guarded deployment."""

    deployment_id: str
    platform: str
    result: str  # ROLLED_BACK (by this alarm) | ALREADY_<status> | FAILED
    time_to_rollback_ms: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "deploymentId": self.deployment_id,
            "platform": self.platform,
            "result": self.result,
            "timeToRollbackMs": self.time_to_rollback_ms,
            "detail": self.detail,
        }


@dataclass
class Report:
    alarm: str
    state: str
    outcomes: list[Outcome] = field(default_factory=list)
    note: str = ""

    @property
    def rolled_back(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == records.ROLLED_BACK]

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm,
            "state": self.state,
            "note": self.note,
            "deployments": [o.as_dict() for o in self.outcomes],
        }


def roll_back(change: AlarmChange, deps: RollbackDeps) -> Report:
    """Roll back every deployment `change.alarm` guards; a no-op for anything else."""
    report = Report(change.alarm, change.state)
    if change.state != ALARM:
        report.note = f"state {change.state}: only ALARM rolls back"
        logger.info("alarm not in ALARM: nothing to do", alarm=change.alarm, state=change.state)
        return report
    guards = deps.records.guards_for_alarm(change.alarm, now=deps.now())
    if not guards:
        report.note = "guards no running deployment"
        logger.info("alarm guards no running deployment: nothing to do", alarm=change.alarm)
        return report
    failures: list[str] = []
    restored: list[Restored] = []
    for guard in guards:  # traffic first, for every deployment, before any bookkeeping
        try:
            restored.append(_restore(guard, deps))
        except (BlueGreenError, ClientError) as error:
            failures.append(f"{guard.deployment_id}: {type(error).__name__}: {error}")
            report.outcomes.append(Outcome(guard.deployment_id, guard.platform, "FAILED"))
            logger.exception("restore failed", deploymentId=guard.deployment_id)
    for done in restored:
        report.outcomes.append(_settle(done, change, deps))
    if failures:
        raise RollbackIncomplete(f"alarm {change.alarm}: " + "; ".join(failures))
    return report


# -- 2. restore ------------------------------------------------------------------------------
def _restore(guard: Guard, deps: RollbackDeps) -> Restored:
    payload = guard.rollback
    if guard.platform == EC2:
        routes = list(payload["snapshot"]["routes"])
        for route in routes:
            traffic.write(deps.clients.elbv2, route, route["actions"])
        return Restored(guard, deps.now(), "snapshot", routes=routes)
    if guard.platform == ECS and payload.get("codeDeployDeploymentId"):
        return _stop_codedeploy(guard, str(payload["codeDeployDeploymentId"]), deps)
    if guard.platform == ECS and payload.get("serviceDeploymentArn"):
        return _stop_service_deployment(guard, str(payload["serviceDeploymentArn"]), deps)
    if guard.platform == ECS:  # no ECS deployment created yet: no traffic has moved
        return Restored(guard, deps.now(), NO_ECS_DEPLOYMENT)
    raise UnknownPlatform(f"guard of {guard.deployment_id}: platform {guard.platform!r}")


def _stop_codedeploy(guard: Guard, deployment_id: str, deps: RollbackDeps) -> Restored:
    codedeploy = deps.clients.codedeploy
    try:
        codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    except codedeploy.exceptions.DeploymentAlreadyCompletedException:
        return Restored(guard, deps.now(), "StopDeployment", already_ended=True)
    return Restored(guard, deps.now(), "StopDeployment")


def _stop_service_deployment(guard: Guard, arn: str, deps: RollbackDeps) -> Restored:
    ecs = deps.clients.ecs
    try:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    except ecs.exceptions.ConflictException:  # not stoppable: completed or already stopping
        return Restored(guard, deps.now(), "StopServiceDeployment", already_ended=True)
    return Restored(guard, deps.now(), "StopServiceDeployment")


# -- 3. bookkeeping --------------------------------------------------------------------------
def _settle(done: Restored, change: AlarmChange, deps: RollbackDeps) -> Outcome:
    guard = done.guard
    if done.already_ended:  # CodeDeploy/ECS ended it (succeeded or rolled back): the
        # machine sees that on its next poll and records it; there is nothing to claim.
        logger.info("platform says the deployment already ended", deploymentId=guard.deployment_id)
        return Outcome(guard.deployment_id, guard.platform, "ALREADY_ENDED", None, done.action)
    elapsed = None if change.epoch is None else (done.restored_at - change.epoch) * 1000
    observed = _verify(done, deps)
    cause = f"alarm {change.alarm} in ALARM: {change.reason}".strip()
    details = {
        "trigger": "alarm",
        "alarm": change.alarm,
        "reason": change.reason,
        "alarmTimestamp": change.timestamp,
        "failedAt": "Alarm",
        "error": STOP_ERROR,
        "cause": cause,
        "action": done.action,
        "restored": observed,
        "timeToRollbackMs": elapsed,
    }
    claim = deps.records.claim_for_alarm(guard.deployment_id, details, change.key)
    if claim.result == records.CLAIM_LOST:
        return _lost(done, claim, deps)
    _finish(done, claim, cause, deps)
    if claim.result == records.CLAIM_AGAIN:
        elapsed = None  # measured by the delivery that restored first
    logger.info(
        "rolled back",
        deploymentId=guard.deployment_id,
        alarm=change.alarm,
        claim=claim.result,
        timeToRollbackMs=elapsed,
    )
    return Outcome(guard.deployment_id, guard.platform, records.ROLLED_BACK, elapsed, done.action)


def _verify(done: Restored, deps: RollbackDeps) -> list[dict[str, Any]]:
    """Read the restored routes back (once more restored if a task in flight moved one)."""
    if not done.routes:
        return []
    return _restore_if_moved(done.routes, deps)


def _snapshot_weights(routes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    return {route["arn"]: traffic.forward_weights(route["actions"]) for route in routes}


def _finish(done: Restored, claim: AlarmClaim, cause: str, deps: RollbackDeps) -> None:
    """This alarm change owns the ending: finish what the machine would have done."""
    guard, record = done.guard, claim.record
    test = (guard.rollback["snapshot"].get("test") or []) if guard.platform == EC2 else []
    if test:
        traffic.restore(deps.clients.elbv2, test)
    _stop_execution(guard.execution_arn, cause, deps)
    if done.action == NO_ECS_DEPLOYMENT:
        _stop_late_ecs_deployment(guard, deps)
    if done.routes:  # a task in flight when we restored may have written after us
        _restore_if_moved([*done.routes, *test], deps)
    deps.records.release(guard.deployment_id, record.get("locks", guard.locks), alarms=[])
    if deps.records.mark_once(guard.deployment_id, ANNOUNCED):
        try:
            deps.announcer().announce(
                announce.ROLLED_BACK,
                {
                    "deploymentId": guard.deployment_id,
                    "platform": guard.platform,
                    "failedAt": "Alarm",
                    "alarm": claim.record["outcome"]["alarm"],
                    "cause": cause,
                },
            )
        except Exception:
            deps.records.unmark(guard.deployment_id, ANNOUNCED)  # let the retry announce
            raise
    deps.records.release(guard.deployment_id, [], alarms=record.get("alarms", [guard.alarm]))


def _stop_late_ecs_deployment(guard: Guard, deps: RollbackDeps) -> None:
    """The guard named no ECS deployment, but the machine's start task may have created
    one since: with the execution stopped, stop that one too (with its rollback)."""
    started = deps.records.get(guard.deployment_id).get("platformDeployment") or {}
    reference = started.get("id")
    if not reference:
        return
    key = "codeDeployDeploymentId" if guard.rollback.get("mode") == "codedeploy" else None
    key = key or "serviceDeploymentArn"
    logger.warning("an ECS deployment started meanwhile: stopping it", reference=reference)
    _restore(replace(guard, rollback={**guard.rollback, key: reference}), deps)


def _stop_execution(execution_arn: str, cause: str, deps: RollbackDeps) -> None:
    sfn = deps.clients.stepfunctions
    try:
        sfn.stop_execution(executionArn=execution_arn, error=STOP_ERROR, cause=cause[:32000])
    except sfn.exceptions.ExecutionDoesNotExist:
        logger.warning("execution not found; nothing to stop", executionArn=execution_arn)


def _restore_if_moved(
    routes: Sequence[Mapping[str, Any]], deps: RollbackDeps
) -> list[dict[str, Any]]:
    try:
        return traffic.verify(deps.clients.elbv2, routes, expected=_snapshot_weights(routes))
    except traffic.RouteMismatch as moved:
        logger.warning("a route moved after the restore; restoring again", detail=str(moved))
        return traffic.restore(deps.clients.elbv2, routes)


def _lost(done: Restored, claim: AlarmClaim, deps: RollbackDeps) -> Outcome:
    """Another path ended the deployment first: record nothing, leave traffic as it ended."""
    guard, status = done.guard, str(claim.record["status"])
    detail = f"already {status} ({_decided_by(claim.record)})"
    if status == records.SUCCEEDED and done.routes:
        detail += "; " + _put_back_final_weights(done, claim.record, deps)
    logger.info(
        "deployment already ended: recorded nothing",
        deploymentId=guard.deployment_id,
        status=status,
        detail=detail,
    )
    return Outcome(guard.deployment_id, guard.platform, f"ALREADY_{status}", None, detail)


def _decided_by(record: Mapping[str, Any]) -> str:
    outcome = record.get("outcome") or {}
    if outcome.get("trigger") == "alarm":
        return f"alarm {outcome.get('alarm')}"
    return f"the state machine at {outcome.get('failedAt') or 'Finish'}"


def _put_back_final_weights(done: Restored, record: Mapping[str, Any], deps: RollbackDeps) -> str:
    """The switch succeeded between our lookup and our restore: the record says the new
    colour is live, so traffic goes back to the weights the switch finished with."""
    shifts = [s for s in record.get("steps", []) if s.get("phase") == "shift"]
    if not shifts:
        return "no shift step recorded: traffic left on the snapshot"
    final = {route["arn"]: route["weights"] for route in shifts[-1]["observed"]}
    routes = [r for r in done.routes if r["arn"] in final]
    for route in routes:
        actions = traffic.weighted_actions(route["actions"], final[route["arn"]])
        traffic.write(deps.clients.elbv2, route, actions)
    traffic.verify(deps.clients.elbv2, routes, expected=final)
    logger.warning(
        "alarm raced the switch's success: final weights put back",
        deploymentId=done.guard.deployment_id,
    )
    return "final weights put back"
