"""The optional CI role (template parameter CiProvider): OIDC only, for one repository and
branch, allowed only to start, follow, approve and abort this stack's switches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator.stack.template import Resolver, load_template

pytestmark = pytest.mark.unit

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
ROLE = TEMPLATE["Resources"]["CiRole"]
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/example"
# What `bluegreen deploy/plan/status/approve/abort` call, and nothing else.
OPERATOR_ACTIONS = {
    "states:StartExecution",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:StopExecution",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackResource",
    "lambda:InvokeFunction",
    "lambda:GetFunctionConfiguration",
    "dynamodb:GetItem",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetHealth",
    "cloudwatch:DescribeAlarms",
}


def trust(provider: str, repository: str, branch: str = "main") -> dict[str, Any]:
    """The role's trust statement as CloudFormation would create it for these parameters."""
    defaults = {k: str(v.get("Default", "")) for k, v in TEMPLATE["Parameters"].items()}
    parameters = {
        **defaults,
        "CiProvider": provider,
        "CiOidcProviderArn": PROVIDER,
        "CiRepository": repository,
        "CiBranch": branch,
    }
    resolver = Resolver("shop-prod", "eu-west-1", "123456789012", parameters)
    for name, expr in TEMPLATE["Conditions"].items():
        resolver.conditions[name] = resolver.evaluate_condition(expr)
    assert resolver.condition("CreateCiRole")
    document = resolver.resolve(ROLE["Properties"]["AssumeRolePolicyDocument"])
    (statement,) = document["Statement"]
    return dict(statement)


def test_the_role_exists_only_when_a_ci_provider_is_chosen() -> None:
    assert TEMPLATE["Parameters"]["CiProvider"]["Default"] == "none"
    assert ROLE["Condition"] == "CreateCiRole"
    assert TEMPLATE["Outputs"]["CiRoleArn"]["Condition"] == "CreateCiRole"


def test_gitlab_jobs_of_one_project_and_branch_may_assume_it() -> None:
    statement = trust("gitlab", "acme/shop", "main")
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {"gitlab.com:aud": "https://gitlab.com"},
        "StringLike": {"gitlab.com:sub": "project_path:acme/shop:ref_type:branch:ref:main"},
    }


def test_github_workflows_of_one_repository_and_branch_may_assume_it() -> None:
    statement = trust("github", "acme/shop", "release")
    assert statement["Condition"] == {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {
            "token.actions.githubusercontent.com:sub": "repo:acme/shop:ref:refs/heads/release"
        },
    }


def test_it_may_only_operate_switches_of_this_stack() -> None:
    # Given the role's only policy
    (policy,) = ROLE["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    actions = {
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    # Then it grants exactly what the CLI calls to operate a switch
    assert actions == OPERATOR_ACTIONS
    # and only reads are granted on every resource
    on_star = [s for s in statements if s["Resource"] == "*"]
    assert all(a.split(":")[1].startswith("Describe") for s in on_star for a in s["Action"]), (
        on_star
    )
    # and everything else names this stack's state machine, executions, functions, table
    for statement in statements:
        if statement["Resource"] != "*":
            assert "*" not in str(statement["Resource"]).replace("switch:*", ""), statement
