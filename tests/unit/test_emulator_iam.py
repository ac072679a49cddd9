"""The emulator's IAM: policy evaluation and the requests a call becomes, as AWS documents.

No emulator here: the evaluator and the call-to-request mapping are pure functions of a
policy, a call and what the account knows (a stand-in `Account`).
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_emulator.services.iam.policy import NotEmulated, Request, arn_like, evaluate
from bluegreen_emulator.services.iam.requests import (
    PASSED_ROLES,
    RESOURCE_PARAMETERS,
    Call,
    requests_for,
    values_at,
)
from bluegreen_security import reference

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/bluegreen-HookRole"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/deployments"


class Account:
    account_id = "123456789012"
    region = "us-east-1"

    def __init__(self, tags: dict[str, dict[str, str]] | None = None) -> None:
        self._tags = tags or {}

    def partition_key(self, table: str) -> str | None:
        return "pk" if table == "deployments" else None

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None:
        return ("shop", "shop-dg") if deployment_id == "d-1" else None

    def tags(self, arn: str) -> dict[str, str]:
        return self._tags.get(arn, {})


def _allowed(statements: list[dict[str, Any]], call: Call, account: Any = None) -> bool:
    numbered = [(f"#{i}", s) for i, s in enumerate(statements)]
    requests = requests_for(call, ROLE, account or Account())
    return all(evaluate(numbered, r).allowed for r in requests)


def _get(pk: str) -> Call:
    return Call("dynamodb", "GetItem", {"TableName": "deployments", "Key": {"pk": {"S": pk}}})


# -- evaluation -----------------------------------------------------------------------------
def test_nothing_is_allowed_without_an_allow_and_an_explicit_deny_wins() -> None:
    allow = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
    assert not _allowed([], _get("LOCK#1"))
    assert _allowed([allow], _get("LOCK#1"))
    assert not _allowed([allow, deny], _get("LOCK#1"))


def test_actions_match_case_insensitively_resources_case_sensitively_per_segment() -> None:
    statement = {"Effect": "Allow", "Action": "DynamoDB:get*", "Resource": TABLE.upper()}
    assert not _allowed([statement], _get("x"))  # the ARN differs in case
    statement["Resource"] = "arn:aws:dynamodb:*:*:table/deploy*"
    assert _allowed([statement], _get("x"))
    # a `*` in the region segment does not reach into the resource segment
    assert not arn_like("arn:aws:dynamodb:*", TABLE)
    assert arn_like("arn:aws:codedeploy:us-east-1:1:*", "arn:aws:codedeploy:us-east-1:1:a:b/c")


def test_an_action_without_resource_types_is_allowed_only_on_star() -> None:
    # Given PutLifecycleEventHookExecutionStatus, which the reference lists with no resource
    call = Call(
        "codedeploy",
        "PutLifecycleEventHookExecutionStatus",
        {"deploymentId": "d-1", "lifecycleEventHookExecutionId": "e", "status": "Succeeded"},
    )
    scoped = {
        "Effect": "Allow",
        "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
        "Resource": "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*",
    }
    # Then a statement scoped to deployment groups never applies; only "*" does
    assert not _allowed([scoped], call)
    assert _allowed([{**scoped, "Resource": "*"}], call)


def test_leading_keys_scope_item_access_by_partition_key() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query"],
        "Resource": TABLE,
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["HOOKCONFIG#*"]}},
    }
    assert _allowed([statement], _get("HOOKCONFIG#d-1"))
    assert not _allowed([statement], _get("LOCK#listener"))
    query = Call(
        "dynamodb",
        "Query",
        {
            "TableName": "deployments",
            "KeyConditionExpression": "#k = :v AND sk > :s",
            "ExpressionAttributeNames": {"#k": "pk"},
            "ExpressionAttributeValues": {":v": {"S": "LOCK#x"}, ":s": {"S": "a"}},
        },
    )
    assert not _allowed([statement], query)


def test_a_transaction_needs_each_items_action_with_its_own_leading_key() -> None:
    put = {
        "Effect": "Allow",
        "Action": "dynamodb:PutItem",
        "Resource": TABLE,
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LOCK#*"]}},
    }
    items = [
        {"Put": {"TableName": "deployments", "Item": {"pk": {"S": "LOCK#a"}}}},
        {"Put": {"TableName": "deployments", "Item": {"pk": {"S": "DEPLOY#b"}}}},
    ]
    call = Call("dynamodb", "TransactWriteItems", {"TransactItems": items})
    assert not _allowed([put], call)
    assert _allowed([put], Call("dynamodb", "TransactWriteItems", {"TransactItems": items[:1]}))


def test_condition_operators_follow_aws_when_a_key_is_missing() -> None:
    call = Call("ssm", "GetParameter", {"Name": "/bluegreen/hooks/shop"})
    base = {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}
    # aws:ResourceTag/team is absent: positive fails, negated and IfExists hold, Null true
    assert not _allowed(
        [{**base, "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}}], call
    )
    assert _allowed(
        [{**base, "Condition": {"StringNotEquals": {"aws:ResourceTag/team": "a"}}}], call
    )
    assert _allowed(
        [{**base, "Condition": {"StringEqualsIfExists": {"aws:ResourceTag/team": "a"}}}], call
    )
    assert _allowed([{**base, "Condition": {"Null": {"aws:ResourceTag/team": "true"}}}], call)


def test_resource_tags_come_from_the_resource() -> None:
    listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2"
    call = Call("elasticloadbalancing", "ModifyListener", {"ListenerArn": listener})
    statement = {
        "Effect": "Allow",
        "Action": "elasticloadbalancing:ModifyListener",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/bluegreen:managed": "true"}},
    }
    assert not _allowed([statement], call, Account())
    assert _allowed([statement], call, Account({listener: {"bluegreen:managed": "true"}}))


def test_passing_a_role_needs_pass_role_to_that_service() -> None:
    hook_role = "arn:aws:iam::123456789012:role/ecs-hook"
    call = Call(
        "ecs",
        "UpdateService",
        {
            "cluster": "web",
            "service": "web",
            "deploymentConfiguration": {"lifecycleHooks": [{"roleArn": hook_role}]},
        },
    )
    update = {"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"}
    passrole = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": hook_role,
        "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    }
    assert not _allowed([update], call)
    assert not _allowed([update, passrole], call)  # passed to ECS, not Lambda
    passrole["Condition"] = {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}
    assert _allowed([update, passrole], call)


def test_a_condition_key_the_emulator_cannot_know_is_refused_by_name() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "dynamodb:GetItem",
        "Resource": TABLE,
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk"]}},
    }
    with pytest.raises(NotEmulated, match="dynamodb:Attributes"):
        _allowed([statement], _get("x"))


# -- resources, from the reference and the small tables -----------------------------------
@pytest.mark.parametrize(
    ("call", "resources"),
    [
        (_get("x"), [TABLE]),
        (
            Call("codedeploy", "GetDeployment", {"deploymentId": "d-1"}),
            ["arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:shop/shop-dg"],
        ),
        (
            Call(
                "ecs",
                "StopServiceDeployment",
                {"serviceDeploymentArn": "arn:aws:ecs:us-east-1:1:service-deployment/c/s/9"},
            ),
            [
                "arn:aws:ecs:us-east-1:123456789012:service/c/s",
                "arn:aws:ecs:us-east-1:1:service-deployment/c/s/9",
            ],
        ),
        (
            Call("events", "PutEvents", {"Entries": [{"Source": "s", "DetailType": "d"}]}),
            ["arn:aws:events:us-east-1:123456789012:event-bus/default"],
        ),
        (
            Call("lambda", "Invoke", {"FunctionName": "arn:aws:lambda:us-east-1:1:function:f:3"}),
            ["arn:aws:lambda:us-east-1:1:function:f"],
        ),
        (Call("elasticloadbalancing", "DescribeListeners", {}), ["*"]),
    ],
)
def test_each_call_is_authorized_on_the_resources_it_names(
    call: Call, resources: list[str]
) -> None:
    found = sorted(r.resource for r in requests_for(call, ROLE, Account()))
    assert found == sorted(resources)


def test_every_table_entry_names_a_resource_type_the_reference_defines() -> None:
    # Given the hand-written tables (request parameter -> resource), kept small
    assert len(RESOURCE_PARAMETERS) <= 15
    for service, key in RESOURCE_PARAMETERS:
        assert reference.resource_type(service, key).arn_format.startswith("arn:")
    for service, operation in PASSED_ROLES:
        assert reference.action(f"{service}:{operation}") is not None, (service, operation)


def test_values_at_walks_lists() -> None:
    params = {"a": [{"b": {"c": 1}}, {"b": {"c": 2}}, {"x": 3}]}
    assert values_at(params, "a[].b.c") == [1, 2]
    assert values_at(params, "missing.b") == []


def test_a_request_for_an_action_the_reference_lacks_is_refused() -> None:
    with pytest.raises(NotEmulated, match="not an action"):
        requests_for(Call("dynamodb", "NoSuchOperation", {}), ROLE, Account())
    assert Request("x:Y", "*").resource == "*"
