"""What releases need: CodeDeploy applications and deployment groups, and the S3 bucket
revisions are uploaded to (AWS::CodeDeploy::*, AWS::S3::Bucket).

A bucket's name is known before anything is created (roles name its ARN in their
policies, and roles come first): `name_bucket` gives it the name CloudFormation would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..template import Resolver
from .common import Stack, bind, call, camel, generated_name, require, tags

if TYPE_CHECKING:
    from ...core.host import Host


APPLICATION = frozenset({"ApplicationName", "ComputePlatform", "Tags"})


def create_application(em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    name = p.get("ApplicationName") or generated_name(stack, lid, 100)
    args: dict[str, Any] = {"applicationName": name}
    if "ComputePlatform" in p:
        args["computePlatform"] = p["ComputePlatform"]
    if p.get("Tags"):
        args["tags"] = tags(p)
    call(em.client("codedeploy"), "create_application", **args)
    bind(stack, r, lid, name)


DEPLOYMENT_GROUP = frozenset(
    {
        "ApplicationName",
        "DeploymentGroupName",
        "ServiceRoleArn",
        "AutoScalingGroups",
        "DeploymentConfigName",
        "DeploymentStyle",
        "AutoRollbackConfiguration",
        "AlarmConfiguration",
        "ECSServices",
        "LoadBalancerInfo",
        "BlueGreenDeploymentConfiguration",
        "Ec2TagFilters",
        "Tags",
    }
)


def create_deployment_group(
    em: Host, stack: Stack, r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    kind = "AWS::CodeDeploy::DeploymentGroup"
    require(kind, lid, p, "ApplicationName", "ServiceRoleArn")
    name = p.get("DeploymentGroupName") or generated_name(stack, lid, 100)
    args = camel({k: v for k, v in p.items() if k != "Tags"})
    args["deploymentGroupName"] = name
    if p.get("Tags"):
        args["tags"] = tags(p)
    call(em.client("codedeploy"), "create_deployment_group", **args)
    bind(stack, r, lid, name)


def name_bucket(stack: Stack, r: Resolver, lid: str, p: dict[str, Any]) -> None:
    explicit = p.get("BucketName")
    name = (
        str(r.resolve(explicit)) if explicit is not None else generated_name(stack, lid, 63, True)
    )
    bind(
        stack,
        r,
        lid,
        name,
        Arn=f"arn:aws:s3:::{name}",
        DomainName=f"{name}.s3.amazonaws.com",
        RegionalDomainName=f"{name}.s3.{r.region}.amazonaws.com",
    )


BUCKET = frozenset(
    {
        "BucketName",
        "BucketEncryption",
        "VersioningConfiguration",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "Tags",
    }
)


def create_bucket(em: Host, stack: Stack, _r: Resolver, lid: str, p: dict[str, Any]) -> None:
    s3 = em.client("s3")
    name = stack.physical[lid]
    args: dict[str, Any] = {"Bucket": name}
    if em.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": em.region}
    s3.create_bucket(**args)
    if "BucketEncryption" in p:  # CloudFormation's shape differs from PutBucketEncryption's
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **(
                    {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                    if "BucketKeyEnabled" in rule
                    else {}
                ),
            }
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        call(
            s3,
            "put_bucket_encryption",
            Bucket=name,
            ServerSideEncryptionConfiguration={"Rules": rules},
        )
    settings = {
        "VersioningConfiguration": ("put_bucket_versioning", "VersioningConfiguration"),
        "PublicAccessBlockConfiguration": (
            "put_public_access_block",
            "PublicAccessBlockConfiguration",
        ),
        "OwnershipControls": ("put_bucket_ownership_controls", "OwnershipControls"),
    }
    for prop, (method, argument) in settings.items():
        if prop in p:
            call(s3, method, Bucket=name, **{argument: p[prop]})
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags(p)})
