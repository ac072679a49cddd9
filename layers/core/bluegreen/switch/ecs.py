"""The ECS switch's tasks: Begin, start the platform's blue/green deployment, follow it.

CodeDeploy mode creates a CodeDeploy ECS blue/green deployment whose AppSpec hooks are
this stack's `CodeDeployHook_<Event>` functions; ECS-native mode updates the service
with a deployment configuration carrying this stack's lifecycle hook. Either way the
platform moves the traffic; the record keeps what it did (lifecycle events, hook
verdicts), every task renews the lease, and every ending is `settle`, which stops the
platform's deployment with a rollback when the switch fails and reads production back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from .. import announce
from ..contracts import Begun, Plan
from ..errors import BlueGreenError
from ..platforms import adapter_for
from ..platforms.codedeploy_ecs import CodeDeployEcsAdapter
from ..platforms.ecs_common import ecs_snapshot, register_new_revision
from ..platforms.ecs_native import EcsNativeAdapter
from ..store import OutcomeAlreadyDecided
from ..store import hooks as hook_store
from .deps import SwitchDeps
from .endings import target_name, with_progress
from .reaper import reap_if_ended

MAX_POLL_SECONDS = 120
VERDICT_POLLS = 3  # polls to wait for a failed hook's reason after the platform ended


class MonitorTimedOut(BlueGreenError):
    """The platform's deployment did not end within the request's monitor timeout."""


# -- begin: lock the service, record, guards ------------------------------------------------
def begin(plan: Plan, deps: SwitchDeps) -> Begun:
    request = plan["request"]
    snapshot = ecs_snapshot(plan)
    lease_until = deps.lease_until(int(request["monitor"]["pollSeconds"]))
    to = plan["to"] or f"{request['taskDefinition']} + image {request['image']}"
    deps.store.begin(
        deployment_id=plan["deploymentId"],
        execution_arn=plan["executionArn"],
        lock_resources=plan["locks"],
        alarms=request["alarms"],
        record={
            "platform": "ECS",
            "adapter": plan["adapter"],
            "mode": request["mode"],
            "target": target_name(plan),
            "requestedBy": request["requestedBy"],
            "version": request["version"],
            "description": request["description"],
            "service": plan["serviceArn"],  # type: ignore[typeddict-item]
            "from": plan["from"],
            "to": to,
            "strategy": request["strategy"],
            "snapshot": snapshot,
            "request": request,
        },
        guard=snapshot,
        lease_until=lease_until,
    )
    reap_if_ended(plan["executionArn"], plan["deploymentId"], deps.reaper())
    deps.announcer.announce(
        announce.STARTED,
        {
            "deploymentId": plan["deploymentId"],
            "platform": "ECS",
            "mode": request["mode"],
            "target": target_name(plan),
            "service": plan["serviceArn"],  # type: ignore[typeddict-item]
            "from": plan["from"],
            "to": to,
            "steps": [s["percent"] for s in request["steps"]],
            "requestedBy": request["requestedBy"],
        },
    )
    return {"snapshot": snapshot, "startedAt": deps.clock(), "leaseUntil": lease_until}


# -- start the platform's deployment -------------------------------------------------------------
def start(plan: Plan, begun: Begun, deps: SwitchDeps) -> dict[str, Any]:
    request = plan["request"]
    poll = int(request["monitor"]["pollSeconds"])
    deps.renew(plan, poll)
    already = (deps.store.get(plan["deploymentId"]).get("platformDeployment") or {}).get("id")
    if already:  # the task ran before and the platform deployment exists: follow it
        started = deps.store.get(plan["deploymentId"])["platformDeployment"]
        reference, task_definition = str(started["id"]), str(started["taskDefinition"])
    else:
        task_definition = plan["to"] or register_new_revision(
            deps.clients.ecs, request["taskDefinition"], request["container"]["name"],
            request["image"],
        )  # fmt: skip
        reference = _start(plan, task_definition, deps)
        _record_start(plan, begun, reference, task_definition, deps)
    snapshot = with_progress(begun["snapshot"], {"reference": reference})
    for alarm in request["alarms"]:
        deps.store.update_guard_rollback(alarm, plan["deploymentId"], snapshot)
    return {
        "reference": reference,
        "taskDefinition": task_definition,
        "polls": 0,
        "done": False,
        "ended": False,
        "delaySeconds": poll,
        "waited": 0,
    }


def _record_start(
    plan: Plan, begun: Begun, reference: str, task_definition: str, deps: SwitchDeps
) -> None:
    """Record the platform deployment on the running record. If the ending was decided
    while it was being created (an alarm, a stop, the reaper settled first), nobody else
    knows it exists: stop it with a rollback here, then give up."""
    started = {"id": reference, "taskDefinition": task_definition}
    try:
        deps.store.append_step(
            plan["deploymentId"],
            {"phase": "platform", "status": "Created", "reference": reference, "events": {}},
            {"platformDeployment": started},
        )
    except OutcomeAlreadyDecided:
        _adapter(plan, deps).restore(with_progress(begun["snapshot"], {"reference": reference}))
        raise


def _adapter(plan: Plan, deps: SwitchDeps) -> CodeDeployEcsAdapter | EcsNativeAdapter:
    if plan["adapter"] == "codedeploy-ecs":
        return CodeDeployEcsAdapter(deps.clients.ecs, deps.clients.codedeploy, deps.clients.elbv2)
    return EcsNativeAdapter(
        deps.clients.ecs, deps.clients.elbv2, deps.native_hook_arn, deps.native_hook_role_arn
    )


def _start(plan: Plan, task_definition: str, deps: SwitchDeps) -> str:
    request = plan["request"]
    adapter = _adapter(plan, deps)
    if isinstance(adapter, CodeDeployEcsAdapter):

        def store_config(reference: str) -> None:
            if request["hooks"] is not None:
                hook_store.put_config(
                    deps.clients.dynamodb, deps.table, reference, request["hooks"],
                    plan["deploymentId"],
                )  # fmt: skip

        return adapter.start_deployment(
            plan, task_definition, deps.hook_function_suffix, store_config
        )
    return adapter.start_deployment(plan, task_definition)


# -- follow ---------------------------------------------------------------------------------------
def observe(plan: Plan, progress: Mapping[str, Any], deps: SwitchDeps) -> dict[str, Any]:
    """One poll of the platform's deployment; records what changed since the last one."""
    monitor = plan["request"]["monitor"]
    delay = next_delay(monitor["pollSeconds"], progress, progress.get("events"))
    deps.renew(plan, delay)
    adapter = cast(Any, adapter_for(plan["adapter"], deps.clients))
    polled = adapter.poll_deployment(str(progress["reference"]))
    polls = int(progress.get("polls", 0)) + 1
    if polled["events"] != progress.get("events"):
        delay = monitor["pollSeconds"]
        _record_platform_step(plan, polled, polls, deps)
    waited = int(progress.get("waited", 0)) + int(
        progress.get("delaySeconds", monitor["pollSeconds"])
    )
    if not polled["ended"] and waited >= monitor["timeoutSeconds"]:
        raise MonitorTimedOut(
            f"{progress['reference']} still {polled['status']} after {monitor['timeoutSeconds']} s"
        )
    ended = polled["ended"]
    verdict_waits = int(progress.get("verdictWaits", 0))
    if (
        ended
        and not polled["done"]
        and verdict_waits < VERDICT_POLLS
        and _failed_hook_unexplained(plan, progress, polled, deps)
    ):
        ended, verdict_waits, delay = False, verdict_waits + 1, 1
    return {
        **progress,
        "polls": polls,
        "waited": waited,
        "delaySeconds": delay,
        "status": polled["status"],
        "done": polled["done"],
        "ended": ended,
        "verdictWaits": verdict_waits,
        "reason": polled["reason"],
        "events": polled["events"],
        "cause": _cause(plan, progress, polled, deps) if ended and not polled["done"] else "",
    }


def _record_platform_step(
    plan: Plan, polled: Mapping[str, Any], polls: int, deps: SwitchDeps
) -> None:
    deps.store.append_step(
        plan["deploymentId"],
        {"phase": "platform", "status": polled["status"], "events": polled["events"]},
    )
    deps.announcer.announce(
        announce.STEP,
        {
            "deploymentId": plan["deploymentId"],
            "platform": "ECS",
            "status": polled["status"],
            "events": polled["events"],
            "index": polls - 1,
        },
    )


def next_delay(poll_seconds: int, progress: Mapping[str, Any], events: Any) -> int:
    """Poll at `poll_seconds` while the platform moves; back off (doubling, up to two
    minutes) while it waits (a bake, the old task set's termination wait), so a long
    deployment costs a few state transitions, not hundreds."""
    if events != progress.get("events") or "delaySeconds" not in progress:
        return poll_seconds
    previous = int(progress.get("delaySeconds", poll_seconds))
    return max(poll_seconds, min(previous * 2, MAX_POLL_SECONDS))


def _failed_events(polled: Mapping[str, Any]) -> list[str]:
    events = polled.get("events") or {}
    return [name for name, status in events.items() if str(status).upper() == "FAILED"]


def _failed_hook_unexplained(
    plan: Plan, progress: Mapping[str, Any], polled: Mapping[str, Any], deps: SwitchDeps
) -> bool:
    """A lifecycle event failed but its hook's verdict (the reason) is not written yet:
    hooks report first and record after, so wait a poll or two for it."""
    failed = _failed_events(polled)
    if not failed:
        return False
    known = {v["event"] for v in _verdicts(progress, deps)}
    return any(event not in known for event in failed)


def _verdicts(progress: Mapping[str, Any], deps: SwitchDeps) -> list[dict[str, str]]:
    return hook_store.verdicts(deps.clients.dynamodb, deps.table, str(progress["reference"]))


def _cause(
    plan: Plan, progress: Mapping[str, Any], polled: Mapping[str, Any], deps: SwitchDeps
) -> str:
    """Why the platform's deployment failed: which hook said no, and its reason."""
    hooks = _verdicts(progress, deps)
    failed = [h for h in hooks if h["status"].upper() not in {"SUCCEEDED", "PASSED"}]
    why = "; ".join(f"hook {h['event']} {h['status']}: {h['reason']}" for h in failed)
    mode = plan["request"]["mode"]
    return (
        f"{mode} deployment {progress['reference']} ended {polled['status']}: "
        f"{why or polled.get('reason', '')}"
    ).strip()
