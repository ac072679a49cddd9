"""Deploy this project's SAM template, and the example fleets' templates, into the
emulated account.

Two passes, like CloudFormation: first every resource whose name is known in advance gets
its physical name and attributes (so `Ref`/`Fn::GetAtt` resolve in any order), then
resources are created through the same boto3 APIs a real deployment ends up calling. The
fleets' resources (VPCs, load balancers, services: stack/resources/) get their identity
when created, so a resource that references one is created after it; the bundle's own
resources are all named in advance and created in a fixed order by type. Roles come from the
template as SAM transforms it (stack/transform.py): every `AWS::IAM::Role` of the
CloudFormation SAM would deploy is created in the account's IAM with its inline and
managed policies, each function and state machine runs as its own role, and IAM is
enforced on every call they make (services/iam/); a plain CloudFormation template (no
`Transform`) declares its roles itself. Parameters are checked as CloudFormation checks
them (AllowedValues, AllowedPattern, MinValue/MaxValue) and `AWS::SSM::Parameter::Value<>`
parameters read from the account's SSM. A resource type the emulator does not know is
refused, by name.
"""

from __future__ import annotations

import copy
import heapq
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends

from ..core.host import Host
from .resources import KINDS
from .runtime import FunctionSpec
from .template import Resolver, TemplateError, load_template, merge_globals
from .transform import transformed


class StackHost(Host, Protocol):
    """What a deployment needs of the account beyond the host: where to register."""

    stack_name: str
    layers: dict[str, Path]
    state_machine_definitions: dict[str, str]

    def layer_dir_for(self, layer_arn: str) -> Path | None: ...


NOT_EMULATED = {
    # created from the transformed template (_create_roles), not from the SAM resource
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    # not enforced: who may assume a role or invoke a function from outside the account
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::OIDCProvider",
    "AWS::Lambda::Permission",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::Serverless::Connector",
}

_PHYSICAL_NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SSM::Parameter": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
}


@dataclass
class DeployedStack:
    """What the emulated deployment produced: physical names, ARNs, outputs."""

    name: str
    root: Path
    template: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    physical: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    cloudformation: dict[str, Any] = field(default_factory=dict)  # the SAM-transformed template

    def role_of(self, logical_id: str, resolver: Resolver) -> str:
        """The role ARN a function or state machine of the stack runs as."""
        props = self.cloudformation["Resources"][logical_id]["Properties"]
        return str(resolver.resolve(props.get("Role") or props.get("RoleArn")))

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.physical[logical_id]
        except KeyError:
            raise KeyError(f"{logical_id!r} is not a resource of the deployed stack") from None


def deploy(
    emulator: StackHost,
    template_path: Path,
    parameters: dict[str, str],
    stack_name: str | None = None,
) -> DeployedStack:
    """Deploy the template at `template_path` as stack `stack_name` (default: the
    emulator's own stack name, for the bundle)."""
    template = load_template(template_path)
    return deploy_template(
        emulator, template, template_path.parent, parameters, stack_name, source=template_path
    )


def deploy_template(
    emulator: StackHost,
    template: dict[str, Any],
    root: Path,
    parameters: dict[str, str],
    stack_name: str | None = None,
    source: Path | None = None,
) -> DeployedStack:
    """Deploy a parsed template; `root` is where its relative paths (CodeUri) start."""
    name = stack_name or emulator.stack_name
    resolver = Resolver(
        stack_name=name,
        region=emulator.region,
        account_id=emulator.account_id,
        parameters=_parameters(emulator, template, parameters),
    )
    if _uses(template, "Fn::GetAZs"):
        zones = emulator.client("ec2").describe_availability_zones()["AvailabilityZones"]
        resolver.zones = sorted(z["ZoneName"] for z in zones)
    for condition, expr in template.get("Conditions", {}).items():
        resolver.conditions[condition] = resolver.evaluate_condition(expr)
    resources = {
        logical_id: resource
        for logical_id, resource in merge_globals(template).items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    _check_types(resources)  # before anything is created, like CloudFormation's validation
    stack = DeployedStack(name, root, template, resources)
    stack.cloudformation = _cloudformation(template, source)
    for logical_id, resource in resources.items():
        kind = KINDS.get(resource["Type"])
        if kind is None:
            _name_resource(emulator, resolver, stack, logical_id, resource)
        elif kind.name is not None:
            kind.name(stack, resolver, logical_id, resource.get("Properties", {}))
    _name_managed_policies(emulator, stack, resolver)
    roles = _roles(stack, resolver)
    for logical_id in roles:
        _name_role(emulator, resolver, stack, logical_id, roles[logical_id])
    _create_roles(emulator, stack, resolver, roles)
    creators = _creators()
    for logical_id in _creation_order(resources):
        resource = resources[logical_id]
        props = resolver.resolve(resource.get("Properties", {}))
        creators[resource["Type"]](emulator, stack, resolver, logical_id, props)
    for key, output in template.get("Outputs", {}).items():
        if "Condition" in output and not resolver.condition(output["Condition"]):
            continue
        stack.outputs[key] = str(resolver.resolve(output["Value"]))
    return stack


def _check_types(resources: dict[str, dict[str, Any]]) -> None:
    unknown = {r["Type"] for r in resources.values()} - set(_CREATION_ORDER) - NOT_EMULATED
    if unknown:
        raise TemplateError(f"resource types the emulator cannot deploy: {sorted(unknown)}")
    for lid, resource in resources.items():
        kind = KINDS.get(resource["Type"])
        extra = sorted(set(resource.get("Properties", {})) - kind.properties) if kind else []
        if extra:
            raise TemplateError(
                f"{lid} ({resource['Type']}): properties the emulator does not deploy: {extra}"
            )


def _cloudformation(template: dict[str, Any], source: Path | None) -> dict[str, Any]:
    """The template as CloudFormation deploys it: SAM-transformed, or as it is."""
    if "Transform" not in template:
        return copy.deepcopy(template)
    if source is None:
        raise TemplateError(
            "a SAM template (Transform) is deployed from its file, with its code beside it"
        )
    return transformed(source)


def _creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Resources with a creator, in the fixed order by type (then template order), except
    that a resource comes after every resource it references or depends on that gets its
    identity only when created (a fleet's VPC before its subnets)."""
    rank = {kind: index for index, kind in enumerate(_CREATION_ORDER)}
    position = {lid: index for index, lid in enumerate(resources)}
    created = [lid for lid, r in resources.items() if r["Type"] in rank]
    late = {lid for lid in created if lid in _late_bound(resources)}
    waits = {
        lid: (_references(resources[lid]) | set(_depends_on(resources[lid]))) & late - {lid}
        for lid in created
    }
    ready = [
        (rank[resources[lid]["Type"]], position[lid], lid) for lid in created if not waits[lid]
    ]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        *_, lid = heapq.heappop(ready)
        order.append(lid)
        for other in created:
            if lid in waits[other]:
                waits[other].discard(lid)
                if not waits[other]:
                    key = (rank[resources[other]["Type"]], position[other], other)
                    heapq.heappush(ready, key)
    stuck = sorted(lid for lid in created if lid not in order)
    if stuck:
        raise TemplateError(f"resources that reference each other in a cycle: {stuck}")
    return order


def _late_bound(resources: dict[str, dict[str, Any]]) -> set[str]:
    return {
        lid
        for lid, resource in resources.items()
        if resource["Type"] in KINDS and KINDS[resource["Type"]].name is None
    }


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)


_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def _references(value: Any) -> set[str]:
    """Logical ids (and parameters) a value names through Ref, Fn::GetAtt and Fn::Sub."""
    found: set[str] = set()
    for key, arg in _intrinsics(value):
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
        elif key == "Fn::GetAtt":
            found.add(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
        elif key == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) else arg
            found |= {name.split(".", 1)[0] for name in _SUB_NAME.findall(str(text))}
    return found


def _intrinsics(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _intrinsics(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in {"Ref", "Fn::GetAtt", "Fn::Sub"}:
                yield key, item
            yield from _intrinsics(item)


def _uses(value: Any, function: str) -> bool:
    if isinstance(value, list):
        return any(_uses(item, function) for item in value)
    if isinstance(value, dict):
        return function in value or any(_uses(item, function) for item in value.values())
    return False


def _parameters(
    emulator: StackHost, template: dict[str, Any], overrides: dict[str, str]
) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter overrides not declared by the template: {sorted(unknown)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        _check_parameter(name, spec, values[name])
        if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
            values[name] = _from_ssm(emulator, name, values[name])
    return values


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """What CloudFormation refuses before creating anything."""
    allowed = spec.get("AllowedValues")
    if allowed and value not in [str(a) for a in allowed]:
        raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and spec.get("Type", "String") == "String" and not re.fullmatch(pattern, value):
        raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}={value!r} is not a number") from None
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise TemplateError(f"parameter {name}={value!r} is outside {low}..{high}")


def _from_ssm(emulator: StackHost, name: str, parameter: str) -> str:
    ssm = emulator.client("ssm")
    try:
        return str(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        raise TemplateError(f"parameter {name}: no SSM parameter {parameter}") from None


def _name_resource(
    emulator: StackHost,
    resolver: Resolver,
    stack: DeployedStack,
    logical_id: str,
    resource: dict[str, Any],
) -> None:
    kind = resource["Type"]
    props = resource.get("Properties", {})
    prop = _PHYSICAL_NAME_PROPERTY.get(kind)
    explicit = props.get(prop) if prop else None
    name = str(resolver.resolve(explicit)) if explicit is not None else f"{stack.name}-{logical_id}"
    region, account = emulator.region, emulator.account_id
    arn_of = {
        "AWS::Serverless::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
        "AWS::Serverless::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
        "AWS::Serverless::LayerVersion": f"arn:aws:lambda:{region}:{account}:layer:{name}:1",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
        "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
        "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
        "AWS::Events::EventBus": f"arn:aws:events:{region}:{account}:event-bus/{name}",
        "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "AWS::SSM::Parameter": f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}",
        "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
    }
    arn = arn_of.get(kind, f"arn:aws:emulated:{region}:{account}:{logical_id}")
    ref = {
        "AWS::Serverless::StateMachine": arn,
        "AWS::Serverless::LayerVersion": arn,
        "AWS::SNS::Topic": arn,
        "AWS::SQS::Queue": f"https://sqs.{region}.amazonaws.com/{account}/{name}",
    }.get(kind, name)
    stack.physical[logical_id] = name
    resolver.refs[logical_id] = ref
    for attribute, value in {
        "Arn": arn,
        "Name": name,
        "QueueName": name,
        "QueueUrl": ref,
        "TopicName": name,
        "TopicArn": arn,
        "StreamArn": f"{arn}/stream/emulated",
    }.items():
        resolver.attributes[(logical_id, attribute)] = value


Creator = Callable[["StackHost", DeployedStack, Resolver, str, dict[str, Any]], None]


def _create_table(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    ddb = em.client("dynamodb")
    name = stack.physical_id(lid)
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": p["KeySchema"],
        "AttributeDefinitions": p["AttributeDefinitions"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    if p.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = p["GlobalSecondaryIndexes"]
    if args["BillingMode"] == "PROVISIONED":
        args["ProvisionedThroughput"] = p["ProvisionedThroughput"]
    if p.get("SSESpecification"):
        sse = p["SSESpecification"]
        args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
    ddb.create_table(**args)
    ttl = p.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    pitr = p.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def _create_log_group(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    logs = em.client("logs")
    name = stack.physical_id(lid)
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))


def _create_queue(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    attributes = {
        key: str(p[key])
        for key in (
            "MessageRetentionPeriod",
            "VisibilityTimeout",
            "KmsMasterKeyId",
            "SqsManagedSseEnabled",
        )
        if key in p
    }
    em.client("sqs").create_queue(QueueName=stack.physical_id(lid), Attributes=attributes)


def _create_topic(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, _p: dict[str, Any]
) -> None:
    em.client("sns").create_topic(Name=stack.physical_id(lid))


def _create_event_bus(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, _p: dict[str, Any]
) -> None:
    em.client("events").create_event_bus(Name=stack.physical_id(lid))


def _create_parameter(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    em.client("ssm").put_parameter(
        Name=stack.physical_id(lid),
        Value=str(p["Value"]),
        Type=p.get("Type", "String"),
        Overwrite=True,
    )


def _create_alarm(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    args = {k: v for k, v in p.items() if k != "AlarmName"}
    for key in ("EvaluationPeriods", "Period", "DatapointsToAlarm"):
        if key in args:
            args[key] = int(args[key])
    if "Threshold" in args:
        args["Threshold"] = float(args["Threshold"])
    em.client("cloudwatch").put_metric_alarm(AlarmName=stack.physical_id(lid), **args)


def _create_dashboard(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    body = p["DashboardBody"]
    body = body if isinstance(body, str) else json.dumps(body)
    em.client("cloudwatch").put_dashboard(DashboardName=stack.physical_id(lid), DashboardBody=body)


def _create_rule(
    em: StackHost, stack: DeployedStack, _r: Resolver, lid: str, p: dict[str, Any]
) -> None:
    name = stack.physical_id(lid)
    _put_rule(em, name, p.get("EventBusName", "default"), p["EventPattern"], p.get("Targets", []))


def _put_rule(
    em: StackHost, name: str, bus: str, pattern: dict[str, Any], targets: list[dict[str, Any]]
) -> None:
    events = em.client("events")
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)


def _create_layer(
    em: StackHost, stack: DeployedStack, resolver: Resolver, lid: str, p: dict[str, Any]
) -> None:
    content = stack.root / str(p["ContentUri"])
    if not content.is_dir():
        raise TemplateError(f"{lid}: ContentUri {content} is not a directory")
    em.layers[resolver.ref(lid)] = content.resolve()


def _create_function(
    em: StackHost, stack: DeployedStack, resolver: Resolver, lid: str, p: dict[str, Any]
) -> None:
    name = stack.physical_id(lid)
    code_dir = stack.root / str(p["CodeUri"])
    if not code_dir.is_dir():
        raise TemplateError(f"{lid}: CodeUri {code_dir} is not a directory")
    layer_dirs = [em.layer_dir_for(arn) for arn in p.get("Layers", [])]
    environment = {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
    role = stack.role_of(lid, resolver)
    em.client("lambda").create_function(
        FunctionName=name,
        Runtime=p.get("Runtime", "python3.13"),
        Role=role,
        Handler=p["Handler"],
        Code={"ZipFile": _placeholder_zip()},
        Timeout=int(p.get("Timeout", 3)),
        MemorySize=int(p.get("MemorySize", 128)),
        Architectures=p.get("Architectures", ["x86_64"]),
        Environment={"Variables": environment},
    )
    spec = FunctionSpec(
        logical_id=lid,
        name=name,
        arn=resolver.get_att(lid, "Arn"),
        code_dir=code_dir.resolve(),
        handler=p["Handler"],
        environment=environment,
        layer_dirs=[d for d in layer_dirs if d is not None],
        timeout=int(p.get("Timeout", 3)),
        memory=int(p.get("MemorySize", 128)),
        role_arn=role,
    )
    invoke_config = p.get("EventInvokeConfig", {})
    spec_async = em.async_config.setdefault(name, {})
    spec_async["MaximumRetryAttempts"] = int(invoke_config.get("MaximumRetryAttempts", 2))
    on_failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {})
    dlq = on_failure.get("Destination") or p.get("DeadLetterQueue", {}).get("TargetArn")
    if dlq:
        spec_async["DeadLetterArn"] = dlq
    em.runtime.register(spec)
    for event_name, event in p.get("Events", {}).items():
        _create_function_event(em, spec, f"{name}-{event_name}", event)


def _create_function_event(
    em: StackHost, spec: FunctionSpec, rule_name: str, event: dict[str, Any]
) -> None:
    kind = event.get("Type")
    props = event.get("Properties", {})
    if kind not in {"EventBridgeRule", "CloudWatchEvent"}:
        raise TemplateError(f"{spec.logical_id}: event type {kind!r} is not emulated")
    target: dict[str, Any] = {"Id": props.get("Target", {}).get("Id", "Target"), "Arn": spec.arn}
    if "RetryPolicy" in props:
        target["RetryPolicy"] = {k: int(v) for k, v in props["RetryPolicy"].items()}
    dead_letter = props.get("DeadLetterConfig", {})
    if "Arn" in dead_letter:
        target["DeadLetterConfig"] = {"Arn": dead_letter["Arn"]}
    if "Input" in props:
        target["Input"] = props["Input"]
    if "InputPath" in props:
        target["InputPath"] = props["InputPath"]
    _put_rule(
        em,
        props.get("RuleName", rule_name),
        props.get("EventBusName", "default"),
        props["Pattern"],
        [target],
    )


def _create_state_machine(
    em: StackHost, stack: DeployedStack, resolver: Resolver, lid: str, p: dict[str, Any]
) -> None:
    path = stack.root / str(p["DefinitionUri"])
    definition = path.read_text(encoding="utf-8")
    for key, value in p.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    json.loads(definition)  # a substitution that broke the JSON fails here, by file
    args: dict[str, Any] = {
        "name": stack.physical_id(lid),
        "definition": definition,
        "roleArn": stack.role_of(lid, resolver),
        "type": p.get("Type", "STANDARD"),
    }
    em.client("stepfunctions").create_state_machine(**args)
    em.state_machine_definitions[stack.physical_id(lid)] = definition


def _roles(stack: DeployedStack, resolver: Resolver) -> dict[str, dict[str, Any]]:
    """The transformed template's roles (those whose condition holds)."""
    return {
        lid: resource
        for lid, resource in stack.cloudformation["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }


def _name_role(
    em: StackHost, resolver: Resolver, stack: DeployedStack, lid: str, role: dict[str, Any]
) -> None:
    explicit = role.get("Properties", {}).get("RoleName")
    # CloudFormation names a role <stack>-<logical id>-<suffix>, at most 64 characters
    name = str(resolver.resolve(explicit)) if explicit else f"{stack.name}-{lid}"[:64]
    path = str(role.get("Properties", {}).get("Path", "/"))
    arn = f"arn:aws:iam::{em.account_id}:role{path}{name}"
    stack.physical[lid] = name
    resolver.refs[lid] = name
    resolver.attributes[(lid, "Arn")] = arn
    resolver.attributes[(lid, "RoleId")] = f"AROA{abs(hash(arn)) % 10**16:016d}"


def _create_roles(
    em: StackHost, stack: DeployedStack, resolver: Resolver, roles: dict[str, dict[str, Any]]
) -> None:
    """Each role in the account's IAM, with its policies. Through moto's IAM backend, not
    its API: the same validation (moto checks every policy document) without ~70
    requests a deploy. The stack's own managed policies come first: roles attach them."""
    iam = iam_backends[em.account_id]["global"]
    _create_managed_policies(em, stack, resolver)
    for lid, role in roles.items():
        props = resolver.resolve(role.get("Properties", {}))
        name = stack.physical_id(lid)
        iam.create_role(
            role_name=name,
            assume_role_policy_document=json.dumps(props["AssumeRolePolicyDocument"]),
            path=props.get("Path", "/"),
            permissions_boundary=None,
            description=str(props.get("Description", "")),
            tags=props.get("Tags", []),
            max_session_duration=props.get("MaxSessionDuration"),
        )
        for policy in props.get("Policies", []):
            iam.put_role_policy(name, policy["PolicyName"], _document(policy["PolicyDocument"]))
        for arn in props.get("ManagedPolicyArns", []):
            if str(arn).startswith("arn:aws:iam::aws:policy/"):
                ensure_aws_managed_policy(em.account_id, str(arn))
            iam.attach_role_policy(str(arn), name)
    for lid, resource in stack.cloudformation["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resolver.resolve(resource.get("Properties", {}))
        for role_name in props.get("Roles", []):
            name = props.get("PolicyName", lid)
            iam.put_role_policy(role_name, name, _document(props["PolicyDocument"]))


def _name_managed_policies(em: StackHost, stack: DeployedStack, resolver: Resolver) -> None:
    """`Ref` of an AWS::IAM::ManagedPolicy is its ARN (CloudFormation names it
    <stack>-<logical id>-<suffix> unless ManagedPolicyName is given)."""
    for lid, resource in stack.cloudformation["Resources"].items():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        props = resource.get("Properties", {})
        explicit = props.get("ManagedPolicyName")
        name = str(resolver.resolve(explicit)) if explicit else f"{stack.name}-{lid}"[:128]
        path = str(props.get("Path", "/"))
        stack.physical[lid] = name
        resolver.refs[lid] = f"arn:aws:iam::{em.account_id}:policy{path}{name}"


def _create_managed_policies(em: StackHost, stack: DeployedStack, resolver: Resolver) -> None:
    iam = iam_backends[em.account_id]["global"]
    for lid, resource in stack.cloudformation["Resources"].items():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resolver.resolve(resource.get("Properties", {}))
        iam.create_policy(
            description=str(props.get("Description", "")),
            path=str(props.get("Path", "/")),
            policy_document=_document(props["PolicyDocument"]),
            policy_name=stack.physical_id(lid),
            tags=[],
        )


_MANAGED: dict[str, Any] | None = None


def ensure_aws_managed_policy(account_id: str, arn: str) -> None:
    """AWS managed policies exist in every account: add the one `arn` names (moto knows
    their documents but loads them only when configured to load all ~1,300)."""
    global _MANAGED  # noqa: PLW0603 - parsed once per process
    backend = iam_backends[account_id]["global"]
    if arn in backend.managed_policies:
        return
    if _MANAGED is None:
        _MANAGED = json.loads(aws_managed_policies_data)
    name = arn.rsplit("/", 1)[-1]
    if name not in _MANAGED:
        raise TemplateError(f"the AWS managed policy {arn} is not known to the emulator")
    policy = AWSManagedPolicy.from_data(name, account_id, "us-east-1", _MANAGED[name])
    backend.managed_policies[policy.arn] = policy


def _document(document: dict[str, Any]) -> str:
    """A policy document as IAM stores it. SAM writes `Policies:` statements without a
    `Version`, which IAM accepts (as 2008-10-17); moto's validator refuses it, so the
    current version is written (the two differ only in policy variables, which the
    emulator does not substitute either way)."""
    return json.dumps({"Version": "2012-10-17", **document})


def _placeholder_zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs from CodeUri in the emulator\n")
    return buffer.getvalue()


def _creators() -> dict[str, Creator]:
    return {
        "AWS::Serverless::LayerVersion": _create_layer,
        "AWS::DynamoDB::Table": _create_table,
        "AWS::Logs::LogGroup": _create_log_group,
        "AWS::SQS::Queue": _create_queue,
        "AWS::SNS::Topic": _create_topic,
        "AWS::Events::EventBus": _create_event_bus,
        "AWS::SSM::Parameter": _create_parameter,
        "AWS::Serverless::Function": _create_function,
        "AWS::Serverless::StateMachine": _create_state_machine,
        "AWS::Events::Rule": _create_rule,
        **{kind: spec.create for kind, spec in KINDS.items()},  # the fleets' (resources/)
        "AWS::CloudWatch::Alarm": _create_alarm,
        "AWS::CloudWatch::Dashboard": _create_dashboard,
    }


_CREATION_ORDER = list(_creators())
