"""The optional CI role (template parameter CiProvider): OIDC only, for one repository and
branch (or GitHub environment), allowed only to start, follow, abort and roll back this
stack's switches, never to approve one nor to become the approver; deployable with the
shipped samconfig.toml (CAPABILITY_IAM)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator.stack.template import Resolver, load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
ROLE = TEMPLATE["Resources"]["CiRole"]
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/example"
# What `bluegreen deploy/plan/status/abort/rollback` call, and nothing else.
OPERATOR_ACTIONS = {
    "states:StartExecution",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:StopExecution",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackResource",
    "lambda:InvokeFunction",  # the reaper only: `rollback` of a switch whose execution died
    "dynamodb:GetItem",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetHealth",
    "cloudwatch:DescribeAlarms",
}


def trust(provider: str, repository: str, branch: str = "main", **more: str) -> dict[str, Any]:
    """The role's trust statement as CloudFormation would create it for these parameters."""
    defaults = {k: str(v.get("Default", "")) for k, v in TEMPLATE["Parameters"].items()}
    parameters = {
        **defaults,
        "CiProvider": provider,
        "CiOidcProviderArn": PROVIDER,
        "CiRepository": repository,
        "CiBranch": branch,
        **more,
    }
    for name, value in parameters.items():  # what CloudFormation would refuse, refused here
        pattern = TEMPLATE["Parameters"][name].get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ValueError(f"CloudFormation refuses {name}={value!r}")
    resolver = Resolver("shop-prod", "eu-west-1", "123456789012", parameters)
    for name, expr in TEMPLATE["Conditions"].items():
        resolver.conditions[name] = resolver.evaluate_condition(expr)
    assert resolver.condition("CreateCiRole")
    document = resolver.resolve(ROLE["Properties"]["AssumeRolePolicyDocument"])
    if isinstance(document, str):  # a policy given as JSON text (GitLab's host-named keys)
        document = json.loads(document, object_pairs_hook=_no_duplicate_keys)
    (statement,) = document["Statement"]
    return dict(statement)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key given twice would be lost: {keys}"
    return dict(pairs)


def test_the_role_exists_only_when_a_ci_provider_is_chosen() -> None:
    assert TEMPLATE["Parameters"]["CiProvider"]["Default"] == "none"
    assert ROLE["Condition"] == "CreateCiRole"
    assert TEMPLATE["Outputs"]["CiRoleArn"]["Condition"] == "CreateCiRole"


def test_gitlab_jobs_of_one_project_and_branch_may_assume_it() -> None:
    statement = trust("gitlab", "acme/shop", "main")
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "gitlab.com:aud": "https://gitlab.com",
            "gitlab.com:sub": "project_path:acme/shop:ref_type:branch:ref:main",
        }
    }


def test_a_self_managed_gitlab_is_trusted_under_its_own_issuer_host() -> None:
    # Given a self-managed GitLab at gitlab.acme.example
    statement = trust("gitlab", "platform/shop", "main", CiGitLabHost="gitlab.acme.example")
    # Then its tokens' audience and subject are checked under that host's condition keys
    assert statement["Condition"] == {
        "StringEquals": {
            "gitlab.acme.example:aud": "https://gitlab.acme.example",
            "gitlab.acme.example:sub": "project_path:platform/shop:ref_type:branch:ref:main",
        }
    }
    assert statement["Principal"] == {"Federated": PROVIDER}


@pytest.mark.parametrize("host", ["https://gitlab.acme.example", "gitlab.acme.example/", "*"])
def test_the_gitlab_host_is_a_bare_host_name(host: str) -> None:
    with pytest.raises(ValueError, match="CloudFormation refuses CiGitLabHost"):
        trust("gitlab", "platform/shop", CiGitLabHost=host)


def test_github_workflows_of_one_repository_and_branch_may_assume_it() -> None:
    statement = trust("github", "acme/shop", "release")
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/shop:ref:refs/heads/release",
        }
    }


def test_github_jobs_of_one_deployment_environment_may_assume_it() -> None:
    # Given a workflow job with `environment: prod` (its subject names the environment,
    # not the branch)
    statement = trust("github", "acme/shop", CiEnvironment="prod")
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/shop:environment:prod",
        }
    }


def test_an_environment_is_refused_for_gitlab_by_a_template_rule() -> None:
    rule = TEMPLATE["Rules"]["CiEnvironmentIsForGitHub"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CiEnvironment"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "CiProvider"}, "github"]}


@pytest.mark.parametrize("provider", ["gitlab", "github"])
@pytest.mark.parametrize("branch", ["*", "release/*", "main?", "feature/**"])
def test_a_branch_wildcard_is_refused_in_ci_branch(provider: str, branch: str) -> None:
    # Given CiBranch with a wildcard, Then CloudFormation refuses the parameter
    with pytest.raises(ValueError, match="CloudFormation refuses CiBranch"):
        trust(provider, "acme/shop", branch)


@pytest.mark.parametrize(
    ("provider", "key", "subject"),
    [
        ("gitlab", "gitlab.com:sub", "project_path:acme/shop:ref_type:branch:ref:release/*"),
        (
            "github",
            "token.actions.githubusercontent.com:sub",
            "repo:acme/shop:ref:refs/heads/release/*",
        ),
    ],
)
def test_a_branch_pattern_is_an_explicit_opt_in_matched_with_string_like(
    provider: str, key: str, subject: str
) -> None:
    statement = trust(provider, "acme/shop", CiBranchPattern="release/*")
    assert statement["Condition"]["StringLike"] == {key: subject}
    assert key not in statement["Condition"]["StringEquals"]


@pytest.mark.parametrize("pattern", ["*", "**", "?", "*/main", "/x"])
def test_a_branch_pattern_that_matches_every_branch_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="CloudFormation refuses CiBranchPattern"):
        trust("github", "acme/shop", CiBranchPattern=pattern)


@pytest.mark.parametrize("environment", ["default", "staging", "prod"])
def test_the_shipped_samconfig_deploys_the_role_with_capability_iam(environment: str) -> None:
    # Given each shipped deploy configuration
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    capabilities = config[environment]["deploy"]["parameters"]["capabilities"].split()
    # Then the role has no fixed name (a named role needs CAPABILITY_NAMED_IAM, and would
    # collide between two stacks of one name in two regions), and CAPABILITY_IAM suffices
    assert "RoleName" not in ROLE["Properties"]
    assert "CAPABILITY_IAM" in capabilities
    named = [
        logical_id
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] in {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}
        and "RoleName" in resource.get("Properties", {})
    ]
    assert named == [] or "CAPABILITY_NAMED_IAM" in capabilities


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_it_may_only_operate_switches_of_this_stack() -> None:
    # Given the role's only policy
    (policy,) = ROLE["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    actions = {action for statement in allowed for action in _actions(statement)}
    # Then it grants exactly what the CLI calls to operate a switch
    assert actions == OPERATOR_ACTIONS
    # and only reads are granted on every resource
    on_star = [s for s in allowed if s["Resource"] == "*"]
    assert all(a.split(":")[1].startswith("Describe") for s in on_star for a in s["Action"])
    # and everything else names this stack's state machine, executions, functions, table
    for statement in allowed:
        if statement["Resource"] != "*":
            assert "*" not in str(statement["Resource"]).replace("switch:*", ""), statement


def test_it_never_approves_nor_becomes_the_approver() -> None:
    # Given the role's statements
    (policy,) = ROLE["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    # Then answering a task token and assuming any role are denied outright (whatever
    # else someone attaches to the role), and nothing allows them
    denied = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denied) == 1 and denied[0]["Resource"] == "*"
    assert set(_actions(denied[0])) == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "sts:AssumeRole",
    }
    granted = {a for s in statements if s["Effect"] == "Allow" for a in _actions(s)}
    assert not granted & set(_actions(denied[0]))
