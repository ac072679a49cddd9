"""Application load balancers, target groups, listeners and listener rules
(AWS::ElasticLoadBalancingV2::*), with the attributes the switch relies on.

A target group's `TargetGroupAttributes` (deregistration delay, algorithm) and a load
balancer's `LoadBalancerAttributes` are set after creation, as CloudFormation does;
`Fn::GetAtt` gives the full names the CloudWatch dimensions use (`app/<name>/<id>`,
`targetgroup/<name>/<id>`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..template import Resolver
from .common import Stack, bind, call, require, tagged

if TYPE_CHECKING:
    from ...core.host import Host

LOAD_BALANCER = frozenset(
    {
        "Name",
        "Scheme",
        "Type",
        "Subnets",
        "SecurityGroups",
        "IpAddressType",
        "LoadBalancerAttributes",
        "Tags",
    }
)


def create_load_balancer(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    require(kind, lid, p, "Name", "Subnets")
    elbv2 = em.client("elbv2")
    args = {
        k: p[k]
        for k in ("Name", "Scheme", "Type", "Subnets", "SecurityGroups", "IpAddressType")
        if k in p
    }
    balancer = call(elbv2, "create_load_balancer", **args, **tagged(p))["LoadBalancers"][0]
    arn = balancer["LoadBalancerArn"]
    if p.get("LoadBalancerAttributes"):
        call(
            elbv2,
            "modify_load_balancer_attributes",
            LoadBalancerArn=arn,
            Attributes=p["LoadBalancerAttributes"],
        )
    bind(
        stack,
        r,
        lid,
        arn,
        DNSName=balancer["DNSName"],
        LoadBalancerFullName=arn.split(":loadbalancer/", 1)[1],
        LoadBalancerName=balancer["LoadBalancerName"],
        CanonicalHostedZoneID=balancer.get("CanonicalHostedZoneId", ""),
        SecurityGroups=list(balancer.get("SecurityGroups", [])),
    )


TARGET_GROUP = frozenset(
    {
        "Name",
        "VpcId",
        "Protocol",
        "Port",
        "TargetType",
        "HealthCheckEnabled",
        "HealthCheckProtocol",
        "HealthCheckPath",
        "HealthCheckPort",
        "HealthCheckIntervalSeconds",
        "HealthCheckTimeoutSeconds",
        "HealthyThresholdCount",
        "UnhealthyThresholdCount",
        "Matcher",
        "TargetGroupAttributes",
        "Targets",
        "Tags",
    }
)


def create_target_group(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::ElasticLoadBalancingV2::TargetGroup"
    require(kind, lid, p, "Name")
    elbv2 = em.client("elbv2")
    args = {k: v for k, v in p.items() if k not in {"TargetGroupAttributes", "Targets", "Tags"}}
    group = call(elbv2, "create_target_group", **args, **tagged(p))["TargetGroups"][0]
    arn = group["TargetGroupArn"]
    if p.get("TargetGroupAttributes"):
        call(
            elbv2,
            "modify_target_group_attributes",
            TargetGroupArn=arn,
            Attributes=p["TargetGroupAttributes"],
        )
    if p.get("Targets"):
        call(elbv2, "register_targets", TargetGroupArn=arn, Targets=p["Targets"])
    bind(
        stack,
        r,
        lid,
        arn,
        TargetGroupArn=arn,
        TargetGroupFullName=arn.split(":", 5)[5],
        TargetGroupName=group["TargetGroupName"],
        LoadBalancerArns=list(group.get("LoadBalancerArns", [])),
    )


LISTENER = frozenset(
    {"LoadBalancerArn", "Port", "Protocol", "SslPolicy", "Certificates", "DefaultActions", "Tags"}
)


def create_listener(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::ElasticLoadBalancingV2::Listener"
    require(kind, lid, p, "LoadBalancerArn", "DefaultActions")
    args = {k: v for k, v in p.items() if k != "Tags"}
    listener = call(em.client("elbv2"), "create_listener", **args, **tagged(p))["Listeners"][0]
    bind(stack, r, lid, listener["ListenerArn"], ListenerArn=listener["ListenerArn"])


LISTENER_RULE = frozenset({"ListenerArn", "Priority", "Conditions", "Actions", "Tags"})


def create_listener_rule(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::ElasticLoadBalancingV2::ListenerRule"
    require(kind, lid, p, "ListenerArn", "Priority", "Conditions", "Actions")
    args = {k: v for k, v in p.items() if k != "Tags"}
    rule = call(em.client("elbv2"), "create_rule", **args, **tagged(p))["Rules"][0]
    bind(stack, r, lid, rule["RuleArn"], RuleArn=rule["RuleArn"], IsDefault="false")
