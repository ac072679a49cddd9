"""The EC2 switch: what each task of the state machine does.

The state machine owns the order, the waits and the error routing; each function here
does one task and returns what the machine needs next. Every function is idempotent
for the same input, because Step Functions may run a task twice.

State carried between tasks: `$.request` (validated input), `$.plan` (from `plan`),
`$.health`, `$.cursor` (the current traffic step), `$.error`/`$.failedAt` on failure.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import announce, records
from ..checks.http import HttpTransport, PinnedTransport
from ..checks.reach import ReachPolicy
from ..errors import BlueGreenError, InvalidInput, cause_message
from ..probes import probe_base, run_probe
from ..records import Records
from ..requests import live as live_check
from ..switch.plan import weights_for
from . import gates, revision, traffic


class IdleGroupUnhealthy(BlueGreenError):
    """The target group traffic would move to has too few healthy targets."""


class ProbeFailed(BlueGreenError):
    """An HTTP probe through the test listener did not get the expected answer."""


class GateFailed(BlueGreenError):
    """A gate (alarm, metric or health) failed after a traffic step."""


@dataclass
class Ec2Deps:
    """What the EC2 tasks need, injected by the handlers (or by tests)."""

    elbv2: Any
    cloudwatch: Any
    records: Records
    announcer: announce.Announcer
    codedeploy: Any = None
    reach: ReachPolicy = dataclasses.field(default_factory=ReachPolicy)  # the stack's only
    transport: HttpTransport | None = None  # default: PinnedTransport(reach)


# -- plan (first state: read-only) ---------------------------------------------------------
def plan(
    request: Mapping[str, Any], deployment_id: str, execution_arn: str, deps: Ec2Deps
) -> dict[str, Any]:
    """Validate a parsed request (`parse_request`) against AWS; change nothing."""
    live_check.check_ec2(request, deps.elbv2, deps.codedeploy)
    routes = traffic.routes_from(request["listeners"], request["rules"])
    saved = _snapshot_or_refuse(deps.elbv2, routes)
    live, idle = _live_and_idle(request, saved)
    gates.refuse_alarms_in_alarm(deps.cloudwatch, request["alarms"], request["allowStartInAlarm"])
    if request["testTraffic"]:
        _snapshot_or_refuse(
            deps.elbv2, traffic.routes_from([request["testTraffic"]["listenerArn"]], [])
        )
    steps = [
        {
            "index": index,
            "percent": step["percent"],
            "bakeSeconds": step["bakeSeconds"],
            "weights": weights_for(step["percent"], live, idle),
            "last": index == len(request["steps"]) - 1,
        }
        for index, step in enumerate(request["steps"])
    ]
    locks = sorted({traffic.listener_of(r) for r in routes})
    if request["testTraffic"]:
        locks = sorted({*locks, request["testTraffic"]["listenerArn"]})
    return {
        "platform": "EC2",
        "deploymentId": deployment_id,
        "executionArn": execution_arn,
        "from": live,
        "to": idle,
        "routes": routes,
        "locks": locks,
        "steps": steps,
        "dryRun": request["dryRun"],
        "hasTestTraffic": request["testTraffic"] is not None,
        "needsApproval": request["approval"]["required"],
        "hasRevision": request["revision"] is not None,
        "current": [
            {"arn": r["arn"], "weights": traffic.forward_weights(r["actions"])} for r in saved
        ],
        "request": request,
    }


def _snapshot_or_refuse(elbv2: Any, routes: list[dict[str, str]]) -> list[dict[str, Any]]:
    try:
        return traffic.snapshot(elbv2, routes)
    except elbv2.exceptions.ListenerNotFoundException:
        raise InvalidInput(
            "listeners", "a listener does not exist (check the ARNs and region)"
        ) from None
    except elbv2.exceptions.RuleNotFoundException:
        raise InvalidInput("rules", "a listener rule does not exist (check the ARNs)") from None


def _live_and_idle(request: Mapping[str, Any], saved: list[dict[str, Any]]) -> tuple[str, str]:
    """The colour every route sends all its traffic to (live), and the other (idle).

    A switch starts from one colour: a route that splits traffic, or routes that disagree,
    would make the first step move traffic backwards (a rule at 0/100 set to 90/10).
    """
    pair = request["targetGroupArns"]
    on_colour = [(field, _only_colour(field, route, pair)) for field, route in _fields(saved)]
    first_field, live = on_colour[0]
    for field, colour in on_colour[1:]:
        if colour != live:
            raise InvalidInput(
                field,
                f"sends its traffic to {colour} while {first_field} sends it to {live}: "
                "the routes of one switch must agree",
            )
    if request["blueTargetGroupArn"]:
        if live == request["greenTargetGroupArn"]:
            raise InvalidInput(
                "greenTargetGroupArn", "already receives all the traffic: nothing to switch"
            )
        return request["blueTargetGroupArn"], request["greenTargetGroupArn"]
    idle = pair[1] if live == pair[0] else pair[0]
    return live, idle


def _fields(saved: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each route with the request field that named it (`listeners[0]`, `rules[1]`)."""
    seen: dict[str, int] = {}
    named = []
    for route in saved:
        kind = f"{route['kind']}s"
        named.append((f"{kind}[{seen.get(kind, 0)}]", route))
        seen[kind] = seen.get(kind, 0) + 1
    return named


def _only_colour(field: str, route: Mapping[str, Any], pair: list[str]) -> str:
    weights = traffic.forward_weights(route["actions"])
    if not weights:
        raise InvalidInput(field, f"{route['arn']} has no forward action")
    strangers = [arn for arn, w in weights.items() if w and arn not in pair]
    if strangers:
        raise InvalidInput(
            field, f"{route['arn']} also forwards to {strangers[0]}, which is neither colour"
        )
    on = [arn for arn in pair if weights.get(arn)]
    if not on:
        raise InvalidInput(field, f"{route['arn']} forwards to neither target group")
    if len(on) > 1:
        split = ", ".join(f"{arn} {weights[arn]}" for arn in on)
        raise InvalidInput(
            field,
            f"{route['arn']} splits traffic ({split}): a switch starts with all traffic on "
            "one colour; restore the route (or finish the earlier switch) first",
        )
    return on[0]


# -- begin: lock, snapshot, record, guards ---------------------------------------------------
def begin(plan_: Mapping[str, Any], deps: Ec2Deps) -> dict[str, Any]:
    request = plan_["request"]
    routes = plan_["routes"]
    saved = traffic.snapshot(deps.elbv2, routes)
    test_saved = None
    if request["testTraffic"]:
        test_saved = traffic.snapshot(
            deps.elbv2, traffic.routes_from([request["testTraffic"]["listenerArn"]], [])
        )
    snapshot = {"routes": saved, "test": test_saved}
    record = {
        "platform": "EC2",
        "requestedBy": request["requestedBy"],
        "version": request["version"],
        "description": request["description"],
        "from": plan_["from"],
        "to": plan_["to"],
        "strategy": request["strategy"],
        "plannedSteps": [s["percent"] for s in plan_["steps"]],
        "snapshot": snapshot,
    }
    deps.records.begin(
        deployment_id=plan_["deploymentId"],
        execution_arn=plan_["executionArn"],
        lock_resources=plan_["locks"],
        alarms=request["alarms"],
        record=record,
        rollback={"snapshot": snapshot},
        hold_seconds=longest_run_seconds(request),
    )
    deps.announcer.announce(
        announce.STARTED,
        {
            "deploymentId": plan_["deploymentId"],
            "platform": "EC2",
            "from": plan_["from"],
            "to": plan_["to"],
            "steps": [s["percent"] for s in plan_["steps"]],
            "requestedBy": request["requestedBy"],
        },
    )
    return {"startedAt": time.time()}


def longest_run_seconds(request: Mapping[str, Any]) -> int:
    """The longest a switch can take by its own clocks: every bake, the health timeout,
    the approval and revision timeouts (the task functions' own seconds come on top and
    are covered by the lock TTL)."""
    seconds = sum(int(step["bakeSeconds"]) for step in request["steps"])
    seconds += int(request["healthCheck"]["timeoutSeconds"])
    if request["approval"]["required"]:
        seconds += int(request["approval"]["timeoutSeconds"])
    if request.get("revision"):
        seconds += int(request["revision"]["timeoutSeconds"])
    return seconds


# -- revision on the idle fleet (optional) -----------------------------------------------------
def deploy_revision(plan_: Mapping[str, Any], deps: Ec2Deps) -> dict[str, Any]:
    progress = revision.deploy_revision(
        deps.codedeploy, plan_["request"]["revision"], plan_["deploymentId"]
    )
    _record_step(
        deps,
        plan_,
        {"phase": "revision", "codeDeployDeploymentId": progress["codeDeployDeploymentId"]},
    )
    return progress


def check_revision(
    plan_: Mapping[str, Any], progress: Mapping[str, Any], deps: Ec2Deps
) -> dict[str, Any]:
    return revision.check_revision(deps.codedeploy, plan_["request"]["revision"], progress)


# -- health of the idle group ----------------------------------------------------------------
def check_health(plan_: Mapping[str, Any], polls: int, deps: Ec2Deps) -> dict[str, Any]:
    health = plan_["request"]["healthCheck"]
    verdict = gates.health_verdict(deps.elbv2, plan_["to"], health["minHealthy"])
    polls += 1
    if not verdict["ok"] and polls >= health["maxPolls"]:
        raise IdleGroupUnhealthy(
            f"{plan_['to']} not healthy after {health['timeoutSeconds']} s: {verdict['detail']}"
        )
    return {"healthy": verdict["ok"], "polls": polls, "detail": verdict["detail"]}


# -- test traffic and probes -----------------------------------------------------------------
def test_traffic(plan_: Mapping[str, Any], deps: Ec2Deps) -> dict[str, Any]:
    test = plan_["request"]["testTraffic"]
    base = probe_base(deps.elbv2, test["listenerArn"])  # the listener's own, never the request's
    route = traffic.routes_from([test["listenerArn"]], [])
    saved = traffic.snapshot(deps.elbv2, route)
    traffic.set_weights(deps.elbv2, saved, {plan_["to"]: 1})
    transport = deps.transport or PinnedTransport(deps.reach)
    results = [run_probe(base, probe, transport, deps.reach) for probe in test["probes"]]
    verdict = {
        "check": "probes",
        "ok": all(r.ok for r in results),
        "results": [r.as_dict() for r in results],
    }
    _record_step(deps, plan_, {"phase": "test-traffic", "verdicts": [verdict]})
    failed = [r for r in results if not r.ok]
    if failed:
        raise ProbeFailed("; ".join(f"{r.url}: {r.reason}" for r in failed))
    return {"probes": len(results)}


# -- approval ----------------------------------------------------------------------------------
def request_approval(plan_: Mapping[str, Any], task_token: str, deps: Ec2Deps) -> None:
    deps.records.set_field(
        plan_["deploymentId"], "approval", {"state": "WAITING", "since": records.now_iso()}
    )
    deps.announcer.announce(
        announce.APPROVAL_NEEDED,
        {
            "deploymentId": plan_["deploymentId"],
            "platform": "EC2",
            "executionArn": plan_["executionArn"],
            "taskToken": task_token,
            "approve": "states:SendTaskSuccess with this taskToken",
            "reject": "states:SendTaskFailure with this taskToken",
        },
    )


# -- traffic steps -----------------------------------------------------------------------------
def shift(plan_: Mapping[str, Any], index: int, deps: Ec2Deps) -> dict[str, Any]:
    step = plan_["steps"][index]
    min_healthy = plan_["request"]["healthCheck"]["minHealthy"]
    health = gates.health_verdict(deps.elbv2, plan_["to"], min_healthy)
    if not health["ok"]:
        raise IdleGroupUnhealthy(
            f"refusing to send {step['percent']}% to {plan_['to']}: {health['detail']}"
        )
    saved = traffic.snapshot(deps.elbv2, plan_["routes"])
    observed = traffic.set_weights(deps.elbv2, saved, step["weights"])
    approved = None
    if index == 0 and plan_.get("needsApproval"):  # the approval let this first step happen
        approved = {"approval": {"state": "APPROVED", "at": records.now_iso()}}
    try:
        _record_step(
            deps,
            plan_,
            {"phase": "shift", "index": index, "percent": step["percent"], "observed": observed},
            approved,
        )
    except records.OutcomeAlreadyDecided:
        # Ended elsewhere while this write was in flight (an alarm rolled it back and
        # stopped the execution): nobody will run the machine's Rollback, so undo our
        # write here, from the snapshot, before saying so.
        _restore_after_late_write(deps, plan_["deploymentId"])
        raise
    deps.announcer.announce(
        announce.STEP,
        {
            "deploymentId": plan_["deploymentId"],
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


def _restore_after_late_write(deps: Ec2Deps, deployment_id: str) -> None:
    snapshot = deps.records.get(deployment_id)["snapshot"]
    traffic.restore(deps.elbv2, list(snapshot["routes"]) + list(snapshot.get("test") or []))


def gate(
    plan_: Mapping[str, Any], index: int, deps: Ec2Deps, load_balancer_arn: str | None = None
) -> dict[str, Any]:
    request = plan_["request"]
    step = plan_["steps"][index]
    verdicts = [
        gates.alarm_verdict(deps.cloudwatch, request["alarms"]),
        gates.health_verdict(deps.elbv2, plan_["to"], request["healthCheck"]["minHealthy"]),
    ]
    if request["metricChecks"]:
        lb_arn = load_balancer_arn or _load_balancer_of(deps.elbv2, plan_["to"])
        verdicts += [
            gates.metric_verdict(deps.cloudwatch, c, plan_["to"], lb_arn)
            for c in request["metricChecks"]
        ]
    _record_step(
        deps,
        plan_,
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
    return arns[0] if arns else ""


# -- endings -----------------------------------------------------------------------------------
def finish(plan_: Mapping[str, Any], deps: Ec2Deps) -> dict[str, Any]:
    """Success: point the test listener at the new idle colour, record it, unlock, announce.

    Idempotent, so the machine retries it on any error: after the record says SUCCEEDED a
    rollback must not undo the switch. The test listener moves first, while a failure can
    still be rolled back whole.
    """
    deployment_id = plan_["deploymentId"]
    record = deps.records.get(deployment_id)
    if record["status"] not in {records.IN_PROGRESS, records.SUCCEEDED}:
        raise records.OutcomeAlreadyDecided(
            f"deployment {deployment_id} already ended as {record['status']}"
        )
    test = record["snapshot"].get("test")
    if test:
        traffic.set_weights(deps.elbv2, test, {plan_["from"]: 1})
    if record["status"] == records.IN_PROGRESS:
        try:
            deps.records.claim_outcome(
                deployment_id, records.SUCCEEDED, {"summary": f"100% on {plan_['to']}"}
            )
        except records.OutcomeAlreadyDecided:
            if deps.records.status(deployment_id) != records.SUCCEEDED:
                raise  # an alarm rolled it back meanwhile: the machine's rollback follows
    deps.records.release(deployment_id, record["locks"], record["alarms"])
    deps.announcer.announce(
        announce.SUCCEEDED,
        {
            "deploymentId": deployment_id,
            "platform": "EC2",
            "live": plan_["to"],
            "idle": plan_["from"],
        },
    )
    return {"status": records.SUCCEEDED, "live": plan_["to"], "idle": plan_["from"]}


def rollback(
    deployment_id: str, failed_at: str, error: Mapping[str, Any], deps: Ec2Deps
) -> dict[str, Any]:
    """Any failure: restore the snapshot, verify it, record, unlock, announce.

    Idempotent (the machine retries it): restores even when another path already decided
    the outcome (the same snapshot, so a second restore changes nothing) and records and
    announces only if this rollback claimed the outcome, now or on an earlier attempt.
    Never restores a switch whose record already says SUCCEEDED.
    """
    cause = _cause(failed_at, error)
    name = error.get("Error") or "Unknown"
    try:
        record = deps.records.get(deployment_id)
    except records.RecordNotFound:  # failed before Begin wrote anything: nothing to undo
        return {"error": f"SwitchFailed.{name}", "cause": cause, "status": "NOT_STARTED"}
    if record["status"] == records.SUCCEEDED:
        deps.records.release(deployment_id, record["locks"], record["alarms"])
        return {
            "error": f"SwitchSucceededWithErrors.{name}",
            "cause": f"{cause} (after the switch had succeeded: traffic stays on {record['to']})",
            "status": records.SUCCEEDED,
        }
    snapshot = record["snapshot"]
    routes = list(snapshot["routes"]) + list(snapshot.get("test") or [])
    observed = traffic.restore(deps.elbv2, routes)
    outcome = {
        "failedAt": failed_at,
        "error": error.get("Error", ""),
        "cause": cause,
        "restored": observed,
    }
    if failed_at == "WaitForApproval" and record.get("approval", {}).get("state") == "WAITING":
        timed_out = error.get("Error") == "States.Timeout"
        deps.records.set_field(
            deployment_id,
            "approval",
            {"state": "TIMED_OUT" if timed_out else "REJECTED", "at": records.now_iso()},
        )
    decided_here = _claim_rollback(deps.records, deployment_id, outcome)
    deps.records.release(deployment_id, record["locks"], record["alarms"])
    if decided_here:
        deps.announcer.announce(
            announce.ROLLED_BACK,
            {
                "deploymentId": deployment_id,
                "platform": "EC2",
                "failedAt": failed_at,
                "cause": cause,
            },
        )
    status = records.ROLLED_BACK if decided_here else deps.records.status(deployment_id)
    return {"error": f"SwitchRolledBack.{name}", "cause": cause, "status": status}


def _claim_rollback(repo: Records, deployment_id: str, outcome: Mapping[str, Any]) -> bool:
    """Claim ROLLED_BACK; True if this rollback owns the outcome (also on a retry of it)."""
    try:
        repo.claim_outcome(deployment_id, records.ROLLED_BACK, outcome)
        return True
    except records.OutcomeAlreadyDecided:
        current = repo.get(deployment_id)
        earlier = current.get("outcome") or {}
        return bool(
            current["status"] == records.ROLLED_BACK
            and earlier.get("failedAt") == outcome["failedAt"]
            and earlier.get("error") == outcome["error"]
        )


# What an error that carries no message of its own means, by state (a States.Timeout or a
# SendTaskFailure without a cause would otherwise leave the cause saying nothing).
_SILENT_ERRORS = {
    ("WaitForApproval", "States.Timeout"): (
        "no approval within approval.timeoutSeconds (nobody sent the task token back)"
    ),
    ("WaitForApproval", "*"): "the approval was refused (SendTaskFailure without a cause)",
    ("*", "States.Timeout"): "the state timed out",
}


def _cause(failed_at: str, error: Mapping[str, Any]) -> str:
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


def _record_step(
    deps: Ec2Deps,
    plan_: Mapping[str, Any],
    step: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
) -> None:
    deps.records.append_step(plan_["deploymentId"], {**step, "at": records.now_iso()}, fields)
