"""What a switch may touch, as template.yaml grants it: the registry in IAM.

Every write on a kind of resource a switch acts on (listeners and rules, ECS services,
CodeDeploy applications and deployment groups) requires the tag bluegreen:managed = the
stack's name, wherever the Service Authorization Reference lets a tag scope the action,
and is scoped by the stack's name parameters; the parameters refuse a bare `*` and
register nothing by default; PassRole goes only to registered roles, for one service.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator.core.emulator import FLEET_REGISTRY
from bluegreen_emulator.stack.template import load_template
from bluegreen_security import reference
from bluegreen_security.policies import as_list

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS = TEMPLATE["Parameters"]
TAG_CONDITION = {"aws:ResourceTag/bluegreen:managed": {"Ref": "AWS::StackName"}}
# the ARN fragments of the kinds of resource a switch acts on, and the parameter naming them
REGISTERED_KINDS = {
    ":listener/app/": "ManagedLoadBalancerNames",
    ":listener-rule/app/": "ManagedLoadBalancerNames",
    ":service/": "ManagedEcsServices",
    ":deploymentgroup:": "ManagedCodeDeployApplications",
    ":application:": "ManagedCodeDeployApplications",
}
NAME_PARAMETERS = [
    "ManagedLoadBalancerNames",
    "ManagedEcsServices",
    "ManagedCodeDeployApplications",
    "ManagedArtifactBuckets",
    "PassableTaskRoles",
]


def statements() -> list[tuple[str, dict[str, Any]]]:
    """(where, statement) for every statement the template writes itself (SAM function
    policies, roles, managed policies, policies), before the transform."""
    found = []
    for logical_id, resource in TEMPLATE["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [p for p in properties.get("Policies", []) if isinstance(p, dict)]
        documents = [p.get("PolicyDocument", p) for p in documents]
        if "PolicyDocument" in properties:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for index, statement in enumerate(as_list(document.get("Statement"))):
                found.append((f"{logical_id}#{index}", statement))
    return found


def _resources(statement: dict[str, Any]) -> list[str]:
    texts = []
    for entry in as_list(statement.get("Resource")):
        text = (
            as_list(entry["Fn::Sub"])[0]
            if isinstance(entry, dict) and "Fn::Sub" in entry
            else entry
        )
        texts.append(str(text))
    return texts


def _writes(statement: dict[str, Any]) -> list[str]:
    return [
        str(a)
        for a in as_list(statement.get("Action"))
        if (found := reference.action(str(a))) is not None and found.access_level == "Write"
    ]


def test_every_write_on_a_switched_resource_requires_the_stacks_tag_and_its_names() -> None:
    # Given every Allow statement that writes on a listener, rule, service, deployment
    # group or application
    checked = []
    for where, statement in statements():
        if statement.get("Effect") != "Allow" or not _writes(statement):
            continue
        kinds = {
            kind: parameter
            for resource in _resources(statement)
            for kind, parameter in REGISTERED_KINDS.items()
            if kind in resource
        }
        if not kinds:
            continue
        checked.append(where)
        # Then it requires the tag bluegreen:managed = the stack's name
        assert statement.get("Condition", {}).get("StringEquals") == TAG_CONDITION, where
        # and each of its resources is named by the registry's parameter, never `*`
        for resource in _resources(statement):
            parameter = next(p for k, p in REGISTERED_KINDS.items() if k in resource)
            assert f"${{{parameter}}}" in resource, (where, resource)
    # (the statements of Shift, TestTraffic, settle, EcsStart and DeployRevision)
    assert len(checked) >= 8, checked


@pytest.mark.parametrize(
    "action",
    [
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:ModifyRule",
        "ecs:UpdateService",
        "codedeploy:CreateDeployment",
        "codedeploy:RegisterApplicationRevision",
    ],
)
def test_the_reference_lets_a_tag_scope_each_action_so_scoped(action: str) -> None:
    # The condition is not decoration: AWS evaluates aws:ResourceTag for these actions
    found = reference.action(action)
    assert found is not None
    assert reference.condition_key_defined(
        "aws:ResourceTag/bluegreen:managed", found.all_condition_keys()
    )


def test_pass_role_goes_only_to_registered_roles_for_one_service() -> None:
    passing = [(w, s) for w, s in statements() if "iam:PassRole" in as_list(s.get("Action"))]
    assert {w.split("#")[0] for w, _ in passing} == {
        "EcsStartFunction",
        "EcsStartPassTaskRolesPolicy",
    }
    for where, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], where
        assert "*" not in as_list(statement["Resource"]), where
        services = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        assert services in {"ecs.amazonaws.com", "ecs-tasks.amazonaws.com"}, where
    task_roles = TEMPLATE["Resources"]["EcsStartPassTaskRolesPolicy"]
    assert task_roles["Condition"] == "PassesTaskRoles"  # nothing to pass: no statement at all
    assert task_roles["Properties"]["Roles"] == [{"Ref": "EcsStartFunctionRole"}]
    (statement,) = task_roles["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::Split": [",", {"Ref": "PassableTaskRoles"}]}
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


# -- the parameters --------------------------------------------------------------------------
def accepts(name: str, value: str) -> bool:
    return re.fullmatch(PARAMETERS[name]["AllowedPattern"], value) is not None


@pytest.mark.parametrize("name", NAME_PARAMETERS)
def test_each_registry_parameter_registers_nothing_by_default(name: str) -> None:
    assert PARAMETERS[name]["Default"] == ""
    assert accepts(name, "")


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("ManagedLoadBalancerNames", ["*", "**", "?*", "*-*", "shop alb"]),
        ("ManagedEcsServices", ["*", "*/*", "?/*", "prod", "prod/web/x"]),
        ("ManagedCodeDeployApplications", ["*", "*?", "-*"]),
        ("ManagedArtifactBuckets", ["*", "shop,*", "Shop", "a,,b"]),
        (
            "PassableTaskRoles",
            [
                "*",
                "arn:aws:iam::123456789012:role/*",
                "arn:aws:iam::123456789012:role/-*",
                "arn:aws:iam::123456789012:role/web,*",
                "arn:aws:iam::123456789012:user/web",
                "web-task",
            ],
        ),
    ],
)
def test_a_bare_wildcard_is_refused(name: str, refused: list[str]) -> None:
    for value in refused:
        assert not accepts(name, value), f"{name}={value!r} must be refused"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ManagedLoadBalancerNames", "shop-*"),
        ("ManagedLoadBalancerNames", "*-alb"),
        ("ManagedEcsServices", "prod/web-*"),
        ("ManagedEcsServices", "shop-*/*"),
        ("ManagedEcsServices", "*/web"),
        ("ManagedCodeDeployApplications", "shop-app"),
        ("ManagedArtifactBuckets", "shop-releases,shop-builds-*"),
        (
            "PassableTaskRoles",
            "arn:aws:iam::123456789012:role/shop-*,arn:aws:iam::*:role/ecsTaskExecutionRole",
        ),
        ("PassableTaskRoles", "arn:aws:iam::123456789012:role/teams/shop/web-task"),
    ],
)
def test_a_pattern_with_a_literal_name_is_accepted(name: str, value: str) -> None:
    assert accepts(name, value)


def test_the_emulated_stack_registers_its_example_fleets_with_values_cloudformation_takes() -> None:
    for name, value in FLEET_REGISTRY.items():
        assert accepts(name, value), f"{name}={value!r}"


def test_the_first_state_reads_the_registry_the_stack_was_deployed_with() -> None:
    environment = TEMPLATE["Resources"]["PlanFunction"]["Properties"]["Environment"]["Variables"]
    assert environment == {
        "MANAGED_TAG_VALUE": {"Ref": "AWS::StackName"},
        "MANAGED_LOAD_BALANCER_NAMES": {"Ref": "ManagedLoadBalancerNames"},
        "MANAGED_ECS_SERVICES": {"Ref": "ManagedEcsServices"},
        "MANAGED_CODEDEPLOY_APPLICATIONS": {"Ref": "ManagedCodeDeployApplications"},
        "MANAGED_ARTIFACT_BUCKETS": {"Ref": "ManagedArtifactBuckets"},
        "PASSABLE_TASK_ROLES": {"Ref": "PassableTaskRoles"},
        "ECS_HOOK_ROLE_ARN": {"Fn::GetAtt": ["EcsHookInvokeRole", "Arn"]},
    }
