"""IAM facts of the transformed (plain CloudFormation) template.

Every function's role, the statements it grants (inline policies and `AWS::IAM::Policy`
resources attached to it) and its managed policies; every policy document in the
template (roles, policies, resource policies such as an SQS queue policy).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import reference

# Allowed on Resource "*" (where the template says why): reads of control-plane metadata
# (Describe/List/Get, but no data reads: items, objects, parameters, secrets, keys) and
# the actions IAM cannot scope to a resource at all.
STAR_ALLOWED = re.compile(
    r"^(?:(?!dynamodb:|s3:|ssm:|secretsmanager:|kms:|sqs:)[a-z0-9-]+:(?:Describe|List|Get)[A-Za-z]*"
    r"|cloudwatch:GetMetricData|cloudwatch:PutMetricData|ecs:RegisterTaskDefinition"
    r"|logs:(?:CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery"
    r"|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)"
    r"|xray:(?:PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets"
    r"|GetSamplingStatisticSummaries))$"
)


def star_allowed(action: str) -> bool:
    """Whether granting `action` on Resource "*" is least privilege: a control-plane read,
    or an action the Service Authorization Reference lists with no resource type (AWS
    authorizes those on "*" only)."""
    if STAR_ALLOWED.match(action):
        return True
    found = reference.action(action)
    return found is not None and not found.resource_types


# What SAM attaches to every function: CloudWatch Logs and X-Ray, runtime plumbing that
# the function's code never calls itself.
RUNTIME_MANAGED_POLICIES = frozenset(
    {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    }
)
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class FunctionFacts:
    logical_id: str
    code_uri: Path
    handler: str
    memory_mb: int
    role_id: str
    statements: tuple[dict[str, Any], ...]
    managed_policies: tuple[str, ...]
    # What Lambda itself does with the role: deliver to its async destinations / DLQ
    runtime_actions: frozenset[str] = frozenset()

    @property
    def granted_actions(self) -> set[str]:
        return {
            action
            for statement in self.statements
            if statement.get("Effect") == "Allow"
            for action in as_list(statement.get("Action"))
        }


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(as_list(value["Fn::GetAtt"])[0]).split(".")[0]
    return None


def functions(template: Mapping[str, Any], root: Path) -> list[FunctionFacts]:
    resources = template["Resources"]
    facts = []
    for logical_id, resource in sorted(resources.items()):
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        role_id = ref_id(properties.get("Role"))
        if role_id is None or role_id not in resources:
            raise ValueError(f"{logical_id}: its role is not a role of this template")
        role = resources[role_id]["Properties"]
        statements = [
            statement
            for policy in role.get("Policies", [])
            for statement in as_list(policy["PolicyDocument"]["Statement"])
        ]
        statements += _attached_statements(resources, role_id)
        local = [ref_id(arn) for arn in role.get("ManagedPolicyArns", [])]
        statements += [  # the stack's own managed policies (Ref: their ARN) the role attaches
            statement
            for ref in local
            if ref in resources and resources[ref]["Type"] == "AWS::IAM::ManagedPolicy"
            for statement in as_list(resources[ref]["Properties"]["PolicyDocument"]["Statement"])
        ]
        code_uri = resource.get("Metadata", {}).get("bluegreen:CodeUri")
        if code_uri is None:
            raise ValueError(f"{logical_id}: no bluegreen:CodeUri (use the offline transform)")
        facts.append(
            FunctionFacts(
                logical_id=logical_id,
                code_uri=root / code_uri,
                handler=properties["Handler"],
                memory_mb=int(properties.get("MemorySize", 128)),
                role_id=role_id,
                statements=tuple(statements),
                managed_policies=tuple(
                    _plain(arn) for arn in role.get("ManagedPolicyArns", []) if ref_id(arn) is None
                ),
                runtime_actions=_delivery_actions(resources, logical_id),
            )
        )
    return facts


_DELIVERY = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction",
             "events": "events:PutEvents"}  # fmt: skip


_KINDS = {"AWS::SQS::Queue": "sqs", "AWS::SNS::Topic": "sns", "AWS::Lambda::Function": "lambda",
          "AWS::Events::EventBus": "events"}  # fmt: skip


def _delivery_actions(resources: Mapping[str, Any], function_id: str) -> frozenset[str]:
    """Actions Lambda performs with the function's role to deliver async results: the
    on-success/on-failure destinations of its EventInvokeConfig and its dead-letter queue."""
    targets = []
    function = resources[function_id]["Properties"]
    targets.append(function.get("DeadLetterConfig", {}).get("TargetArn"))
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        if ref_id(properties.get("FunctionName")) != function_id:
            continue
        for outcome in ("OnSuccess", "OnFailure"):
            targets.append(
                properties.get("DestinationConfig", {}).get(outcome, {}).get("Destination")
            )
    actions = set()
    for target in targets:
        if target is None:
            continue
        kind = _target_kind(resources, target)
        if kind in _DELIVERY:
            actions.add(_DELIVERY[kind])
    return frozenset(actions)


def _target_kind(resources: Mapping[str, Any], target: Any) -> str | None:
    ref = ref_id(target)
    if ref is not None and ref in resources:
        return _KINDS.get(resources[ref]["Type"])
    if isinstance(target, str) and target.startswith("arn:"):
        return target.split(":")[2]
    return None


def _attached_statements(resources: Mapping[str, Any], role_id: str) -> list[dict[str, Any]]:
    found = []
    for resource in resources.values():
        if resource["Type"] not in POLICY_TYPES:
            continue
        roles = {ref_id(r) for r in as_list(resource["Properties"].get("Roles"))}
        if role_id in roles:
            found += as_list(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def _plain(arn: Any) -> str:
    """A managed policy ARN with `${AWS::Partition}` read as `aws`."""
    if isinstance(arn, Mapping) and "Fn::Sub" in arn:
        arn = as_list(arn["Fn::Sub"])[0]
    return str(arn).replace("${AWS::Partition}", "aws")


def policy_documents(template: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, statement) for every statement of every policy document in the template."""
    for logical_id, resource in sorted(template["Resources"].items()):
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents += [
                (p.get("PolicyName", "?"), p["PolicyDocument"])
                for p in properties.get("Policies", [])
            ]
        if "PolicyDocument" in properties:
            documents.append(("PolicyDocument", properties["PolicyDocument"]))
        for name, document in documents:
            for index, statement in enumerate(as_list(document.get("Statement"))):
                yield f"{logical_id}.{name}.Statement[{index}]", statement
