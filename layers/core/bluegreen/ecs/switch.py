"""The ECS switch's first state: validate a parsed request against AWS (the service,
its deployment controller and routes, the task definition, the CodeDeploy deployment
group, its routes and its automatic rollback, the alarms; each one the stack's registry
holds, the release's roles ones it may pass); read-only. The tasks after it are in
`bluegreen.switch.ecs`; every ending is `bluegreen.switch.endings.settle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import registry
from ..ec2.gates import refuse_alarms_in_alarm
from ..errors import InvalidInput
from ..platforms.codedeploy_ecs import auto_rollback_problem
from ..requests.live import (
    check_codedeploy_routes,
    check_deployment_group_cluster,
    check_ecs_container,
    check_native_routes,
)


# -- plan (read-only) ----------------------------------------------------------------------
def plan(
    request: Mapping[str, Any], deployment_id: str, execution_arn: str, deps: Any
) -> dict[str, Any]:
    service = _service(deps.ecs, request)
    controller = service.get("deploymentController", {}).get("type", "ECS")
    wanted = "CODE_DEPLOY" if request["mode"] == "codedeploy" else "ECS"
    if controller != wanted:
        raise InvalidInput(
            "mode",
            f"service {service['serviceName']} uses deployment controller {controller}, "
            f"not {wanted}",
        )
    described = _task_definition(deps.ecs, request, service)
    if request["mode"] == "codedeploy":
        _check_codedeploy_group(deps.codedeploy, deps.elbv2, request, service)
    else:
        check_native_routes(service, deps.elbv2)
    registry.check_ecs(request, service, described, deps.registry, deps.ecs, deps.codedeploy)
    task_definition = "" if request["image"] else str(described["taskDefinitionArn"])
    refuse_alarms_in_alarm(deps.cloudwatch, request["alarms"], request["allowStartInAlarm"])
    return {
        "platform": "ECS",
        "mode": request["mode"],
        "deploymentId": deployment_id,
        "executionArn": execution_arn,
        "serviceArn": service["serviceArn"],
        "clusterArn": service["clusterArn"],
        "from": service.get("taskDefinition", ""),
        "to": task_definition,
        "locks": [service["serviceArn"]],
        "dryRun": request["dryRun"],
        "request": request,
    }


def _service(ecs: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    try:
        described = ecs.describe_services(cluster=request["cluster"], services=[request["service"]])
    except ecs.exceptions.ClusterNotFoundException:
        raise InvalidInput("cluster", f"no ECS cluster {request['cluster']!r}") from None
    services = [s for s in described.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        raise InvalidInput(
            "service", f"no active service {request['service']!r} in cluster {request['cluster']!r}"
        )
    return dict(services[0])


def _task_definition(
    ecs: Any, request: Mapping[str, Any], service: Mapping[str, Any]
) -> dict[str, Any]:
    """The request's task definition, described (the release, or the one it copies)."""
    try:
        described = ecs.describe_task_definition(taskDefinition=request["taskDefinition"])[
            "taskDefinition"
        ]
    except ecs.exceptions.ClientException:
        raise InvalidInput(
            "taskDefinition", f"{request['taskDefinition']!r} does not exist"
        ) from None
    names = [c["name"] for c in described.get("containerDefinitions", [])]
    if request["container"]["name"] not in names:
        raise InvalidInput(
            "container.name",
            f"task definition has no container {request['container']['name']!r} (has {names})",
        )
    check_ecs_container(request, service, described)
    return dict(described)


def _check_codedeploy_group(
    codedeploy: Any, elbv2: Any, request: Mapping[str, Any], service: Mapping[str, Any]
) -> None:
    target = request["codeDeploy"]
    try:
        group = codedeploy.get_deployment_group(
            applicationName=target["application"], deploymentGroupName=target["deploymentGroup"]
        )["deploymentGroupInfo"]
    except (
        codedeploy.exceptions.ApplicationDoesNotExistException,
        codedeploy.exceptions.DeploymentGroupDoesNotExistException,
    ):
        raise InvalidInput(
            "codeDeploy", f"no deployment group {target['application']}/{target['deploymentGroup']}"
        ) from None
    check_deployment_group_cluster(request, group, service)
    check_codedeploy_routes(group, service, elbv2)
    problem = auto_rollback_problem(group)
    if problem:
        raise InvalidInput(
            "codeDeploy.deploymentGroup",
            f"{target['application']}/{target['deploymentGroup']}: {problem}; a failed "
            "release would keep serving (enable automatic rollback on DEPLOYMENT_FAILURE, "
            "and on DEPLOYMENT_STOP_ON_ALARM when the group has alarms)",
        )
