"""VPC, internet gateway, route tables, subnets and security groups (AWS::EC2::*).

Each is created through the EC2 API the way CloudFormation creates it: a security group
that lists `SecurityGroupEgress` loses the default allow-all egress rule, a subnet's
`MapPublicIpOnLaunch` and a VPC's DNS settings are attributes set after creation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..template import Resolver
from .common import Stack, bind, call, generated_name, only, require, tag_specifications

if TYPE_CHECKING:
    from ...core.host import Host


VPC = frozenset({"CidrBlock", "EnableDnsHostnames", "EnableDnsSupport", "Tags"})


def create_vpc(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::EC2::VPC"
    require(kind, lid, p, "CidrBlock")
    ec2 = em.client("ec2")
    vpc = call(
        ec2,
        "create_vpc",
        CidrBlock=p["CidrBlock"],
        **tag_specifications("vpc", p),
    )["Vpc"]
    vpc_id = vpc["VpcId"]
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        if attribute in p:
            call(ec2, "modify_vpc_attribute", VpcId=vpc_id, **{attribute: {"Value": p[attribute]}})
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    bind(
        stack,
        r,
        lid,
        vpc_id,
        VpcId=vpc_id,
        CidrBlock=vpc["CidrBlock"],
        DefaultSecurityGroup=groups[0]["GroupId"] if groups else "",
    )


INTERNET_GATEWAY = frozenset({"Tags"})


def create_internet_gateway(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    gateway = call(
        em.client("ec2"),
        "create_internet_gateway",
        **tag_specifications("internet-gateway", p),
    )["InternetGateway"]["InternetGatewayId"]
    bind(stack, r, lid, gateway, InternetGatewayId=gateway)


GATEWAY_ATTACHMENT = frozenset({"VpcId", "InternetGatewayId"})


def create_gateway_attachment(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::EC2::VPCGatewayAttachment"
    require(kind, lid, p, "VpcId", "InternetGatewayId")
    call(
        em.client("ec2"),
        "attach_internet_gateway",
        InternetGatewayId=p["InternetGatewayId"],
        VpcId=p["VpcId"],
    )
    bind(stack, r, lid, f"IGW|{p['VpcId']}")


ROUTE_TABLE = frozenset({"VpcId", "Tags"})


def create_route_table(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::EC2::RouteTable"
    require(kind, lid, p, "VpcId")
    table = call(
        em.client("ec2"),
        "create_route_table",
        VpcId=p["VpcId"],
        **tag_specifications("route-table", p),
    )["RouteTable"]["RouteTableId"]
    bind(stack, r, lid, table, RouteTableId=table)


ROUTE = frozenset({"RouteTableId", "DestinationCidrBlock", "GatewayId"})


def create_route(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::EC2::Route"
    require(kind, lid, p, "RouteTableId", "DestinationCidrBlock", "GatewayId")
    call(em.client("ec2"), "create_route", **p)
    bind(stack, r, lid, f"{p['RouteTableId']}|{p['DestinationCidrBlock']}")


SUBNET = frozenset({"VpcId", "CidrBlock", "AvailabilityZone", "MapPublicIpOnLaunch", "Tags"})


def create_subnet(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::EC2::Subnet"
    require(kind, lid, p, "VpcId", "CidrBlock")
    ec2 = em.client("ec2")
    args = {k: p[k] for k in ("VpcId", "CidrBlock", "AvailabilityZone") if k in p}
    subnet = call(ec2, "create_subnet", **args, **tag_specifications("subnet", p))["Subnet"]
    if "MapPublicIpOnLaunch" in p:
        call(
            ec2,
            "modify_subnet_attribute",
            SubnetId=subnet["SubnetId"],
            MapPublicIpOnLaunch={"Value": p["MapPublicIpOnLaunch"]},
        )
    bind(
        stack,
        r,
        lid,
        subnet["SubnetId"],
        SubnetId=subnet["SubnetId"],
        AvailabilityZone=subnet["AvailabilityZone"],
        VpcId=subnet["VpcId"],
        CidrBlock=subnet["CidrBlock"],
    )


ROUTE_TABLE_ASSOCIATION = frozenset({"SubnetId", "RouteTableId"})


def create_route_table_association(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::EC2::SubnetRouteTableAssociation"
    require(kind, lid, p, "SubnetId", "RouteTableId")
    association = call(em.client("ec2"), "associate_route_table", **p)["AssociationId"]
    bind(stack, r, lid, association, Id=association)


_RULE_KEYS = {
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIp",
    "CidrIpv6",
    "SourceSecurityGroupId",
    "DestinationSecurityGroupId",
    "Description",
}


SECURITY_GROUP = frozenset(
    {
        "GroupDescription",
        "GroupName",
        "VpcId",
        "SecurityGroupIngress",
        "SecurityGroupEgress",
        "Tags",
    }
)


def create_security_group(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    kind = "AWS::EC2::SecurityGroup"
    require(kind, lid, p, "GroupDescription")
    ec2 = em.client("ec2")
    args = {
        "GroupName": p.get("GroupName") or generated_name(stack, lid, 255),
        "Description": p["GroupDescription"],
        **tag_specifications("security-group", p),
    }
    if "VpcId" in p:
        args["VpcId"] = p["VpcId"]
    group = call(ec2, "create_security_group", **args)["GroupId"]
    ingress = [_permission(lid, rule) for rule in p.get("SecurityGroupIngress", [])]
    if ingress:
        call(ec2, "authorize_security_group_ingress", GroupId=group, IpPermissions=ingress)
    if "SecurityGroupEgress" in p:  # CloudFormation replaces the default allow-all egress
        everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=everything)
        egress = [_permission(lid, rule) for rule in p["SecurityGroupEgress"]]
        if egress:
            call(ec2, "authorize_security_group_egress", GroupId=group, IpPermissions=egress)
    bind(stack, r, lid, group, GroupId=group, VpcId=p.get("VpcId", ""))


def _permission(lid: str, rule: dict[str, Any]) -> dict[str, Any]:
    only("AWS::EC2::SecurityGroup rule", lid, rule, _RULE_KEYS)
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for key in ("FromPort", "ToPort"):
        if key in rule:
            permission[key] = int(rule[key])
    described = {"Description": rule["Description"]} if "Description" in rule else {}
    if "CidrIp" in rule:
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **described}]
    if "CidrIpv6" in rule:
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **described}]
    peer = rule.get("SourceSecurityGroupId") or rule.get("DestinationSecurityGroupId")
    if peer:
        permission["UserIdGroupPairs"] = [{"GroupId": peer, **described}]
    return permission
