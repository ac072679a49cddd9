"""Facts about template.yaml, the state machine definition and samconfig.toml.

What a reviewer of the SAM bundle would check by hand: the runtime and architecture, the
layer SAM builds, the Standard state machine wired from its file, the table's durability
settings, substitutions that match both ways, no wildcard actions, and deploy
environments whose parameter values the template accepts.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator.stack.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBAL_FUNCTION = TEMPLATE["Globals"]["Function"]
FUNCTIONS = {k: r for k, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
STATE_MACHINES = {
    k: r for k, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::StateMachine"
}
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
ENVIRONMENTS = ("default", "staging", "prod")


def test_the_template_is_a_sam_template() -> None:
    assert TEMPLATE["Transform"] == "AWS::Serverless-2016-10-31"
    assert TEMPLATE["AWSTemplateFormatVersion"] == "2010-09-09"


def test_functions_default_to_python_313_on_arm64_with_powertools_configured() -> None:
    assert GLOBAL_FUNCTION["Runtime"] == "python3.13"
    assert GLOBAL_FUNCTION["Architectures"] == [{"Ref": "Architecture"}]
    architecture = TEMPLATE["Parameters"]["Architecture"]
    assert architecture["Default"] == "arm64"
    assert sorted(architecture["AllowedValues"]) == ["arm64", "x86_64"]
    assert 1 <= GLOBAL_FUNCTION["Timeout"] <= 900
    env = GLOBAL_FUNCTION["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "bluegreen"
    assert env["POWERTOOLS_METRICS_NAMESPACE"]
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert {"Ref": "CoreLayer"} in GLOBAL_FUNCTION["Layers"]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_keeps_the_global_runtime_and_has_its_handler(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]["Properties"]
    # the global runtime and architecture are not overridden function by function
    assert props.get("Runtime", "python3.13") == "python3.13"
    assert "Architectures" not in props
    # and the handler named in the template is defined in the CodeUri folder
    module, _, attribute = props["Handler"].rpartition(".")
    source = ROOT / props["CodeUri"] / f"{module.replace('.', '/')}.py"
    assert source.is_file(), f"{logical_id}: {source} does not exist"
    defined = {
        node.name
        for node in ast.parse(source.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    } | {
        target.id
        for node in ast.parse(source.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in defined, f"{logical_id}: {props['Handler']} is not defined in {source}"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_a_log_group_with_retention(logical_id: str) -> None:
    groups = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Logs::LogGroup"
        and r["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"}
    ]
    assert len(groups) == 1, f"{logical_id} needs one /aws/lambda log group"
    assert groups[0]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_core_layer_is_built_by_sam_with_its_pinned_requirements() -> None:
    layer = RESOURCES["CoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    # built for the functions' architecture (SAM resolves the Ref in Metadata too)
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "bluegreen" / "__init__.py").is_file()
    requirements = (content / "requirements.txt").read_text(encoding="utf-8").split()
    assert any(r.startswith("aws-lambda-powertools==") for r in requirements)
    assert all("==" in r for r in requirements if not r.startswith("#")), "pin every requirement"


def test_the_switch_is_a_standard_state_machine_from_its_file_with_logging() -> None:
    machine = RESOURCES["SwitchStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    assert "Definition" not in machine, "one definition, in its file"
    assert (ROOT / machine["DefinitionUri"]).is_file()
    assert machine["DefinitionSubstitutions"]
    logging = machine["Logging"]
    assert logging["Level"] in {"ALL", "ERROR", "FATAL"}
    (destination,) = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["SwitchStateMachineLogGroup", "Arn"]
    }


@pytest.mark.parametrize("logical_id", sorted(STATE_MACHINES))
def test_substitutions_and_the_definition_match_both_ways(logical_id: str) -> None:
    machine = STATE_MACHINES[logical_id]["Properties"]
    text = (ROOT / machine["DefinitionUri"]).read_text(encoding="utf-8")
    json.loads(text)
    used = set(re.findall(r"\$\{([^}]+)\}", text))
    declared = set(machine.get("DefinitionSubstitutions", {}))
    assert used - declared == set(), "placeholders in the definition with no substitution"
    assert declared - used == set(), "substitutions the definition never uses"


def test_the_deployments_table_is_on_demand_recoverable_expiring_and_encrypted() -> None:
    table = RESOURCES["DeploymentsTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain", "deployment history outlives the stack"


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item)


def test_no_policy_allows_every_action() -> None:
    statements = list(_statements(RESOURCES))
    assert statements, "the template declares policies"
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        assert "*" not in actions, f"Action '*' in {statement}"
        assert "NotAction" not in statement, f"NotAction grants everything else: {statement}"


# -- samconfig.toml ----------------------------------------------------------------------------
def _overrides(environment: str) -> dict[str, str]:
    raw = SAMCONFIG[environment]["deploy"]["parameters"].get("parameter_overrides", "")
    return dict(pair.split("=", 1) for pair in shlex.split(raw))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_deploys_its_own_stack_with_iam_capability(environment: str) -> None:
    deploy = SAMCONFIG[environment]["deploy"]["parameters"]
    assert deploy["stack_name"] == (
        "bluegreen-dev" if environment == "default" else f"bluegreen-{environment}"
    )
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert SAMCONFIG[environment]["global"]["parameters"]["region"]
    build = SAMCONFIG[environment]["build"]["parameters"]
    assert (build["cached"], build["parallel"]) == (True, True)


def test_only_prod_asks_before_executing_a_change_set() -> None:
    confirm = {e: SAMCONFIG[e]["deploy"]["parameters"]["confirm_changeset"] for e in ENVIRONMENTS}
    assert confirm == {"default": False, "staging": False, "prod": True}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_parameter_overrides_are_values_the_template_accepts(environment: str) -> None:
    declared = TEMPLATE["Parameters"]
    for name, value in _overrides(environment).items():
        assert name in declared, f"{environment}: {name} is not a template parameter"
        spec = declared[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], f"{environment}: {name}"
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), f"{environment}: {name}"
        if "MinValue" in spec:
            assert float(value) >= float(spec["MinValue"]), f"{environment}: {name}"
