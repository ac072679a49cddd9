"""The IAM reference gate: every statement of the template, checked against AWS's own data.

    .venv/bin/python -m bluegreen_security.iam_gate .aws-sam/security/template.json

For each statement of each policy document of the transformed (CloudFormation) template,
against the Service Authorization Reference (bluegreen_security.reference, the same data
the emulator enforces with):

- every action exists (a pattern names at least one action);
- every action can apply to one of the statement's resources: one of them matches one of
  the action's resource types' ARN formats (segment by segment), and an action with no
  resource type is granted on "*" (a statement scoped to ARNs never applies to it);
- every condition key is a global key or one the reference defines for the statement's
  actions or their resource types.

Prints one line per finding and exits 1 if there is any.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from . import reference
from .policies import as_list, policy_documents

# What Fn::GetAtt <X>.Arn / Ref <X> is, by the type of X, as an ARN glob
_ARN_OF_TYPE = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:*:*:table/*",
    "AWS::Lambda::Function": "arn:aws:lambda:*:*:function:*",
    "AWS::SQS::Queue": "arn:aws:sqs:*:*:*",
    "AWS::SNS::Topic": "arn:aws:sns:*:*:*",
    "AWS::IAM::Role": "arn:aws:iam::*:role/*",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:*:*:stateMachine:*",
    "AWS::Events::EventBus": "arn:aws:events:*:*:event-bus/*",
    "AWS::Logs::LogGroup": "arn:aws:logs:*:*:log-group:*",
}
_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def resource_glob(value: Any, resources: Mapping[str, Any]) -> str | None:
    """A Resource entry as an ARN glob (unknown parts are `*`); None if unreadable."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    ((key, arg),) = value.items()
    if key == "Fn::Sub":
        text = as_list(arg)[0]
        return re.sub(r"\$\{([^}]+)\}", lambda m: _PSEUDO.get(m.group(1), "*"), str(text)).replace(
            "**", "*"
        )
    if key == "Ref" and arg == "AWS::StackId":
        return "arn:aws:cloudformation:*:*:stack/*"
    target = str(as_list(arg)[0]).split(".")[0] if key in {"Fn::GetAtt", "Ref"} else None
    if target and target in resources:
        return _ARN_OF_TYPE.get(resources[target]["Type"])
    return None


def _actions(statement: Mapping[str, Any]) -> tuple[list[str], list[reference.Action]]:
    unknown, found = [], []
    for pattern in as_list(statement.get("Action")):
        matched = reference.actions_matching(str(pattern))
        if not matched:
            unknown.append(str(pattern))
        found += matched
    return unknown, found


def check_statement(
    where: str, statement: Mapping[str, Any], resources: Mapping[str, Any]
) -> Iterator[str]:
    unknown, actions = _actions(statement)
    for name in unknown:
        yield f"{where}: {name} is not an action of the Service Authorization Reference"
    globs = [resource_glob(entry, resources) for entry in as_list(statement.get("Resource"))]
    if "Resource" in statement and "*" not in globs and None not in globs:
        yield from _resource_findings(where, actions, [g for g in globs if g])
    defined = reference.GLOBAL_CONDITION_KEYS + tuple(
        key for action in actions for key in action.all_condition_keys()
    )
    for keys in (statement.get("Condition") or {}).values():
        for key in keys:
            if actions and not reference.condition_key_defined(key, defined):
                names = sorted({a.full_name for a in actions})
                yield f"{where}: condition key {key} is not defined for {', '.join(names)}"


def _resource_findings(
    where: str, actions: list[reference.Action], globs: list[str]
) -> Iterator[str]:
    """Each action must be able to apply to one of the statement's resources."""
    for action in actions:
        if not action.resource_types:
            yield (
                f"{where}: {action.full_name} has no resource type in the reference: "
                f'it applies to Resource "*" only, never to {", ".join(globs)}'
            )
            continue
        kinds = action.resources()
        if not any(reference.arn_globs_overlap(g, r.arn_pattern) for g in globs for r in kinds):
            formats = ", ".join(r.arn_format for r in kinds)
            yield f"{where}: {action.full_name} acts on {formats}, never on {', '.join(globs)}"


def check(template: Mapping[str, Any]) -> list[str]:
    resources = template["Resources"]
    return [
        finding
        for where, statement in policy_documents(template)
        for finding in check_statement(where, statement, resources)
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    template = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    findings = check(template)
    for finding in findings:
        print(finding, file=sys.stderr)
    count = sum(1 for _ in policy_documents(template))
    print(
        f"IAM reference gate: {count} statements checked against the Service Authorization "
        f"Reference {reference.data_version()}: {len(findings)} finding(s)"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
