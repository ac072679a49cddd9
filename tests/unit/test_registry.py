"""The registry: a switch acts only on what the stack's operators registered.

Pure: the registry's checks against stand-in ELB, ECS and CodeDeploy clients that answer
tags. Each refusal names the request's field and the rule it broke; the emulator tests
(tests/integration/test_registry.py) show the same refusals from the first state with
nothing changed.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen import registry
from bluegreen.errors import InvalidInput
from bluegreen.registry import TAG_KEY, Registry

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
ELB = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:"
LB = f"{ELB}loadbalancer/app/shop-alb/0f3c"
LISTENER = f"{ELB}listener/app/shop-alb/0f3c/aa01"
RULE = f"{ELB}listener-rule/app/shop-alb/0f3c/aa01/bb02"
TEST = f"{ELB}listener/app/shop-alb/0f3c/aa09"
BLUE = f"{ELB}targetgroup/shop-blue/1111"
GREEN = f"{ELB}targetgroup/shop-green/2222"
SERVICE = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/shop-prod/web"
APP = f"arn:aws:codedeploy:eu-west-1:{ACCOUNT}:application:shop-app"
GROUP = f"arn:aws:codedeploy:eu-west-1:{ACCOUNT}:deploymentgroup:shop-app/shop-dg"
OURS = {TAG_KEY: "bluegreen-prod"}
REGISTRY = Registry.from_settings(
    tag_value="bluegreen-prod",
    load_balancers="shop-*",
    ecs_services="shop-*/*",
    codedeploy_applications="shop-*",
    artifact_buckets="shop-releases, shop-builds-*",
    task_roles=f"arn:aws:iam::{ACCOUNT}:role/shop-*-task,arn:aws:iam::*:role/ecsTaskExecutionRole",
    hook_role=f"arn:aws:iam::{ACCOUNT}:role/bluegreen-prod-EcsHookInvokeRole",
)


class Tags:
    """ELB's DescribeTags, ECS's and CodeDeploy's ListTagsForResource, from one table."""

    def __init__(self, tags: dict[str, dict[str, str]]) -> None:
        self.tags = tags
        self.asked: list[list[str]] = []

    def describe_tags(self, ResourceArns: list[str]) -> dict[str, Any]:
        self.asked.append(ResourceArns)
        return {
            "TagDescriptions": [
                {"ResourceArn": a, "Tags": [{"Key": k, "Value": v} for k, v in self.of(a).items()]}
                for a in ResourceArns
            ]
        }

    def list_tags_for_resource(self, **arn: str) -> dict[str, Any]:
        (value,) = arn.values()
        if "resourceArn" in arn:  # ECS: lower-case keys
            return {"tags": [{"key": k, "value": v} for k, v in self.of(value).items()]}
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.of(value).items()]}

    def of(self, arn: str) -> dict[str, str]:
        return self.tags.get(arn, {})


def ec2_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "listeners": [LISTENER],
        "rules": [RULE],
        "testTraffic": {"listenerArn": TEST},
        "blueTargetGroupArn": BLUE,
        "greenTargetGroupArn": GREEN,
        "targetGroupArns": [BLUE, GREEN],
        "revision": None,
    }
    request.update(overrides)
    return request


def all_tagged(**changed: dict[str, str]) -> Tags:
    tags = {arn: dict(OURS) for arn in (LB, LISTENER, RULE, TEST, BLUE, GREEN, SERVICE, APP, GROUP)}
    tags.update(changed)
    return Tags(tags)


def refusal(call: Any, *args: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        call(*args)
    return refused.value


# -- the patterns --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("shop-*", "shop-alb", True),
        ("shop-*", "shopalb", False),
        ("shop-?lb", "shop-alb", True),
        ("shop-alb", "Shop-alb", False),  # ARNs are case-sensitive
        ("*-alb", "web-alb", True),
        ("", "anything", False),  # an empty parameter registers nothing
    ],
)
def test_patterns_take_iam_wildcards(pattern: str, name: str, expected: bool) -> None:
    assert registry.matches(pattern, name) is expected


# -- EC2 -----------------------------------------------------------------------------------
def test_a_request_inside_the_registry_passes_with_one_tag_read() -> None:
    # Given a load balancer, its listeners, rule and target groups, all registered
    elbv2 = all_tagged()
    # When the registry is checked, Then nothing is refused and ELB was asked once
    registry.check_ec2(ec2_request(), LB, REGISTRY, elbv2, all_tagged())
    assert len(elbv2.asked) == 1 and set(elbv2.asked[0]) == {LB, LISTENER, RULE, TEST, BLUE, GREEN}


def test_an_untagged_load_balancer_is_refused_naming_the_first_route() -> None:
    elbv2 = all_tagged(**{LB: {}})
    error = refusal(registry.check_ec2, ec2_request(), LB, REGISTRY, elbv2, None)
    assert error.field == "listeners[0]"
    assert error.reason.startswith(
        "load balancer app/shop-alb/0f3c is not tagged bluegreen:managed=bluegreen-prod "
        "(it has no such tag)"
    )


@pytest.mark.parametrize(
    ("arn", "field"),
    [
        (LISTENER, "listeners[0]"),
        (RULE, "rules[0]"),
        (TEST, "testTraffic.listenerArn"),
        (BLUE, "blueTargetGroupArn"),
        (GREEN, "greenTargetGroupArn"),
    ],
)
def test_each_elb_resource_is_refused_by_its_own_field_when_tagged_for_another_stack(
    arn: str, field: str
) -> None:
    # Given one resource registered by another bluegreen stack
    elbv2 = all_tagged(**{arn: {TAG_KEY: "bluegreen-staging"}})
    # Then the request is refused naming that field, and what the resource says
    error = refusal(registry.check_ec2, ec2_request(), LB, REGISTRY, elbv2, None)
    assert error.field == field
    assert "is not tagged bluegreen:managed=bluegreen-prod" in error.reason
    assert "(it is tagged bluegreen:managed=bluegreen-staging)" in error.reason


def test_target_groups_given_as_a_pair_are_named_by_index() -> None:
    elbv2 = all_tagged(**{GREEN: {}})
    request = ec2_request(blueTargetGroupArn=None, greenTargetGroupArn=None)
    error = refusal(registry.check_ec2, request, LB, REGISTRY, elbv2, None)
    assert error.field == "targetGroupArns[1]"
    assert error.reason.startswith("target group shop-green/2222 is not tagged")


def test_a_load_balancer_outside_the_names_is_refused_even_when_tagged() -> None:
    # Given a registry of shop-* load balancers, and a tagged web-alb
    web = LB.replace("shop-alb", "web-alb")
    request = ec2_request(listeners=[LISTENER.replace("shop-alb", "web-alb")], rules=[])
    request["testTraffic"] = None
    elbv2 = Tags({arn: dict(OURS) for arn in [web, *request["listeners"], BLUE, GREEN]})
    error = refusal(registry.check_ec2, request, web, REGISTRY, elbv2, None)
    assert (error.field, error.reason) == (
        "listeners[0]",
        "load balancer app/web-alb/0f3c is not one this stack manages "
        "(ManagedLoadBalancerNames=shop-*)",
    )


def test_an_empty_name_parameter_registers_nothing() -> None:
    empty = Registry(tag_value="bluegreen-prod")
    error = refusal(registry.check_ec2, ec2_request(), LB, empty, all_tagged(), None)
    assert error.field == "listeners[0]"
    assert "its ManagedLoadBalancerNames parameter is empty (nothing registered)" in error.reason


def test_a_stack_without_its_tag_value_refuses_rather_than_guess() -> None:
    unset = Registry(load_balancers="shop-*")
    error = refusal(registry.check_ec2, ec2_request(), LB, unset, all_tagged(), None)
    assert "registry tag value is not configured" in error.reason


# -- EC2 revisions ---------------------------------------------------------------------------
def revision(**location: Any) -> dict[str, Any]:
    return {
        "application": "shop-app",
        "deploymentGroup": "shop-dg",
        "revision": location or {"revisionType": "S3", "s3Location": {"bucket": "shop-releases"}},
    }


def test_a_revision_from_a_registered_bucket_to_a_registered_group_passes() -> None:
    registry.check_revision(revision(), LB, REGISTRY, all_tagged())
    other = revision(revisionType="S3", s3Location={"bucket": "shop-builds-2024"})
    registry.check_revision(other, LB, REGISTRY, all_tagged())


@pytest.mark.parametrize(
    ("tags", "change", "field", "reason"),
    [
        ({APP: {}}, {}, "revision.application", "CodeDeploy application shop-app is not tagged"),
        ({GROUP: {}}, {}, "revision.deploymentGroup", "deployment group shop-app/shop-dg is not"),
        (
            {},
            {"application": "web-app"},
            "revision.application",
            "CodeDeploy application web-app is not one this stack manages "
            "(ManagedCodeDeployApplications=shop-*)",
        ),
        (
            {},
            {"revision": {"revisionType": "S3", "s3Location": {"bucket": "someone-elses"}}},
            "revision.revision.s3Location.bucket",
            "bucket 'someone-elses' is not one this stack manages "
            "(ManagedArtifactBuckets=shop-releases,shop-builds-*)",
        ),
        (
            {},
            {"revision": {"revisionType": "GitHub", "gitHubLocation": {"repository": "a/b"}}},
            "revision.revision.revisionType",
            "GitHub: the idle fleet installs only S3 revisions from the buckets",
        ),
    ],
)
def test_a_revision_outside_the_registry_is_refused_by_field(
    tags: dict[str, dict[str, str]], change: dict[str, Any], field: str, reason: str
) -> None:
    given = {**revision(), **change}
    error = refusal(registry.check_revision, given, LB, REGISTRY, all_tagged(**tags))
    assert error.field == field
    assert error.reason.startswith(reason), error.reason


def test_codedeploy_arns_are_in_the_account_and_region_of_the_switch() -> None:
    assert registry.codedeploy_arns(LB, "shop-app", "shop-dg") == (APP, GROUP)


# -- ECS -----------------------------------------------------------------------------------------
SERVICE_DESCRIBED = {
    "serviceArn": SERVICE,
    "serviceName": "web",
    "clusterArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/shop-prod",
}


def task_definition(**roles: str) -> dict[str, Any]:
    return {"taskDefinitionArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/web:7", **roles}


def ecs_request(mode: str = "codedeploy", **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"mode": mode, "ecsNative": {"hookRoleArn": None}}
    if mode == "codedeploy":
        request["codeDeploy"] = {"application": "shop-app", "deploymentGroup": "shop-dg"}
    request.update(overrides)
    return request


def test_a_registered_service_with_registered_roles_passes() -> None:
    roles = task_definition(
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/shop-web-task",
        executionRoleArn="ecsTaskExecutionRole",  # a short name: the role in that account
    )
    for mode in ("codedeploy", "ecs-native"):
        registry.check_ecs(
            ecs_request(mode), SERVICE_DESCRIBED, roles, REGISTRY, all_tagged(), all_tagged()
        )


def test_an_untagged_service_is_refused() -> None:
    error = refusal(
        registry.check_ecs, ecs_request(), SERVICE_DESCRIBED, task_definition(), REGISTRY,
        all_tagged(**{SERVICE: {}}), all_tagged(),
    )  # fmt: skip
    assert (error.field, error.reason.split(" (")[0]) == (
        "service",
        "ECS service shop-prod/web is not tagged bluegreen:managed=bluegreen-prod",
    )


def test_a_service_of_another_cluster_is_refused_by_its_cluster_and_name() -> None:
    other = {
        **SERVICE_DESCRIBED,
        "clusterArn": SERVICE_DESCRIBED["clusterArn"].replace("shop-", ""),
    }
    error = refusal(
        registry.check_ecs, ecs_request(), other, task_definition(), REGISTRY, all_tagged(),
        all_tagged(),
    )  # fmt: skip
    assert error.field == "service"
    assert error.reason == (
        "ECS service prod/web is not one this stack manages (ManagedEcsServices=shop-*/*)"
    )


def test_an_untagged_codedeploy_group_is_refused_in_codedeploy_mode() -> None:
    error = refusal(
        registry.check_ecs, ecs_request(), SERVICE_DESCRIBED, task_definition(), REGISTRY,
        all_tagged(), all_tagged(**{GROUP: {TAG_KEY: ""}}),
    )  # fmt: skip
    assert error.field == "codeDeploy.deploymentGroup"
    assert "(it is tagged bluegreen:managed=)" in error.reason


@pytest.mark.parametrize("key", ["taskRoleArn", "executionRoleArn"])
def test_a_release_running_with_an_unregistered_role_is_refused(key: str) -> None:
    # Given a task definition whose task (or execution) role is the account's admin role
    described = task_definition(**{key: f"arn:aws:iam::{ACCOUNT}:role/admin"})
    error = refusal(
        registry.check_ecs, ecs_request(), SERVICE_DESCRIBED, described, REGISTRY, all_tagged(),
        all_tagged(),
    )  # fmt: skip
    which = "task role" if key == "taskRoleArn" else "execution role"
    assert error.field == "taskDefinition"
    assert error.reason.startswith(
        f"web:7 runs with {which} arn:aws:iam::{ACCOUNT}:role/admin, which is not a role "
        "this stack may pass (PassableTaskRoles="
    )


def test_no_registered_role_means_only_role_less_releases() -> None:
    bare = Registry(tag_value="bluegreen-prod", ecs_services="shop-*/*")
    registry.check_task_roles("taskDefinition", task_definition(), bare)
    error = refusal(
        registry.check_task_roles, "taskDefinition", task_definition(taskRoleArn="shop-web-task"),
        bare,
    )  # fmt: skip
    assert error.reason.endswith("its PassableTaskRoles parameter is empty (nothing registered)")


def test_the_ecs_native_hook_is_invoked_only_with_the_stacks_own_role() -> None:
    request = ecs_request(
        "ecs-native", ecsNative={"hookRoleArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}
    )
    error = refusal(registry.check_hook_role, request, REGISTRY)
    assert error.field == "ecsNative.hookRoleArn"
    assert "is not this stack's hook role" in error.reason
    own = ecs_request("ecs-native", ecsNative={"hookRoleArn": REGISTRY.hook_role})
    registry.check_hook_role(own, REGISTRY)


def test_the_registry_is_read_from_the_plan_functions_settings() -> None:
    from bluegreen.settings import load
    from bluegreen.wiring import SwitchSettings

    config = load(
        SwitchSettings,
        {
            "DEPLOYMENTS_TABLE": "t",
            "MANAGED_TAG_VALUE": "bluegreen-prod",
            "MANAGED_LOAD_BALANCER_NAMES": "shop-*",
            "MANAGED_ARTIFACT_BUCKETS": "a-releases,b-releases",
        },
    )
    assert (config.MANAGED_TAG_VALUE, config.MANAGED_LOAD_BALANCER_NAMES) == (
        "bluegreen-prod",
        "shop-*",
    )
    parsed = Registry.from_settings(
        config.MANAGED_TAG_VALUE, config.MANAGED_LOAD_BALANCER_NAMES, "", "",
        config.MANAGED_ARTIFACT_BUCKETS, "",
    )  # fmt: skip
    assert parsed.artifact_buckets == ("a-releases", "b-releases")
