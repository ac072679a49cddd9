"""The green side is running: the replacement task set (CodeDeploy) or the target
service revision's deployment (ECS-native) has all its desired tasks running, steadily."""

from __future__ import annotations

from typing import Any

from .model import CheckContext, CheckResult

TASK_SET_STEADY = "taskSetSteady"


def task_set_steady(ctx: CheckContext) -> CheckResult:
    target = ctx.target
    if target.task_set_arn:
        return _task_set(ctx.clients.ecs, target.cluster, target.service, target.task_set_arn)
    return _service_revision(
        ctx.clients.ecs, target.cluster, target.service, target.task_definition
    )


def _task_set(ecs: Any, cluster: str, service: str, arn: str) -> CheckResult:
    sets = ecs.describe_task_sets(cluster=cluster, service=service, taskSets=[arn]).get(
        "taskSets", []
    )
    if not sets:
        return CheckResult.failed(TASK_SET_STEADY, f"replacement task set {arn} does not exist")
    task_set = sets[0]
    desired = int(task_set.get("computedDesiredCount") or 0)
    running = int(task_set.get("runningCount") or 0)
    pending = int(task_set.get("pendingCount") or 0)
    stability = task_set.get("stabilityStatus")
    counts = f"{running}/{desired} running, {pending} pending, {stability}"
    if task_set.get("status") not in {"ACTIVE", "PRIMARY"}:
        return CheckResult.failed(
            TASK_SET_STEADY, f"replacement task set is {task_set.get('status')}"
        )
    if desired <= 0:
        return CheckResult.failed(
            TASK_SET_STEADY, f"replacement task set wants no tasks ({counts})"
        )
    if running >= desired and pending == 0 and stability == "STEADY_STATE":
        return CheckResult.passed(TASK_SET_STEADY, f"replacement task set steady ({counts})")
    return CheckResult.pending(TASK_SET_STEADY, f"replacement task set not steady yet ({counts})")


def _service_revision(
    ecs: Any, cluster: str, service: str, task_definition: str | None
) -> CheckResult:
    described = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not described:
        return CheckResult.failed(TASK_SET_STEADY, f"service {service} does not exist in {cluster}")
    deployments = [
        d for d in described[0].get("deployments", []) if d.get("taskDefinition") == task_definition
    ]
    if not deployments:
        return CheckResult.pending(TASK_SET_STEADY, f"no tasks of {task_definition} started yet")
    deployment = deployments[0]
    desired = int(deployment.get("desiredCount") or 0)
    running = int(deployment.get("runningCount") or 0)
    failed = int(deployment.get("failedTasks") or 0)
    counts = f"{running}/{desired} running, {failed} failed"
    if deployment.get("rolloutState") == "FAILED":
        return CheckResult.failed(TASK_SET_STEADY, f"green revision rollout failed ({counts})")
    if desired > 0 and running >= desired:
        return CheckResult.passed(TASK_SET_STEADY, f"green revision steady ({counts})")
    return CheckResult.pending(TASK_SET_STEADY, f"green revision not steady yet ({counts})")
