"""Read a SAM template and resolve its intrinsic functions for the emulated stack.

Only what a deploy into the emulator needs: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If,
Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Select, Fn::Split, Fn::GetAZs, Fn::Base64,
plus SAM's Globals merge.
Anything else is refused with a message that names it, so a template change that the
emulator cannot follow fails loudly instead of deploying something different.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TAGS = {
    "Ref": "Ref",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "Condition": "Condition",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Base64": "Fn::Base64",
}


NO_VALUE: Any = object()  # what Ref AWS::NoValue resolves to: the key or item is dropped


class TemplateError(Exception):
    """The template uses something the emulator cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    pass


def _make_constructor(fn_name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if fn_name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {fn_name: value}

    return construct


for _tag, _fn in _TAGS.items():
    _CfnLoader.add_constructor(f"!{_tag}", _make_constructor(_fn))


_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}
_PARSED_TEXT: dict[str, dict[str, Any]] = {}


def _fresh(value: Any) -> Any:
    """A copy of parsed YAML a caller may change: new dicts and lists all the way down;
    the leaves (str, numbers, dates, None) are immutable and shared. Several times
    faster than `copy.deepcopy`, which every deploy would otherwise pay for."""
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template, short-form intrinsics included.

    Parsed once per file version (path, mtime, size) and handed out as a deep copy:
    PyYAML takes ~0.2 s for this project's template and every test deploys it.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        with path.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        if not isinstance(data, dict) or "Resources" not in data:
            raise TemplateError(f"{path}: not a template (no Resources section)")
        _PARSED[key] = data
    return _fresh(_PARSED[key])


def parse_template(text: str, where: str = "template") -> dict[str, Any]:
    """A template's text (YAML or JSON, short-form intrinsics included) as a dict.

    Parsed once per text (the example fleets' stacks are created in most tests)."""
    if text not in _PARSED_TEXT:
        try:
            data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError as exc:
            raise TemplateError(f"{where}: not YAML or JSON: {exc}") from None
        if not isinstance(data, dict) or "Resources" not in data:
            raise TemplateError(f"{where}: not a template (no Resources section)")
        _PARSED_TEXT[text] = data
    return _fresh(_PARSED_TEXT[text])


def merge_globals(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return resources with SAM Globals applied (function and state machine sections)."""
    globals_ = template.get("Globals", {})
    sections = {
        "AWS::Serverless::Function": globals_.get("Function", {}),
        "AWS::Serverless::StateMachine": globals_.get("StateMachine", {}),
    }
    merged: dict[str, dict[str, Any]] = {}
    for logical_id, declared in template["Resources"].items():
        resource = _fresh(declared)
        defaults = sections.get(resource.get("Type", ""))
        if defaults:
            resource["Properties"] = _merge(defaults, resource.get("Properties", {}))
        merged[logical_id] = resource
    return merged


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = _fresh(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merge(result[key], value)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = result[key] + list(value)
        else:
            result[key] = _fresh(value)
    return result


@dataclass
class Resolver:
    """Resolves intrinsic functions against the emulated stack's names and attributes."""

    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)  # Fn::GetAZs: the region's zones

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
                f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref to unknown name {name!r}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not known") from None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
            if key in {"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}:
                return self.evaluate_condition(value)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the emulator")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        return self.get_att(logical_id, attribute)

    def _join(self, arg: Any) -> str:
        sep, items = arg
        return str(sep).join(str(v) for v in self.resolve(items))

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _select(self, arg: Any) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, arg: Any) -> list[str]:
        sep, source = arg
        return str(self.resolve(source)).split(sep)

    def _base64(self, arg: Any) -> str:
        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _zones(self, arg: Any) -> list[str]:
        region = self.resolve(arg)
        if region not in ("", self.region):
            raise TemplateError(f"Fn::GetAZs {region!r}: the stack deploys in {self.region}")
        if not self.zones:
            raise TemplateError("Fn::GetAZs: the region's availability zones are not known")
        return list(self.zones)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return self.conditions[name]

    def evaluate_condition(self, expr: Any) -> bool:
        ((key, arg),) = expr.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.evaluate_condition(arg[0])
        if key == "Fn::And":
            return all(self.evaluate_condition(a) for a in arg)
        if key == "Fn::Or":
            return any(self.evaluate_condition(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise TemplateError(f"{key} is not a condition function")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg
            local = {k: str(self.resolve(v)) for k, v in variables.items()}
        else:
            text, local = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return local[name]
            if "." in name and name.split(".", 1)[0] not in self.pseudo():
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, arg: r.ref(arg),
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::If": Resolver._if,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::GetAZs": Resolver._zones,
    "Fn::Base64": Resolver._base64,
}
