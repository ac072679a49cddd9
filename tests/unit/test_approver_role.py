"""Approval by someone else: the optional approver role (ApproverPrincipalArns,
ApproverGitHubEnvironment) is the only one that answers a switch waiting for approval,
and the CI role that starts switches can neither answer nor assume it.

The trust policy is resolved as CloudFormation would for given parameters (the
emulator's resolver); the emulator test (tests/integration/test_approval.py) shows the
CI role refused by IAM and the approver recorded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator.stack.template import Resolver, load_template
from bluegreen_security.policies import as_list

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
ROLE = TEMPLATE["Resources"]["ApproverRole"]
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
ALICE = "arn:aws:iam::123456789012:role/AWSReservedSSO_Approver_0123456789abcdef"
CI_ROLE = "arn:aws:iam::123456789012:role/shop-prod-CiRole-1A2B3C"


def resolved(**given: str) -> tuple[Resolver, dict[str, Any] | None]:
    """The approver role's trust policy as CloudFormation would create it (None: no role)."""
    defaults = {k: str(v.get("Default", "")) for k, v in TEMPLATE["Parameters"].items()}
    parameters = {**defaults, **given}
    for name, value in parameters.items():
        pattern = TEMPLATE["Parameters"][name].get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ValueError(f"CloudFormation refuses {name}={value!r}")
    resolver = Resolver("shop-prod", "eu-west-1", "123456789012", parameters)
    resolver.attributes[("CiRole", "Arn")] = CI_ROLE
    for name, expr in TEMPLATE["Conditions"].items():
        resolver.conditions[name] = resolver.evaluate_condition(expr)
    if not resolver.condition(ROLE["Condition"]):
        return resolver, None
    return resolver, resolver.resolve(ROLE["Properties"]["AssumeRolePolicyDocument"])


def test_there_is_no_approver_role_unless_approvers_are_named() -> None:
    _, trust = resolved()
    assert trust is None
    assert TEMPLATE["Outputs"]["ApproverRoleArn"]["Condition"] == "CreateApproverRole"


def test_named_principals_may_assume_it() -> None:
    _, trust = resolved(ApproverPrincipalArns=f"{ALICE},arn:aws:iam::123456789012:user/bob")
    assert trust is not None
    (allow,) = trust["Statement"]
    assert allow == {
        "Effect": "Allow",
        "Principal": {"AWS": [ALICE, "arn:aws:iam::123456789012:user/bob"]},
        "Action": "sts:AssumeRole",
    }


def test_the_ci_role_is_denied_even_when_the_whole_account_is_trusted() -> None:
    # Given a CI role, and approvers named as the account (delegated to its IAM policies)
    _, trust = resolved(
        ApproverPrincipalArns="arn:aws:iam::123456789012:root",
        CiProvider="github",
        CiOidcProviderArn=PROVIDER,
        CiRepository="acme/shop",
    )
    assert trust is not None
    deny = [s for s in trust["Statement"] if s["Effect"] == "Deny"]
    # Then the trust policy denies the CI role by its ARN, whatever the allow says
    assert deny == [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": CI_ROLE}},
        }
    ]


def test_a_github_environment_with_reviewers_may_assume_it_but_not_the_ci_ones() -> None:
    _, trust = resolved(
        ApproverGitHubEnvironment="prod-approval",
        CiProvider="github",
        CiOidcProviderArn=PROVIDER,
        CiRepository="acme/shop",
        CiEnvironment="prod",
    )
    assert trust is not None
    allow = next(s for s in trust["Statement"] if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Federated": PROVIDER}
    assert allow["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/shop:environment:prod-approval",
    }


def test_template_rules_keep_the_approvers_environment_apart_from_the_pipelines() -> None:
    rule = TEMPLATE["Rules"]["ApproverEnvironmentIsForGitHub"]
    assertions = [a["Assert"] for a in rule["Assertions"]]
    assert {"Fn::Equals": [{"Ref": "CiProvider"}, "github"]} in assertions
    assert {
        "Fn::Not": [
            {"Fn::Equals": [{"Ref": "ApproverGitHubEnvironment"}, {"Ref": "CiEnvironment"}]}
        ]
    } in assertions


@pytest.mark.parametrize(
    "principals",
    ["*", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::*:root", "alice"],
)
def test_approvers_are_named_exactly(principals: str) -> None:
    with pytest.raises(ValueError, match="CloudFormation refuses ApproverPrincipalArns"):
        resolved(ApproverPrincipalArns=principals)


def test_it_may_answer_approvals_and_read_what_it_answers_nothing_else() -> None:
    (policy,) = ROLE["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert actions == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackResource",
        "dynamodb:GetItem",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetHealth",
        "cloudwatch:DescribeAlarms",
    }
    # it starts, stops and rolls back nothing: that is the pipeline's (CiRole)
    assert not actions & {"states:StartExecution", "states:StopExecution", "lambda:InvokeFunction"}
