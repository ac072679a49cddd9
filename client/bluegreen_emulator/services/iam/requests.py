"""From an AWS call to what IAM authorizes: actions, resource ARNs, condition keys.

Which resource types an action acts on, their ARN formats and the condition keys each
service defines come from the Service Authorization Reference (bluegreen_security.reference).
What the reference does not say is which request parameter names the resource: the small
tables below do (`RESOURCE_PARAMETERS`, `PASSED_ROLES`); a request parameter holding an ARN
of one of the action's resource types is recognised from the reference's ARN format alone.

A call can need more than its own action: a transaction needs each item's action on its
table (with that item's `dynamodb:LeadingKeys`), and a call that hands a role to a
service needs `iam:PassRole` on it with `iam:PassedToService`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen_security import reference

from .policy import NotEmulated, Request


class Account(Protocol):
    """What the emulated account answers about its resources (as the account, no IAM)."""

    @property
    def account_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    def partition_key(self, table: str) -> str | None: ...

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None: ...

    def tags(self, arn: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Call:
    prefix: str  # the IAM service prefix: elasticloadbalancing, cloudwatch, dynamodb
    operation: str  # PutItem
    params: dict[str, Any]


Resources = Callable[[dict[str, Any], Account], list[str]]


def _arn(account: Account, service: str, resource: str, region: bool = True) -> str:
    where = account.region if region else ""
    return f"arn:aws:{service}:{where}:{account.account_id}:{resource}"


def _name_or_arn(value: Any, build: Callable[[str], str]) -> list[str]:
    if not value:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v) if str(v).startswith("arn:") else build(str(v)) for v in values]


def _table(p: dict[str, Any], a: Account) -> list[str]:
    return _name_or_arn(p.get("TableName"), lambda n: _arn(a, "dynamodb", f"table/{n}"))


def _index(p: dict[str, Any], a: Account) -> list[str]:
    if not p.get("IndexName"):
        return []
    return [f"{_table(p, a)[0]}/index/{p['IndexName']}"]


def _last(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _ecs_service(p: dict[str, Any], a: Account) -> list[str]:
    cluster = _last(str(p.get("cluster") or "default"))
    named = p.get("service") or p.get("services")
    found = _name_or_arn(named, lambda n: _arn(a, "ecs", f"service/{cluster}/{n}"))
    for key in ("serviceDeploymentArn", "serviceDeploymentArns", "serviceRevisionArns"):
        for arn in _name_or_arn(p.get(key), str):  # .../service-deployment/<cluster>/<svc>/<id>
            parts = arn.split(":", 5)[5].split("/")
            found.append(_arn(a, "ecs", f"service/{parts[1]}/{parts[2]}"))
    return found


def _task_set(p: dict[str, Any], a: Account) -> list[str]:
    cluster, service = _last(str(p.get("cluster") or "default")), _last(str(p.get("service")))
    ids = p.get("taskSets") or p.get("taskSet") or ["*"]
    return _name_or_arn(ids, lambda i: _arn(a, "ecs", f"task-set/{cluster}/{service}/{i}"))


def _task_definition(p: dict[str, Any], a: Account) -> list[str]:
    named = p.get("taskDefinition") or p.get("family")
    build = lambda n: _arn(a, "ecs", f"task-definition/{n if ':' in n else n + ':*'}")  # noqa: E731
    return _name_or_arn(named, build)


def _deployment_group(p: dict[str, Any], a: Account) -> list[str]:
    if p.get("applicationName") and p.get("deploymentGroupName"):
        pair = (str(p["applicationName"]), str(p["deploymentGroupName"]))
        return [_arn(a, "codedeploy", f"deploymentgroup:{pair[0]}/{pair[1]}")]
    found = []
    for deployment in as_list(p.get("deploymentId") or p.get("deploymentIds")):
        group = a.deployment_group_of(str(deployment))
        if group is not None:
            found.append(_arn(a, "codedeploy", f"deploymentgroup:{group[0]}/{group[1]}"))
    return found


def _queue(p: dict[str, Any], a: Account) -> list[str]:
    name = _last(str(p["QueueUrl"])) if p.get("QueueUrl") else p.get("QueueName")
    return [_arn(a, "sqs", str(name))] if name else []


def _event_bus(p: dict[str, Any], a: Account) -> list[str]:
    names = [e.get("EventBusName") for e in p.get("Entries") or []] or [p.get("EventBusName")]
    return sorted(
        {n if str(n).startswith("arn:") else _arn(a, "events", f"event-bus/{n}") for n in
         [name or "default" for name in names]}
    )  # fmt: skip


def _alarm(p: dict[str, Any], a: Account) -> list[str]:
    names = as_list(p.get("AlarmNames") or p.get("AlarmName")) or ["*"]
    return [_arn(a, "cloudwatch", f"alarm:{n}") for n in names]


def _function(p: dict[str, Any], a: Account) -> list[str]:
    name = str(p.get("FunctionName") or "")
    if not name:
        return []
    if name.startswith("arn:"):
        return [":".join(name.split(":")[:7])]  # without a qualifier
    return [_arn(a, "lambda", f"function:{name.split(':', maxsplit=1)[0]}")]


def _parameter(p: dict[str, Any], a: Account) -> list[str]:
    names = as_list(p.get("Name") or p.get("Names"))
    return _name_or_arn(names, lambda n: _arn(a, "ssm", f"parameter/{n.lstrip('/')}"))


def _simple(key: str, resource: str) -> Resources:
    def named(p: dict[str, Any], a: Account) -> list[str]:
        return _name_or_arn(p.get(key), lambda n: _arn(a, "codedeploy", resource + n))

    return named


# (IAM service, resource type) -> the resource ARNs a request names, for resources that
# requests name otherwise than by their ARN (the reference has no such mapping)
RESOURCE_PARAMETERS: dict[tuple[str, str], Resources] = {
    ("dynamodb", "table"): _table,
    ("dynamodb", "index"): _index,
    ("ecs", "service"): _ecs_service,
    ("ecs", "task-set"): _task_set,
    ("ecs", "task-definition"): _task_definition,
    ("codedeploy", "deploymentgroup"): _deployment_group,
    ("codedeploy", "application"): _simple("applicationName", "application:"),
    ("codedeploy", "deploymentconfig"): _simple("deploymentConfigName", "deploymentconfig:"),
    ("sqs", "queue"): _queue,
    ("events", "event-bus"): _event_bus,
    ("cloudwatch", "alarm"): _alarm,
    ("lambda", "function"): _function,
    ("ssm", "parameter"): _parameter,
}

# (IAM service, operation) -> (parameter path holding a role ARN, the service it is passed
# to): the calls AWS authorizes an `iam:PassRole` for ("Granting a user permissions to
# pass a role to an AWS service", IAM User Guide)
PASSED_ROLES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("ecs", "CreateService"): (
        ("deploymentConfiguration.lifecycleHooks[].roleArn", "ecs.amazonaws.com"),
        ("loadBalancers[].advancedConfiguration.roleArn", "ecs.amazonaws.com"),
        ("role", "ecs.amazonaws.com"),
    ),
    ("ecs", "UpdateService"): (
        ("deploymentConfiguration.lifecycleHooks[].roleArn", "ecs.amazonaws.com"),
        ("loadBalancers[].advancedConfiguration.roleArn", "ecs.amazonaws.com"),
    ),
    ("ecs", "RegisterTaskDefinition"): (
        ("taskRoleArn", "ecs-tasks.amazonaws.com"),
        ("executionRoleArn", "ecs-tasks.amazonaws.com"),
    ),
    ("codedeploy", "CreateDeploymentGroup"): (("serviceRoleArn", "codedeploy.amazonaws.com"),),
    ("codedeploy", "UpdateDeploymentGroup"): (("serviceRoleArn", "codedeploy.amazonaws.com"),),
    ("states", "CreateStateMachine"): (("roleArn", "states.amazonaws.com"),),
    ("states", "UpdateStateMachine"): (("roleArn", "states.amazonaws.com"),),
    ("lambda", "CreateFunction"): (("Role", "lambda.amazonaws.com"),),
    ("lambda", "UpdateFunctionConfiguration"): (("Role", "lambda.amazonaws.com"),),
    ("events", "PutTargets"): (("Targets[].RoleArn", "events.amazonaws.com"),),
}

# DynamoDB operations that act on items of other operations (each item is authorized as
# its own action: "DynamoDB transactions: IAM", Developer Guide)
_ITEM_ACTIONS = {
    "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem",
}  # fmt: skip


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def values_at(params: Any, path: str) -> list[Any]:
    """Values at a dotted path where `name[]` walks every item of a list."""
    current = [params]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        nxt: list[Any] = []
        for value in current:
            if isinstance(value, dict) and key in value:
                nxt += as_list(value[key]) if many else [value[key]]
        current = nxt
    return [v for v in current if v not in (None, "")]


def requests_for(call: Call, principal: str, account: Account) -> list[Request]:
    """Every (action, resource, context) IAM must allow for `call` made as `principal`."""
    if call.prefix == "dynamodb" and call.operation in {"TransactWriteItems", "TransactGetItems"}:
        return [r for item in call.params.get("TransactItems") or [] for r in
                _transact_item(item, principal, account)]  # fmt: skip
    if call.prefix == "dynamodb" and call.operation in {"BatchWriteItem", "BatchGetItem"}:
        return list(_batch(call, principal, account))
    found = _action_requests(call, principal, account)
    for path, service in PASSED_ROLES.get((call.prefix, call.operation), ()):
        for role in values_at(call.params, path):
            context = _context(principal, account, {"iam:PassedToService": [service]}, str(role))
            found.append(Request("iam:PassRole", str(role), context))
    return found


# API operations whose IAM action has another name (service authorization references)
OPERATION_ACTIONS = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
}


def _action_requests(call: Call, principal: str, account: Account) -> list[Request]:
    name = OPERATION_ACTIONS.get((call.prefix, call.operation), call.operation)
    full = f"{call.prefix}:{name}"
    action = reference.action(full)
    if action is None:
        raise NotEmulated(f"{full} is not an action of the Service Authorization Reference")
    keys = _service_keys(call, account)
    return [
        Request(action.full_name, resource, _context(principal, account, keys, resource, action))
        for resource in _resources(call, action, account)
    ]


def _resources(call: Call, action: reference.Action, account: Account) -> list[str]:
    if not action.resource_types:
        return ["*"]  # the action has no resource-level permissions
    in_params = list(_arns(call.params))
    found: list[str] = []
    for key, _required in action.resource_types:
        named = RESOURCE_PARAMETERS.get((action.service, key))
        if named is not None:
            found += named(call.params, account)
        else:
            resource = reference.resource_type(action.service, key)
            found += [arn for arn in in_params if resource.matches(arn)]
    if found:
        return list(dict.fromkeys(found))
    if any(required for _, required in action.resource_types):
        types = ", ".join(key for key, _ in action.resource_types)
        raise NotEmulated(f"cannot tell which {types} resource {action.full_name} acts on")
    return ["*"]


def _arns(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("arn:"):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _arns(item)


def _service_keys(call: Call, account: Account) -> dict[str, list[str]]:
    """The service-specific condition keys the emulator knows for this call."""
    keys: dict[str, list[str]] = {}
    if call.prefix == "dynamodb":
        leading = _leading_keys(call.params, account)
        if leading is not None:
            keys["dynamodb:LeadingKeys"] = leading
    if call.prefix == "events" and call.operation == "PutEvents":
        entries = call.params.get("Entries") or []
        keys["events:source"] = sorted({str(e.get("Source")) for e in entries})
        keys["events:detail-type"] = sorted({str(e.get("DetailType")) for e in entries})
    return keys


def _leading_keys(params: dict[str, Any], account: Account) -> list[str] | None:
    table = params.get("TableName")
    if not table:
        return None
    pk = account.partition_key(_last(str(table)))
    if pk is None:
        return None
    item = params.get("Key") or params.get("Item")
    if isinstance(item, dict) and pk in item:
        return [_attribute_value(item[pk])]
    expression = params.get("KeyConditionExpression")
    if expression:
        return _query_leading_key(expression, pk, params)
    return None  # a Scan: no leading key (ForAllValues passes, ForAnyValue fails)


def _query_leading_key(expression: str, pk: str, params: dict[str, Any]) -> list[str]:
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for clause in expression.replace(" and ", " AND ").split(" AND "):
        left, sep, right = clause.partition("=")
        name = left.strip().strip("()")
        if sep and names.get(name, name) == pk and right.strip().strip("()") in values:
            return [_attribute_value(values[right.strip().strip("()")])]
    raise NotEmulated(f"cannot read the partition key value of {expression!r}")


def _attribute_value(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return str(value)


def _transact_item(item: dict[str, Any], principal: str, account: Account) -> list[Request]:
    ((kind, body),) = item.items()
    call = Call("dynamodb", _ITEM_ACTIONS[kind], body)
    return _action_requests(call, principal, account)


def _batch(call: Call, principal: str, account: Account) -> Iterator[Request]:
    for table, work in (call.params.get("RequestItems") or {}).items():
        if call.operation == "BatchGetItem":
            for key in work.get("Keys") or []:
                yield from _action_requests(
                    Call("dynamodb", "GetItem", {"TableName": table, "Key": key}),
                    principal,
                    account,
                )
            continue
        for write in work:
            kind, body = next(iter(write.items()))
            op = "PutItem" if kind == "PutRequest" else "DeleteItem"
            yield from _action_requests(
                Call("dynamodb", op, {"TableName": table, **body}), principal, account
            )


def _context(
    principal: str,
    account: Account,
    keys: dict[str, list[str]],
    resource: str,
    action: reference.Action | None = None,
) -> Callable[[str], list[str] | None]:
    """The request context as IAM sees it; unknown keys AWS defines raise NotEmulated."""
    known = {
        "aws:principalarn": [principal],
        "aws:principalaccount": [account.account_id],
        "aws:principaltype": ["AssumedRole"],
        "aws:requestedregion": [account.region],
        "aws:securetransport": ["true"],
        "aws:resourceaccount": [account.account_id],
        **{k.lower(): v for k, v in keys.items()},
    }
    defined = (action.all_condition_keys() if action else ()) + reference.GLOBAL_CONDITION_KEYS

    def lookup(key: str) -> list[str] | None:
        lowered = key.lower()
        if lowered in known:
            return known[lowered]
        if lowered.startswith("aws:resourcetag/"):
            tags = account.tags(resource) if resource != "*" else {}
            tag = key.split("/", 1)[1]
            return [tags[tag]] if tag in tags else None
        if reference.condition_key_defined(key, defined):
            raise NotEmulated(f"the condition key {key} is not emulated")
        return None  # the action has no such key: absent, as on AWS

    return lookup
