"""The resource types of the example fleets (examples/), deployable into the emulator.

Each type has a creator (one module per concern) and the properties it deploys (any
other is refused before anything is created); a type whose identity CloudFormation
knows before creating it (an S3 bucket's name) also has a namer. Every other one gets
its identity when created, so the deployment orders them by what they reference
(stack/deploy.py). The order of KINDS is the creation order among independent
resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..template import Resolver
from . import compute, containers, load_balancing, network, releases
from .common import Creator

Namer = Callable[[Any, Resolver, str, dict[str, Any]], None]


@dataclass(frozen=True)
class Kind:
    create: Creator
    properties: frozenset[str]  # the CloudFormation properties the creator deploys
    name: Namer | None = None  # identity known before anything is created


KINDS: dict[str, Kind] = {
    "AWS::EC2::VPC": Kind(network.create_vpc, network.VPC),
    "AWS::EC2::InternetGateway": Kind(network.create_internet_gateway, network.INTERNET_GATEWAY),
    "AWS::EC2::VPCGatewayAttachment": Kind(
        network.create_gateway_attachment, network.GATEWAY_ATTACHMENT
    ),
    "AWS::EC2::RouteTable": Kind(network.create_route_table, network.ROUTE_TABLE),
    "AWS::EC2::Route": Kind(network.create_route, network.ROUTE),
    "AWS::EC2::Subnet": Kind(network.create_subnet, network.SUBNET),
    "AWS::EC2::SubnetRouteTableAssociation": Kind(
        network.create_route_table_association, network.ROUTE_TABLE_ASSOCIATION
    ),
    "AWS::EC2::SecurityGroup": Kind(network.create_security_group, network.SECURITY_GROUP),
    "AWS::S3::Bucket": Kind(releases.create_bucket, releases.BUCKET, releases.name_bucket),
    "AWS::IAM::InstanceProfile": Kind(compute.create_instance_profile, compute.INSTANCE_PROFILE),
    "AWS::EC2::LaunchTemplate": Kind(compute.create_launch_template, compute.LAUNCH_TEMPLATE),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": Kind(
        load_balancing.create_load_balancer, load_balancing.LOAD_BALANCER
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": Kind(
        load_balancing.create_target_group, load_balancing.TARGET_GROUP
    ),
    "AWS::ElasticLoadBalancingV2::Listener": Kind(
        load_balancing.create_listener, load_balancing.LISTENER
    ),
    "AWS::ElasticLoadBalancingV2::ListenerRule": Kind(
        load_balancing.create_listener_rule, load_balancing.LISTENER_RULE
    ),
    "AWS::AutoScaling::AutoScalingGroup": Kind(
        compute.create_auto_scaling_group, compute.AUTO_SCALING_GROUP
    ),
    "AWS::ECS::Cluster": Kind(containers.create_cluster, containers.CLUSTER),
    "AWS::ECS::TaskDefinition": Kind(containers.create_task_definition, containers.TASK_DEFINITION),
    "AWS::ECS::Service": Kind(containers.create_service, containers.SERVICE),
    "AWS::CodeDeploy::Application": Kind(releases.create_application, releases.APPLICATION),
    "AWS::CodeDeploy::DeploymentGroup": Kind(
        releases.create_deployment_group, releases.DEPLOYMENT_GROUP
    ),
}

__all__ = ["KINDS", "Kind", "Namer"]
