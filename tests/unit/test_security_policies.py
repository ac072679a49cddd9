"""Least privilege, proven on the template CloudFormation would deploy.

The SAM template is transformed offline (aws-sam-translator, in the SAM CLI's venv) and
every policy in the result is checked: no `Action: "*"`, no write action on
`Resource: "*"`, and each function's role grants exactly the AWS calls its code can make
(found statically from the handler through the layer: see bluegreen_security.calls).
Functions are read from the template, so a new function is checked as soon as it exists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from bluegreen_security import calls, policies
from bluegreen_security.transform import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION_IDS = sorted(
    logical_id
    for logical_id, resource in load_template(TEMPLATE)["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
)


# Calls the code contains but which data never takes in this function: the static
# analysis cannot see that, so each is named here with the reason. Keep this list short.
NOT_TAKEN = {
    ("TestTrafficFunction", "elasticloadbalancing:ModifyRule"):
        "traffic.write serves rules too, but the test listener is always a listener route",
    ("BeforeInstallHookFunction", "ecs:DescribeServices"):
        "CodeDeploy hooks check the replacement task set; the service path is ECS-native's",
    ("AfterInstallHookFunction", "ecs:DescribeServices"): "as BeforeInstall",
    ("AfterAllowTestTrafficHookFunction", "ecs:DescribeServices"): "as BeforeInstall",
    ("BeforeAllowTrafficHookFunction", "ecs:DescribeServices"): "as BeforeInstall",
    ("AfterAllowTrafficHookFunction", "ecs:DescribeServices"): "as BeforeInstall",
    ("EcsNativeHookFunction", "ecs:DescribeTaskSets"):
        "ECS-native deployments have no task sets: the check takes the service-revision path",
    ("EcsStartFunction", "elasticloadbalancing:ModifyListener"):
        "an ECS start restores only the ECS adapters' deployments; `restore` also names the"
        " ALB adapter's method, which it never calls",
    ("EcsStartFunction", "elasticloadbalancing:ModifyRule"): "as ModifyListener",
}  # fmt: skip


def _sam_python() -> Path:
    sam_cli = os.environ.get("SAM_CLI")
    return Path(sam_cli).parent / "python" if sam_cli else ROOT / ".venv-sam" / "bin" / "python"


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """template.yaml as plain CloudFormation (transformed offline, ~0.4 s)."""
    python = _sam_python()
    if not python.exists():
        if os.environ.get("SAM_CLI"):
            pytest.fail(f"{python} missing: the SAM CLI venv must hold aws-sam-translator")
        pytest.skip("needs .venv-sam for aws-sam-translator: `make test` builds it")
    out = tmp_path_factory.mktemp("cfn") / "template.json"
    subprocess.run(
        [
            str(python),
            str(ROOT / "client/bluegreen_security/transform.py"),
            str(TEMPLATE),
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def functions(transformed: dict[str, Any]) -> dict[str, policies.FunctionFacts]:
    return {f.logical_id: f for f in policies.functions(transformed, ROOT)}


# -- every policy document ---------------------------------------------------------------
def test_no_statement_allows_every_action_of_a_service_or_of_aws(
    transformed: dict[str, Any],
) -> None:
    # Given every policy statement CloudFormation would create
    # When their actions are read
    wildcards = [
        f"{where}: {action}"
        for where, statement in policies.policy_documents(transformed)
        for action in policies.as_list(statement.get("Action"))
        if action == "*" or str(action).endswith(":*")
    ]
    inverted = [
        where
        for where, statement in policies.policy_documents(transformed)
        if statement.get("Effect") == "Allow"
        and ("NotAction" in statement or "NotResource" in statement)
    ]
    # Then none grants `*` or `service:*`, and none allows by exclusion
    assert wildcards == []
    assert inverted == []


def test_nothing_writes_on_every_resource(transformed: dict[str, Any]) -> None:
    # Given every Allow statement on Resource "*"
    on_star = [
        (where, action)
        for where, statement in policies.policy_documents(transformed)
        if statement.get("Effect") == "Allow" and "*" in policies.as_list(statement.get("Resource"))
        for action in policies.as_list(statement.get("Action"))
    ]
    # Then each action is a read (Describe/List) or one IAM cannot scope to a resource
    # (the Service Authorization Reference lists no resource type for it)
    writes = [
        f"{where}: {action}" for where, action in on_star if not policies.star_allowed(action)
    ]
    assert writes == []
    assert on_star, "the template has no statement on '*' at all: is this the right template?"


def test_every_resource_star_in_the_template_says_why() -> None:
    # Given the template's source lines that grant on Resource "*"
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    star = re.compile(r"""^\s*(Resource:\s*|-\s*)["']\*["']""")
    uncommented = [
        f"template.yaml:{n}: {line.strip()}"
        for n, line in enumerate(lines, 1)
        if star.match(line) and "#" not in line
    ]
    # Then each carries a comment saying why nothing narrower is possible
    assert uncommented == []


# -- each function's role against its code ------------------------------------------------
@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_each_function_is_granted_exactly_the_aws_calls_its_code_makes(
    functions: dict[str, policies.FunctionFacts], logical_id: str
) -> None:
    # Given the function's role, and the AWS calls reachable from its handler
    function = functions[logical_id]
    made = calls.calls_of(function.code_uri, function.handler)
    granted = function.granted_actions

    # Then every call the code makes is granted (bar the named paths it never takes)
    missing = sorted(
        f"{c.action} (at {c.where})"
        for c in made
        if not c.actions & granted and (logical_id, c.action) not in NOT_TAKEN
    )
    assert missing == [], f"{logical_id} calls what its role does not grant"
    # and every granted action is one the code calls, one AWS checks for such a call, or
    # one Lambda itself uses to deliver the function's async results
    justified = set(function.runtime_actions)
    for call in made:
        justified |= call.actions | call.implied
    unused = sorted(granted - justified)
    assert unused == [], f"{logical_id} grants what its code never calls"
    # and its managed policies are only the Lambda runtime's logs/tracing plumbing
    assert set(function.managed_policies) <= policies.RUNTIME_MANAGED_POLICIES


def test_every_function_of_the_template_is_checked(
    functions: dict[str, policies.FunctionFacts],
) -> None:
    # The parametrised test above covers the SAM functions; the transform adds none unseen
    assert sorted(functions) == FUNCTION_IDS
    assert FUNCTION_IDS, "no function found in template.yaml"


# -- the analysis itself can see what it claims to see ------------------------------------
def test_the_call_finder_sees_direct_calls_paginators_callbacks_and_methods(
    tmp_path: Path,
) -> None:
    # Given a handler that calls AWS four ways: directly on a client, through a
    # paginator, through a function kept in a dict, and through a method of a class
    (tmp_path / "app.py").write_text(
        dedent(
            """
            from bluegreen.aws import Clients
            clients = Clients()

            def _describe(elbv2):
                return elbv2.describe_listeners(ListenerArns=[])

            CHECKS = {"listeners": _describe}

            class Store:
                def __init__(self, dynamodb):
                    self.dynamodb = dynamodb
                def save(self, item):
                    self.dynamodb.put_item(TableName="t", Item=item)

            def handler(event, context):
                store = Store(clients.dynamodb)
                store.save({})
                pages = clients.cloudwatch.get_paginator("describe_alarms")
                CHECKS["listeners"](clients.elbv2)
                return list(pages.paginate())

            def unused(event, context):
                clients.elbv2.modify_listener(ListenerArn="x")
            """
        ),
        encoding="utf-8",
    )
    # When its calls are found
    found = {c.action for c in calls.calls_of(tmp_path, "app.handler")}
    # Then all four are there, and nothing the handler cannot reach
    assert found == {
        "elasticloadbalancing:DescribeListeners",
        "dynamodb:PutItem",
        "cloudwatch:DescribeAlarms",
    }


def test_every_named_exception_is_still_needed(
    functions: dict[str, policies.FunctionFacts],
) -> None:
    # Given each (function, action) the list above excuses
    stale = []
    for (logical_id, action), _reason in NOT_TAKEN.items():
        function = functions.get(logical_id)
        made = calls.calls_of(function.code_uri, function.handler) if function else set()
        # Then the function still exists, its code still contains the call, and its role
        # still does not grant it (else the excuse is dead and must go)
        if not any(c.action == action for c in made) or action in function.granted_actions:  # type: ignore[union-attr]
            stale.append((logical_id, action))
    assert stale == []


def test_a_policy_that_grants_more_than_the_code_calls_is_caught(
    functions: dict[str, policies.FunctionFacts],
) -> None:
    # Given the Plan function (read-only) and a role that also grants ModifyListener
    plan = functions["PlanFunction"]
    made = calls.calls_of(plan.code_uri, plan.handler)
    widened = plan.granted_actions | {"elasticloadbalancing:ModifyListener"}
    # Then the comparison used above names the extra action
    needed = set().union(*(c.actions for c in made))
    assert widened - needed == {"elasticloadbalancing:ModifyListener"}


if __name__ == "__main__":  # pragma: no cover - `python tests/unit/test_security_policies.py`
    sys.exit(pytest.main([__file__, "-q"]))


# -- the state machine's role against its definition --------------------------------------
LOG_DELIVERY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}  # fmt: skip


def _task_resources(states: dict[str, Any]) -> list[str]:
    found = []
    for state in states.values():
        if isinstance(state.get("Resource"), str):
            found.append(state["Resource"])
        for branch in state.get("Branches", []):
            found += _task_resources(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found += _task_resources(state[key]["States"])
    return found


def _integration_action(resource: str) -> str:
    """`arn:aws:states:::lambda:invoke.waitForTaskToken` -> `lambda:InvokeFunction`."""
    service_action = resource.split(":::", 1)[1].split(".", 1)[0]
    if service_action.startswith("aws-sdk:"):
        service_action = service_action.removeprefix("aws-sdk:")
    service, _, action = service_action.partition(":")
    if (service, action) == ("lambda", "invoke"):
        return "lambda:InvokeFunction"
    return f"{service}:{action[:1].upper()}{action[1:]}"


@pytest.mark.parametrize(
    "logical_id",
    sorted(
        logical_id
        for logical_id, resource in load_template(TEMPLATE)["Resources"].items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    ),
)
def test_each_state_machine_may_invoke_exactly_the_functions_and_services_it_uses(
    transformed: dict[str, Any], logical_id: str
) -> None:
    # Given the machine's definition (its file, with its substitutions) and its role
    sam = load_template(TEMPLATE)["Resources"][logical_id]["Properties"]
    definition_text = (ROOT / sam["DefinitionUri"]).read_text(encoding="utf-8")
    substitutions = sam.get("DefinitionSubstitutions", {})
    used_functions = {
        value["Fn::GetAtt"][0]
        for name, value in substitutions.items()
        if f"${{{name}}}" in definition_text
        and isinstance(value, dict)
        and "Fn::GetAtt" in value
        and transformed["Resources"][value["Fn::GetAtt"][0]]["Type"] == "AWS::Lambda::Function"
    }
    needed = {
        _integration_action(r)
        for r in _task_resources(json.loads(definition_text)["States"])
        if r.startswith("arn:aws:states:::")
    }
    role_id = policies.ref_id(transformed["Resources"][logical_id]["Properties"]["RoleArn"])
    role = transformed["Resources"][role_id]["Properties"]
    statements = [
        statement
        for policy in role.get("Policies", [])
        for statement in policies.as_list(policy["PolicyDocument"]["Statement"])
    ]
    granted = {a for s in statements for a in policies.as_list(s["Action"])}
    invocable = {
        policies.ref_id(r)
        for s in statements
        if "lambda:InvokeFunction" in policies.as_list(s["Action"])
        for r in policies.as_list(s["Resource"])
    }

    # Then it may invoke exactly the functions its definition names
    assert invocable == used_functions
    # and it is granted exactly the service integrations its states use (plus log delivery)
    assert granted - LOG_DELIVERY == needed
