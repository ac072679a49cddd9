"""ECS clusters, task definitions and services (AWS::ECS::*).

CloudFormation's properties are the ECS API's in PascalCase; they are passed through as
camelCase, except the values a user names (log driver options, Docker labels). A
service is created with its deployment controller and configuration; ECS starts its
tasks and registers them in its target group when it is created (the emulator does the
same on CreateService, moto_patches/ecs.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..template import Resolver
from .common import Stack, bind, call, camel, require

if TYPE_CHECKING:
    from ...core.host import Host

_USER_KEYS = frozenset({"Options", "DockerLabels", "SecretOptions"})


CLUSTER = frozenset({"ClusterName", "ClusterSettings", "Tags"})


def create_cluster(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    args: dict[str, Any] = {"clusterName": p.get("ClusterName") or f"{stack.name}-{lid}"}
    if p.get("ClusterSettings"):
        args["settings"] = camel(p["ClusterSettings"])
    if p.get("Tags"):
        args["tags"] = camel(p["Tags"])
    cluster = call(em.client("ecs"), "create_cluster", **args)["cluster"]
    bind(stack, r, lid, cluster["clusterName"], Arn=cluster["clusterArn"])


TASK_DEFINITION = frozenset(
    {
        "Family",
        "RequiresCompatibilities",
        "NetworkMode",
        "Cpu",
        "Memory",
        "RuntimePlatform",
        "ExecutionRoleArn",
        "TaskRoleArn",
        "ContainerDefinitions",
        "Tags",
    }
)


def create_task_definition(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::ECS::TaskDefinition"
    require(kind, lid, p, "ContainerDefinitions")
    args = camel({"Family": f"{stack.name}-{lid}", **p}, keep=_USER_KEYS)
    registered = call(em.client("ecs"), "register_task_definition", **args)["taskDefinition"]
    arn = registered["taskDefinitionArn"]
    bind(stack, r, lid, arn, TaskDefinitionArn=arn)


SERVICE = frozenset(
    {
        "ServiceName",
        "Cluster",
        "TaskDefinition",
        "LaunchType",
        "DesiredCount",
        "HealthCheckGracePeriodSeconds",
        "NetworkConfiguration",
        "DeploymentController",
        "DeploymentConfiguration",
        "LoadBalancers",
        "PropagateTags",
        "Tags",
    }
)


def create_service(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::ECS::Service"
    require(kind, lid, p, "TaskDefinition")
    args = camel({"ServiceName": f"{stack.name}-{lid}", **p})
    args["cluster"] = args.get("cluster", "default")
    service = call(em.client("ecs"), "create_service", **args)["service"]
    bind(
        stack,
        r,
        lid,
        service["serviceArn"],
        Name=service["serviceName"],
        ServiceArn=service["serviceArn"],
    )
