"""The IAM reference gate passes the template and fails a deliberately wrong statement.

The template is transformed offline (as `make security` does) and every statement is
checked against the Service Authorization Reference (bluegreen_security.iam_gate); copies
of it with one wrong statement each must fail, naming the statement and the reason.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bluegreen_security import iam_gate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sam_cli = os.environ.get("SAM_CLI")
    python = Path(sam_cli).parent / "python" if sam_cli else ROOT / ".venv-sam" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} missing: `make test` builds the SAM CLI venv")
    out = tmp_path_factory.mktemp("cfn") / "template.json"
    subprocess.run(
        [str(python), str(ROOT / "client/bluegreen_security/transform.py"),
         str(ROOT / "template.yaml"), str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return loaded


def _with_statement(template: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    """A copy of the template whose Plan function role grants one more statement."""
    mutated = copy.deepcopy(template)
    role = mutated["Resources"]["PlanFunctionRole"]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"].append(statement)
    return mutated


def test_every_statement_of_the_template_agrees_with_the_reference(
    transformed: dict[str, Any],
) -> None:
    assert iam_gate.check(transformed) == []


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        (
            {
                "Effect": "Allow",
                "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:"
                             "${AWS::AccountId}:deploymentgroup:*"},
            },
            'has no resource type in the reference: it applies to Resource "*" only',
        ),
        (
            {"Effect": "Allow", "Action": "dynamodb:GetItem",
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:*:queue"}},
            "dynamodb:GetItem acts on arn:${Partition}:dynamodb:${Region}:${Account}:table/",
        ),
        (
            {"Effect": "Allow", "Action": "dynamodb:GetItems", "Resource": "*"},
            "dynamodb:GetItems is not an action of the Service Authorization Reference",
        ),
        (
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
             "Condition": {"StringEquals": {"dynamodb:LeadingKey": "LOCK#*"}}},
            "condition key dynamodb:LeadingKey is not defined for dynamodb:GetItem",
        ),
    ],
)  # fmt: skip
def test_a_wrong_statement_fails_the_gate_naming_it(
    transformed: dict[str, Any], statement: dict[str, Any], reason: str
) -> None:
    # Given a copy of the template with one wrong statement in the Plan function's role
    findings = iam_gate.check(_with_statement(transformed, statement))
    # Then the gate names the role's statement and why
    assert len(findings) == 1, findings
    assert findings[0].startswith("PlanFunctionRole.PlanFunctionRolePolicy0.Statement[1]: ")
    assert reason in findings[0]


def test_the_gate_command_exits_non_zero_on_a_finding(
    transformed: dict[str, Any], tmp_path: Path
) -> None:
    wrong = _with_statement(
        transformed, {"Effect": "Allow", "Action": "states:SendTaskSuccesses", "Resource": "*"}
    )
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(wrong), encoding="utf-8")
    assert iam_gate.main(["iam_gate", str(path)]) == 1
    good = tmp_path / "good.json"
    good.write_text(json.dumps(transformed), encoding="utf-8")
    assert iam_gate.main(["iam_gate", str(good)]) == 0
