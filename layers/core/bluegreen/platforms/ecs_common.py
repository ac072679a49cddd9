"""What both ECS adapters share: the new revision of a task definition, and reading
which task definition a service serves and through which production routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..contracts import Observation, ObservedRoute, Plan, Serving, Snapshot
from .alb import read_weights, routes_from

# RegisterTaskDefinition's parameters, when the client cannot say (a test double):
# botocore's model is the source (`ecs.meta.service_model`), this is its copy.
REGISTER_FIELDS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
    "volumes", "placementConstraints", "requiresCompatibilities", "cpu", "memory", "tags",
    "pidMode", "ipcMode", "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage",
    "runtimePlatform", "enableFaultInjection",
)  # fmt: skip


def register_fields(ecs: Any) -> tuple[str, ...]:
    """Every parameter RegisterTaskDefinition takes, from the client's own model."""
    try:
        shape = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape
    except AttributeError:
        return REGISTER_FIELDS
    return tuple(shape.members)


def new_revision_request(
    ecs: Any,
    described: Mapping[str, Any],
    tags: Sequence[Mapping[str, str]],
    container: str,
    image: str,
) -> dict[str, Any]:
    """RegisterTaskDefinition's arguments for `described` with `container`'s image
    replaced: every field the revision had is carried over, tags included."""
    source = {**described, "tags": list(tags)}
    request = {
        name: source[name]
        for name in register_fields(ecs)
        if name in source and source[name] not in (None, [], {}, "")
    }
    containers = [dict(c) for c in described["containerDefinitions"]]
    for definition in containers:
        if definition["name"] == container:
            definition["image"] = image
    request["containerDefinitions"] = containers
    return request


def register_new_revision(ecs: Any, task_definition: str, container: str, image: str) -> str:
    described = ecs.describe_task_definition(taskDefinition=task_definition, include=["TAGS"])
    request = new_revision_request(
        ecs, described["taskDefinition"], described.get("tags") or [], container, image
    )
    registered = ecs.register_task_definition(**request)
    return str(registered["taskDefinition"]["taskDefinitionArn"])


def ecs_snapshot(plan: Plan) -> Snapshot:
    """What an ECS restore needs: nothing moves before the platform's deployment starts,
    and stopping that deployment with rollback is the restore (its id is added once it
    exists); `taskDefinition` is what the service ran, to tell the sides apart."""
    request = plan["request"]
    snapshot: Snapshot = {
        "adapter": plan["adapter"],
        "routes": [],
        "cluster": plan["clusterArn"],  # type: ignore[typeddict-item]
        "service": plan["serviceArn"],  # type: ignore[typeddict-item]
        "taskDefinition": plan["from"],
        "reference": None,
    }
    if request.get("codeDeploy"):
        snapshot["codeDeploy"] = dict(request["codeDeploy"])
    return snapshot


def describe_service(ecs: Any, cluster: str, service: str) -> dict[str, Any]:
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    return dict(found[0]) if found else {}


def primary_task_definition(service: Mapping[str, Any]) -> str | None:
    """The task definition production runs: the PRIMARY task set's (CodeDeploy
    controller), else the service's own (ECS controller)."""
    for task_set in service.get("taskSets") or []:
        if task_set.get("status") == "PRIMARY":
            return str(task_set.get("taskDefinition"))
    value = service.get("taskDefinition")
    return str(value) if value else None


def observe_service(
    elbv2: Any,
    service: Mapping[str, Any],
    listeners: Sequence[str],
    rules: Sequence[str],
    before: str,
    platform_status: str | None,
    still_moving: bool,
) -> Observation:
    """Production as read back: the routes' weights, the primary task definition, and
    which side that is (`from` = what the service ran before the switch)."""
    routes: list[ObservedRoute] = read_weights(elbv2, routes_from(listeners, rules))
    primary = primary_task_definition(service)
    side: Serving
    if still_moving:
        side = "moving"
    elif any(sum(1 for w in r["weights"].values() if w) != 1 for r in routes):
        side = "split"
    elif primary is None:
        side = "unknown"
    else:
        side = "from" if primary == before else "to"
    detail = f"primary task definition {primary}; platform {platform_status or 'not started'}"
    if routes:
        detail += "; " + "; ".join(f"{r['arn'].rsplit('/', 2)[-2]}: {r['weights']}" for r in routes)
    return {
        "serving": side,
        "detail": detail,
        "routes": routes,
        "taskDefinition": primary,
        "platformStatus": platform_status,
    }
