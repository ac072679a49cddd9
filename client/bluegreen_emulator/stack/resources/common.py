"""What every fleet resource creator shares: binding a resource's identity, refusing the
properties it does not emulate, and calling the API the way CloudFormation does.

A fleet resource (a VPC, a target group, a service) gets its identity when it is
created, as in CloudFormation: `bind` records what `Ref` and `Fn::GetAtt` return for it,
so the resources that name it are created after it (stack/deploy.py orders them).
CloudFormation turns property values into the types the API wants (a `!Ref` to a Number
parameter is the string "2" in the template, an integer in CreateAutoScalingGroup):
`call` does the same from the API's own model (botocore's input shapes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..template import Resolver, TemplateError

if TYPE_CHECKING:
    from ...core.host import Host


class Stack(Protocol):
    """What a creator needs of the stack being deployed (deploy.DeployedStack)."""

    name: str
    physical: dict[str, str]


Creator = Callable[["Host", Any, Resolver, str, dict[str, Any]], None]


def bind(stack: Stack, resolver: Resolver, lid: str, ref: Any, **attributes: Any) -> None:
    """`lid` now exists: its `Ref` is `ref`, its `Fn::GetAtt`s are `attributes`."""
    stack.physical[lid] = str(ref)
    resolver.refs[lid] = ref
    for attribute, value in attributes.items():
        resolver.attributes[(lid, attribute)] = value


def only(kind: str, lid: str, props: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse a property the creator does not emulate, naming it (the deployed resource
    would otherwise differ from the template without a word)."""
    unknown = sorted(set(props) - set(allowed))
    if unknown:
        raise TemplateError(f"{lid} ({kind}): properties the emulator does not deploy: {unknown}")


def require(kind: str, lid: str, props: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if name not in props]
    if missing:
        raise TemplateError(f"{lid} ({kind}): required properties missing: {missing}")


def generated_name(stack: Stack, lid: str, limit: int, lower: bool = False) -> str:
    """The name CloudFormation gives a resource that names none: <stack>-<logical id>-<suffix>
    (the suffix is derived from both, so a redeploy in a fresh account names it alike)."""
    suffix = hashlib.sha256(f"{stack.name}/{lid}".encode()).hexdigest()[:12].upper()
    name = f"{stack.name}-{lid}"[: limit - len(suffix) - 1] + f"-{suffix}"
    return name.lower() if lower else name


def tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get("Tags", [])]


def tagged(props: Mapping[str, Any]) -> dict[str, Any]:
    """`Tags` as keyword arguments of a create call (none without tags)."""
    found = tags(props)
    return {"Tags": found} if found else {}


def tag_specifications(resource_type: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """`TagSpecifications` for an EC2 create call, as keyword arguments (none without tags)."""
    found = tags(props)
    return {"TagSpecifications": [{"ResourceType": resource_type, "Tags": found}]} if found else {}


_CAMEL_EXCEPTIONS = {"ECSServices": "ecsServices"}


def camel(value: Any, keep: frozenset[str] = frozenset()) -> Any:
    """CloudFormation's PascalCase properties as the camelCase an API takes (ECS,
    CodeDeploy). The values of the keys in `keep` are passed as they are (log driver
    options, tags whose API spells Key/Value)."""
    if isinstance(value, list):
        return [camel(item, keep) for item in value]
    if not isinstance(value, Mapping):
        return value
    converted = {}
    for key, item in value.items():
        name = _CAMEL_EXCEPTIONS.get(key, key[:1].lower() + key[1:])
        converted[name] = item if key in keep else camel(item, keep)
    return converted


def call(client: Any, method: str, **params: Any) -> Any:
    """`client.<method>(**params)` with each value in the type the API's model says."""
    operation = client.meta.method_to_api_mapping[method]
    shape = client.meta.service_model.operation_model(operation).input_shape
    return getattr(client, method)(**_coerce(shape, params))


def _coerce(shape: Any, value: Any) -> Any:  # noqa: PLR0911 - one branch per shape type
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members
        return {k: _coerce(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_coerce(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        return {k: _coerce(shape.value, v) for k, v in value.items()}
    if kind in {"integer", "long"} and isinstance(value, str):
        return int(value)
    if kind in {"double", "float"} and isinstance(value, str | int):
        return float(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, int | float):
        return str(value)
    return value
