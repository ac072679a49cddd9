"""The EC2 switch's tasks: what each state of the machine does between Begin and settle.

The state machine owns the order, the waits and the error routing; each function does
one task and returns what the machine needs next, and is idempotent for the same input
(Step Functions may run a task twice). Every task renews the lease first (the ownership
check before any traffic write), for the wait that follows it. Traffic moves only
through the ALB adapter; every ending is `settle` (`bluegreen.switch.endings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .. import announce, approval
from ..checks import Outcome
from ..contracts import Begun, Plan
from ..errors import BlueGreenError
from ..platforms import alb
from ..platforms.codedeploy_ec2 import CodeDeployEc2
from ..store import IN_PROGRESS, OutcomeAlreadyDecided, now_iso
from . import ec2_gate as gates
from .deps import SwitchDeps
from .endings import target_name
from .reaper import reap_if_ended


class IdleGroupUnhealthy(BlueGreenError):
    """The target group traffic would move to has too few healthy targets."""


class ProbeFailed(BlueGreenError):
    """An HTTP probe (test listener, or production after a shift) got the wrong answer."""


# -- begin: snapshot, lock, record, guards ---------------------------------------------------
def begin(plan: Plan, deps: SwitchDeps) -> Begun:
    """Snapshot every route it will touch, then take the locks and write the record and
    the alarm guards in one transaction. The snapshot is returned into the execution
    state too: a restore needs neither the record nor the table."""
    request = plan["request"]
    snapshot = alb.AlbAdapter(deps.clients.elbv2).snapshot(plan)
    lease_until = deps.lease_until(_first_wait(request))
    record = {
        "platform": "EC2",
        "adapter": "alb",
        "target": target_name(plan),
        "requestedBy": request["requestedBy"],
        "version": request["version"],
        "description": request["description"],
        "from": plan["from"],
        "to": plan["to"],
        "strategy": request["strategy"],
        "plannedSteps": [s["percent"] for s in plan.get("steps", [])],
        "snapshot": snapshot,
        "fleetChecks": plan.get("fleetChecks"),  # the idle group's settings, as planned
        "request": request,
    }
    deps.store.begin(
        deployment_id=plan["deploymentId"],
        execution_arn=plan["executionArn"],
        lock_resources=plan["locks"],
        alarms=request["alarms"],
        record=record,
        guard=snapshot,
        lease_until=lease_until,
    )
    reap_if_ended(plan["executionArn"], plan["deploymentId"], deps.reaper())
    deps.announcer.announce(
        announce.STARTED,
        {
            "deploymentId": plan["deploymentId"],
            "platform": "EC2",
            "target": record["target"],
            "from": plan["from"],
            "to": plan["to"],
            "steps": record["plannedSteps"],
            "requestedBy": request["requestedBy"],
        },
    )
    return {"snapshot": snapshot, "startedAt": deps.clock(), "leaseUntil": lease_until}


def _first_wait(request: Mapping[str, Any]) -> int:
    """The longest wait before the next task renews the lease."""
    waits = [int(request["healthCheck"]["pollSeconds"])]
    if request.get("revision"):
        waits.append(int(request["revision"]["pollSeconds"]))
    return max(waits)


# -- revision on the idle fleet (optional) -----------------------------------------------------
def deploy_revision(plan: Plan, deps: SwitchDeps) -> dict[str, Any]:
    """Start the in-place install on the idle fleet and record its id. A settle that came
    before the record knew no install to stop, so a refused record (or any failure after
    the start) with the ending claimed stops it here: it is this switch's, whoever holds
    the listeners now (a newer switch's install to the group would be refused while it
    runs)."""
    revision = plan["request"]["revision"]
    deps.renew(plan, int(revision["pollSeconds"]))
    codedeploy = CodeDeployEc2(deps.clients.codedeploy)
    started: list[str] = []

    def stop_started() -> None:
        for reference in started:
            codedeploy.stop(reference)

    with fenced(plan, deps, undo=stop_started, when=_not_a_success):
        progress = codedeploy.deploy(revision, plan["deploymentId"])
        reference = progress["codeDeployDeploymentId"]
        started.append(reference)
        deps.store.append_step(
            plan["deploymentId"],
            {"phase": "revision", "codeDeployDeploymentId": reference},
            {"revisionDeployment": {"id": reference}},
        )
    return progress


def check_revision(plan: Plan, progress: Mapping[str, Any], deps: SwitchDeps) -> dict[str, Any]:
    revision = plan["request"]["revision"]
    deps.renew(plan, int(revision["pollSeconds"]))
    return CodeDeployEc2(deps.clients.codedeploy).check(revision, progress)


# -- health of the idle group ----------------------------------------------------------------
def check_health(plan: Plan, polls: int, deps: SwitchDeps) -> dict[str, Any]:
    health = plan["request"]["healthCheck"]
    deps.renew(plan, int(health["pollSeconds"]))
    result = gates.idle_health(plan, deps)
    healthy = result.outcome is Outcome.PASSED
    polls += 1
    if not healthy and polls >= health["maxPolls"]:
        raise IdleGroupUnhealthy(
            f"{plan['to']} not healthy after {health['timeoutSeconds']} s: {result.reason}"
        )
    return {"healthy": healthy, "polls": polls, "detail": result.reason}


# -- test traffic and probes -----------------------------------------------------------------
def test_traffic(plan: Plan, deps: SwitchDeps) -> dict[str, Any]:
    """Point the test listener at the idle colour and probe it at the listener's own
    address (never one the request names; `bluegreen.checks.reach` decides)."""
    test = plan["request"]["testTraffic"]
    deps.renew(plan, 0)
    elbv2 = deps.clients.elbv2
    saved = alb.snapshot_routes(elbv2, alb.routes_from([test["listenerArn"]], []))
    with fenced(plan, deps, undo=lambda: alb.restore_routes(elbv2, saved)):
        alb.set_weights(elbv2, saved, {plan["to"]: 1})
        result = gates.test_probes(plan, deps)
        deps.store.append_step(
            plan["deploymentId"], {"phase": "test-traffic", "verdicts": [result.as_record()]}
        )
    if result.outcome is not Outcome.PASSED:
        raise ProbeFailed(f"through the test listener: {result.reason}")
    return {"probes": len(test["probes"])}


# -- approval ----------------------------------------------------------------------------------
def request_approval(plan: Plan, deps: SwitchDeps) -> None:
    """Record that the switch waits, and announce it. The task token stays in the
    execution (the approver reads it from there): it never goes on the bus."""
    deps.renew(plan, int(plan["request"]["approval"]["timeoutSeconds"]))
    deps.store.set_field(
        plan["deploymentId"], "approval", {"state": "WAITING", "since": now_iso(deps.clock)}
    )
    deps.announcer.announce(
        announce.APPROVAL_NEEDED,
        {
            "deploymentId": plan["deploymentId"],
            "platform": "EC2",
            "executionArn": plan["executionArn"],
            "approve": f"bluegreen approve {plan['deploymentId']}",
            "reject": f"bluegreen reject {plan['deploymentId']}",
        },
    )


# -- traffic steps -----------------------------------------------------------------------------
def shift(
    plan: Plan,
    index: int,
    begun: Begun,
    deps: SwitchDeps,
    now: str | None = None,
    extensions: int = 0,
    answer: Any = None,
) -> dict[str, Any]:
    """One traffic step: renew (the ownership check), keep the approver's answer that let
    the first step happen, refuse an idle group without healthy targets, write the
    weights on every route and read them back; then probe production through its
    listeners (when the request asks). `now` is the time the step began (the state
    machine's clock): the gate's analysis window starts there; `extensions` (the bake
    extensions the switch has used so far) is carried on."""
    step = plan["steps"][index]  # type: ignore[typeddict-item]
    deps.renew(plan, int(step["bakeSeconds"]))
    if index == 0 and plan.get("needsApproval"):  # recorded before any traffic moves
        deps.store.record_approval(plan["deploymentId"], approval.kept(answer, approval.APPROVED))
    health = gates.idle_health(plan, deps)
    if health.outcome is not Outcome.PASSED:
        raise IdleGroupUnhealthy(
            f"refusing to send {step['percent']}% to {plan['to']}: {health.reason}"
        )
    adapter = alb.AlbAdapter(deps.clients.elbv2)
    shifted_at = now or now_iso(deps.clock)
    with fenced(plan, deps, undo=lambda: alb.write_back(deps.clients.elbv2, begun["snapshot"])):
        observed = adapter.apply(begun["snapshot"], step["weights"])
        probed = gates.production_probes(plan, deps)
        entry: dict[str, Any] = {
            "phase": "shift",
            "index": index,
            "percent": step["percent"],
            "observed": observed,
            "shiftedAt": shifted_at,
        }
        if probed is not None:
            entry["verdicts"] = [gates.recorded(probed)]
        deps.store.append_step(plan["deploymentId"], entry)
    deps.announcer.announce(
        announce.STEP,
        {
            "deploymentId": plan["deploymentId"],
            "platform": "EC2",
            "index": index,
            "percent": step["percent"],
            "weights": step["weights"],
        },
    )
    if probed is not None and probed.outcome is not Outcome.PASSED:
        raise ProbeFailed(f"after step {index + 1} ({step['percent']}%): {probed.reason}")
    return {
        "index": index,
        "percent": step["percent"],
        "bakeSeconds": step["bakeSeconds"],
        "last": step["last"],
        "shiftedAt": shifted_at,
        "extensions": extensions,
    }


def _late_write_is_ours(plan: Plan, record: Mapping[str, Any], deps: SwitchDeps) -> bool:
    """Whether a write this task made after the ending was claimed is its to undo: no
    newer deployment holds one of the listeners, and the ending is not a success."""
    for lock in plan["locks"]:
        last = deps.store.last_on(lock)
        if last not in (None, plan["deploymentId"]):
            return False
    return _not_a_success(plan, record, deps)


def _not_a_success(plan: Plan, record: Mapping[str, Any], deps: SwitchDeps) -> bool:
    intent = (record.get("settling") or {}).get("intent") or (record.get("outcome") or {}).get(
        "intent"
    )
    return intent != "SUCCEEDED"


@contextmanager
def fenced(
    plan: Plan,
    deps: SwitchDeps,
    undo: Callable[[], Any],
    when: Callable[[Plan, Mapping[str, Any], SwitchDeps], bool] = _late_write_is_ours,
) -> Iterator[None]:
    """Traffic a task writes inside this block is checked against the ending after it.

    Another path may claim the ending while the task runs (an alarm, the reaper after a
    stop): it restores the snapshot and reads it back, and the task's write may land
    after that. The block ends with the step's conditional write (only while the record
    is IN_PROGRESS), so if it completes, no claim came before it and the claimer's
    restore comes after every write here. If anything in it fails (the step cannot be
    recorded, a read-back disagrees because the claimer restored between two writes, a
    probe or a call errs), the record is read again: if the ending was claimed
    meanwhile, nobody else will look at the routes, so the snapshot is put back here,
    unless a newer deployment holds one of the listeners or the ending is a success
    (`when` decides otherwise for what is not traffic: DeployRevision's install)."""
    try:
        yield
    except Exception as error:
        record = deps.store.find(plan["deploymentId"]) or {}
        claimed = isinstance(error, OutcomeAlreadyDecided) or (
            record.get("status", IN_PROGRESS) != IN_PROGRESS
        )
        if claimed and when(plan, record, deps):
            undo()
        raise


def gate(
    plan: Plan, index: int, deps: SwitchDeps, cursor: Mapping[str, Any] | None = None,
    now: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """After a step's bake: every check of `gates.judge`, recorded with its figures.

    A gate that cannot decide yet extends the bake (the machine waits `extendSeconds` and
    asks again), at most `whenInconclusive.maxExtensions` times; then it fails, or passes
    by the request's rule. `now` is the machine's clock when the gate began."""
    return gates.decide(plan, index, dict(cursor or {}), now or now_iso(deps.clock), deps)
