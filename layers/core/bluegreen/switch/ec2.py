"""The EC2 switch's tasks: what each state of the machine does between Begin and settle.

The state machine owns the order, the waits and the error routing; each function does
one task and returns what the machine needs next, and is idempotent for the same input
(Step Functions may run a task twice). Every task renews the lease first (the ownership
check before any traffic write), for the wait that follows it. Traffic moves only
through the ALB adapter; every ending is `settle` (`bluegreen.switch.endings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from .. import announce, approval
from ..checks.http import PinnedTransport
from ..contracts import Begun, Plan, Snapshot
from ..ec2 import gates
from ..errors import BlueGreenError
from ..platforms import alb
from ..platforms.codedeploy_ec2 import CodeDeployEc2
from ..probes import probe_base, run_probe
from ..store import OutcomeAlreadyDecided, now_iso
from .deps import SwitchDeps
from .endings import target_name
from .reaper import reap_if_ended


class IdleGroupUnhealthy(BlueGreenError):
    """The target group traffic would move to has too few healthy targets."""


class ProbeFailed(BlueGreenError):
    """An HTTP probe through the test listener did not get the expected answer."""


class GateFailed(BlueGreenError):
    """A gate (alarm, metric or health) failed after a traffic step."""


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
    revision = plan["request"]["revision"]
    deps.renew(plan, int(revision["pollSeconds"]))
    progress = CodeDeployEc2(deps.clients.codedeploy).deploy(revision, plan["deploymentId"])
    reference = progress["codeDeployDeploymentId"]
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
    verdict = gates.health_verdict(deps.clients.elbv2, plan["to"], health["minHealthy"])
    polls += 1
    if not verdict["ok"] and polls >= health["maxPolls"]:
        raise IdleGroupUnhealthy(
            f"{plan['to']} not healthy after {health['timeoutSeconds']} s: {verdict['detail']}"
        )
    return {"healthy": verdict["ok"], "polls": polls, "detail": verdict["detail"]}


# -- test traffic and probes -----------------------------------------------------------------
def test_traffic(plan: Plan, deps: SwitchDeps) -> dict[str, Any]:
    """Point the test listener at the idle colour and probe it at the listener's own
    address (never one the request names; `bluegreen.checks.reach` decides)."""
    test = plan["request"]["testTraffic"]
    deps.renew(plan, 0)
    elbv2 = deps.clients.elbv2
    base = probe_base(elbv2, test["listenerArn"])
    saved = alb.snapshot_routes(elbv2, alb.routes_from([test["listenerArn"]], []))
    alb.set_weights(elbv2, saved, {plan["to"]: 1})
    transport = deps.transport or PinnedTransport(deps.reach)
    results = [run_probe(base, probe, transport, deps.reach) for probe in test["probes"]]
    verdict = {
        "check": "probes",
        "ok": all(r.ok for r in results),
        "results": [r.as_dict() for r in results],
    }
    deps.store.append_step(plan["deploymentId"], {"phase": "test-traffic", "verdicts": [verdict]})
    failed = [r for r in results if not r.ok]
    if failed:
        raise ProbeFailed("; ".join(f"{r.url}: {r.reason}" for r in failed))
    return {"probes": len(results)}


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
    plan: Plan, index: int, begun: Begun, deps: SwitchDeps, answer: Any = None
) -> dict[str, Any]:
    """One traffic step: renew (the ownership check), keep the approver's answer that let
    the first step happen, refuse an idle group without healthy targets, write the
    weights on every route and read them back."""
    step = plan["steps"][index]  # type: ignore[typeddict-item]
    deps.renew(plan, int(step["bakeSeconds"]))
    if index == 0 and plan.get("needsApproval"):  # recorded before any traffic moves
        deps.store.record_approval(plan["deploymentId"], approval.kept(answer, approval.APPROVED))
    min_healthy = plan["request"]["healthCheck"]["minHealthy"]
    health = gates.health_verdict(deps.clients.elbv2, plan["to"], min_healthy)
    if not health["ok"]:
        raise IdleGroupUnhealthy(
            f"refusing to send {step['percent']}% to {plan['to']}: {health['detail']}"
        )
    adapter = alb.AlbAdapter(deps.clients.elbv2)
    observed = adapter.apply(begun["snapshot"], step["weights"])
    try:
        deps.store.append_step(
            plan["deploymentId"],
            {"phase": "shift", "index": index, "percent": step["percent"], "observed": observed},
        )
    except OutcomeAlreadyDecided:
        undo_late_write(plan, begun["snapshot"], deps)
        raise
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
    return {
        "index": index,
        "percent": step["percent"],
        "bakeSeconds": step["bakeSeconds"],
        "last": step["last"],
    }


def undo_late_write(plan: Plan, snapshot: Snapshot, deps: SwitchDeps) -> None:
    """A write that landed after another path claimed the ending (an alarm restored and
    stopped the execution while this task was in flight): nobody else will look at the
    routes again, so put the snapshot back here, unless a newer deployment already
    holds one of the listeners (then the routes are not ours to touch)."""
    for lock in plan["locks"]:
        last = deps.store.last_on(lock)
        if last not in (None, plan["deploymentId"]):
            return
    record = deps.store.find(plan["deploymentId"]) or {}
    intent = (record.get("settling") or {}).get("intent") or (record.get("outcome") or {}).get(
        "intent"
    )
    if intent == "SUCCEEDED":
        return
    alb.write_back(deps.clients.elbv2, snapshot)


def gate(plan: Plan, index: int, deps: SwitchDeps) -> dict[str, Any]:
    request = plan["request"]
    step = plan["steps"][index]  # type: ignore[typeddict-item]
    deps.renew(plan, 0)
    elbv2 = deps.clients.elbv2
    verdicts = [
        gates.alarm_verdict(deps.clients.cloudwatch, request["alarms"]),
        gates.health_verdict(elbv2, plan["to"], request["healthCheck"]["minHealthy"]),
    ]
    if request["metricChecks"]:
        lb_arn = _load_balancer_of(elbv2, plan["to"])
        verdicts += [
            gates.metric_verdict(deps.clients.cloudwatch, c, plan["to"], lb_arn)
            for c in request["metricChecks"]
        ]
    deps.store.append_step(
        plan["deploymentId"],
        {"phase": "gate", "index": index, "percent": step["percent"], "verdicts": verdicts},
    )
    failed = [v for v in verdicts if not v["ok"]]
    if failed:
        raise GateFailed(
            f"after step {index + 1} ({step['percent']}%): "
            + "; ".join(v["detail"] for v in failed)
        )
    return {"index": index + 1, "last": step["last"], "passed": [v["check"] for v in verdicts]}


def _load_balancer_of(elbv2: Any, target_group_arn: str) -> str:
    groups = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
    arns = groups[0].get("LoadBalancerArns", []) if groups else []
    return cast(str, arns[0]) if arns else ""
