"""Settle every deployment an alarm guards (see the package docstring for the order)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ..contracts import Snapshot
from ..errors import BlueGreenError
from ..store import ROLLED_BACK, Guard, OutcomeAlreadyDecided
from ..switch.endings import Ask, DeploymentEnded, EndingDeps, Settled, SettlePending, Subject
from ..switch.endings import settle as settle_one
from .event import ALARM, AlarmChange

logger = Logger(child=True)
MAX_PARALLEL = 8


class RollbackIncomplete(BlueGreenError):
    """At least one guarded deployment could not be settled yet (retried by Lambda)."""


@dataclass
class RollbackDeps:
    endings: EndingDeps


@dataclass
class Outcome:
    """What happened to one guarded deployment."""

    deployment_id: str
    platform: str
    result: str  # ROLLED_BACK | FAILED (as recorded) | ROLLING_BACK | ALREADY_ENDED |
    # CLAIMED_BY_OTHER | ERROR
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
    settled: list[Settled] = field(default_factory=list)
    note: str = ""

    @property
    def rolled_back(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == ROLLED_BACK]

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm,
            "state": self.state,
            "note": self.note,
            "deployments": [o.as_dict() for o in self.outcomes],
        }


def subject_of(guard: Guard) -> Subject:
    snapshot = cast(Snapshot, guard.rollback)
    return Subject(
        deployment_id=guard.deployment_id,
        execution_arn=guard.execution_arn,
        platform=guard.platform,
        adapter=str(snapshot.get("adapter", "")),
        locks=guard.locks,
        alarms=(guard.alarm,),
        snapshot=snapshot,
    )


def roll_back(change: AlarmChange, deps: RollbackDeps) -> Report:
    """Settle every deployment `change.alarm` guards; a no-op for anything else."""
    report = Report(change.alarm, change.state)
    if change.state != ALARM:
        report.note = f"state {change.state}: only ALARM rolls back"
        logger.info("alarm not in ALARM: nothing to do", alarm=change.alarm, state=change.state)
        return report
    guards = deps.endings.store.guards_for_alarm(change.alarm)
    if not guards:
        report.note = "guards no running deployment"
        logger.info("alarm guards no running deployment: nothing to do", alarm=change.alarm)
        return report
    ask = Ask(
        intent=ROLLED_BACK,
        actor={"kind": "alarm", "alarm": change.alarm, "claimKey": change.key},
        failed_at="Alarm",
        error="AlarmRollback",
        cause=f"alarm {change.alarm} in ALARM: {change.reason}".strip(),
        alarm_epoch=change.epoch,
    )
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(guards))) as pool:
        results = list(pool.map(lambda guard: _settle(guard, ask, deps, report), guards))
    report.outcomes.extend(results)
    unfinished = [o for o in results if o.result == "ERROR"]
    if unfinished:
        raise RollbackIncomplete(
            f"alarm {change.alarm}: "
            + "; ".join(f"{o.deployment_id}: {o.detail}" for o in unfinished)
        )
    return report


def _settle(guard: Guard, ask: Ask, deps: RollbackDeps, report: Report) -> Outcome:
    try:
        settled = settle_one(subject_of(guard), ask, deps.endings)
    except OutcomeAlreadyDecided as other:
        return Outcome(guard.deployment_id, guard.platform, "CLAIMED_BY_OTHER", None, str(other))
    except DeploymentEnded as ended:
        return Outcome(guard.deployment_id, guard.platform, "ALREADY_ENDED", None, str(ended))
    except SettlePending as pending:
        # The platform is rolling back and the execution is stopped: the reaper (its
        # ABORTED event) waits for the platform and records what production then serves.
        return Outcome(guard.deployment_id, guard.platform, "ROLLING_BACK", None, str(pending))
    except (BlueGreenError, ClientError) as error:
        logger.exception("settle failed", deploymentId=guard.deployment_id)
        return Outcome(
            guard.deployment_id, guard.platform, "ERROR", None, f"{type(error).__name__}: {error}"
        )
    report.settled.append(settled)
    elapsed = settled.outcome.get("timeToRollbackMs") if settled.concluded_now else None
    logger.info(
        "settled", deploymentId=guard.deployment_id, status=settled.status, timeToRollbackMs=elapsed
    )
    return Outcome(
        guard.deployment_id,
        guard.platform,
        settled.status,
        elapsed,
        settled.outcome.get("cause", ""),
    )
