"""Instances: instance profiles, launch templates, Auto Scaling groups.

An Auto Scaling group launches its instances from the launch template at once and
registers them in its target groups (moto's Auto Scaling does both), so the fleet is
serving when the stack is created. What runs on an instance (the user data's nginx and
PM2) is not run: the emulator answers for the instances (see docs/emulator.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..template import Resolver, TemplateError
from .common import Stack, bind, call, generated_name, require

if TYPE_CHECKING:
    from ...core.host import Host


INSTANCE_PROFILE = frozenset({"Roles", "InstanceProfileName", "Path"})


def create_instance_profile(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::IAM::InstanceProfile"
    require(kind, lid, p, "Roles")
    iam = em.client("iam")
    name = p.get("InstanceProfileName") or generated_name(stack, lid, 128)
    profile = iam.create_instance_profile(InstanceProfileName=name, Path=p.get("Path", "/"))
    for role in p["Roles"]:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    bind(stack, r, lid, name, Arn=profile["InstanceProfile"]["Arn"])


LAUNCH_TEMPLATE = frozenset({"LaunchTemplateName", "LaunchTemplateData", "VersionDescription"})


def create_launch_template(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::EC2::LaunchTemplate"
    require(kind, lid, p, "LaunchTemplateData")
    args = {
        "LaunchTemplateName": p.get("LaunchTemplateName") or generated_name(stack, lid, 128),
        "LaunchTemplateData": p["LaunchTemplateData"],
    }
    if "VersionDescription" in p:
        args["VersionDescription"] = p["VersionDescription"]
    template = call(em.client("ec2"), "create_launch_template", **args)["LaunchTemplate"]
    bind(
        stack,
        r,
        lid,
        template["LaunchTemplateId"],
        LaunchTemplateId=template["LaunchTemplateId"],
        LatestVersionNumber=str(template["LatestVersionNumber"]),
        DefaultVersionNumber=str(template["DefaultVersionNumber"]),
    )


AUTO_SCALING_GROUP = frozenset(
    {
        "AutoScalingGroupName",
        "MinSize",
        "MaxSize",
        "DesiredCapacity",
        "VPCZoneIdentifier",
        "LaunchTemplate",
        "TargetGroupARNs",
        "HealthCheckType",
        "HealthCheckGracePeriod",
        "Tags",
    }
)


def create_auto_scaling_group(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::AutoScaling::AutoScalingGroup"
    require(kind, lid, p, "MinSize", "MaxSize", "LaunchTemplate", "VPCZoneIdentifier")
    name = p.get("AutoScalingGroupName") or generated_name(stack, lid, 255)
    launch = dict(p["LaunchTemplate"])
    if "Version" not in launch:
        raise TemplateError(f"{lid} ({kind}): LaunchTemplate.Version is required")
    args: dict[str, Any] = {
        "AutoScalingGroupName": name,
        "MinSize": p["MinSize"],
        "MaxSize": p["MaxSize"],
        "LaunchTemplate": launch,
        "VPCZoneIdentifier": ",".join(p["VPCZoneIdentifier"]),
    }
    for key in ("DesiredCapacity", "TargetGroupARNs", "HealthCheckType", "HealthCheckGracePeriod"):
        if key in p:
            args[key] = p[key]
    if p.get("Tags"):
        args["Tags"] = [
            {
                "Key": tag["Key"],
                "Value": tag["Value"],
                "PropagateAtLaunch": tag.get("PropagateAtLaunch", False),
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
            }
            for tag in p["Tags"]
        ]
    call(em.client("autoscaling"), "create_auto_scaling_group", **args)
    bind(stack, r, lid, name)
