"""IAM policy evaluation for one principal's identity-based policies, as AWS documents it.

"Policy evaluation logic" (IAM User Guide), for a request within one account: an explicit
`Deny` in any statement that applies wins; otherwise an `Allow` that applies allows;
otherwise the request is implicitly denied. A statement applies when its action
(`Action`/`NotAction`: case-insensitive globs), its resource (`Resource`/`NotResource`:
case-sensitive ARN globs, each ARN segment apart) and every condition match.

Conditions: the string, ARN, numeric, `Bool` and `Null` operators, their `...IfExists`
forms and the `ForAllValues:`/`ForAnyValue:` set qualifiers. A key missing from the
request fails a positive operator, passes a negated one (`StringNotEquals`...), passes
`ForAllValues:` (an empty set) and fails `ForAnyValue:`. A key the emulator cannot know
but AWS defines for the action raises `NotEmulated` rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluegreen_security.reference import glob_regex


class NotEmulated(Exception):
    """The policy depends on something the emulator cannot evaluate (it says what)."""


# A condition key's values: a list (multi-valued keys too), or None when the request has
# no such key. A callable is asked only when a condition names the key (tags are looked up
# on demand).
Lookup = Callable[[str], list[str] | None]


@dataclass
class Request:
    action: str  # dynamodb:GetItem
    resource: str  # an ARN, or "*" for actions with no resource type
    context: Lookup = field(default=lambda key: None)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    statement: str | None  # which statement decided (where it is), for messages


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _action_matches(patterns: list[str], action: str) -> bool:
    return any(glob_regex(p.lower()).fullmatch(action.lower()) for p in patterns)


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ARN glob: `*` alone matches anything; else each of the six colon-separated
    segments matches apart (the last one keeps its colons)."""
    if pattern == "*":
        return True
    left, right = pattern.split(":", 5), arn.split(":", 5)
    if len(left) != len(right):
        return False
    return all(glob_regex(p).fullmatch(a) is not None for p, a in zip(left, right, strict=True))


def _resource_matches(patterns: list[str], resource: str) -> bool:
    return any(arn_like(p, resource) for p in patterns)


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        action = _action_matches(as_list(statement["Action"]), request.action)
    else:
        action = not _action_matches(as_list(statement.get("NotAction")), request.action)
    if "Resource" in statement:
        resource = _resource_matches(as_list(statement["Resource"]), request.resource)
    else:
        resource = not _resource_matches(as_list(statement.get("NotResource")), request.resource)
    return (
        action and resource and conditions_match(statement.get("Condition") or {}, request.context)
    )


def evaluate(statements: Sequence[tuple[str, Mapping[str, Any]]], request: Request) -> Decision:
    """`statements`: (where, statement) for every statement of the principal's policies."""
    allowed_by = None
    for where, statement in statements:
        if not statement_applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(False, True, where)
        if statement.get("Effect") == "Allow" and allowed_by is None:
            allowed_by = where
    return Decision(allowed_by is not None, False, allowed_by)


# -- conditions ----------------------------------------------------------------------------
def _string(op: str) -> Callable[[str, str], bool]:
    ops: dict[str, Callable[[str, str], bool]] = {
        "StringEquals": lambda v, p: v == p,
        "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
        "StringLike": lambda v, p: glob_regex(p).fullmatch(v) is not None,
        "ArnEquals": lambda v, p: v == p,
        "ArnLike": lambda v, p: arn_like(p, v),
        "Bool": lambda v, p: v.lower() == p.lower(),
        "NumericEquals": lambda v, p: float(v) == float(p),
        "NumericLessThan": lambda v, p: float(v) < float(p),
        "NumericLessThanEquals": lambda v, p: float(v) <= float(p),
        "NumericGreaterThan": lambda v, p: float(v) > float(p),
        "NumericGreaterThanEquals": lambda v, p: float(v) >= float(p),
    }
    try:
        return ops[op]
    except KeyError:
        raise NotEmulated(f"the condition operator {op!r} is not emulated") from None


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}
_OPERATOR = re.compile(r"^(?:(ForAllValues|ForAnyValue):)?(\w+?)(IfExists)?$")


def conditions_match(block: Mapping[str, Any], context: Lookup) -> bool:
    return all(
        _operator_matches(operator, key, as_list(values), context)
        for operator, keys in block.items()
        for key, values in keys.items()
    )


def _operator_matches(operator: str, key: str, wanted: list[Any], context: Lookup) -> bool:
    parsed = _OPERATOR.match(operator)
    if parsed is None:
        raise NotEmulated(f"the condition operator {operator!r} is not emulated")
    qualifier, base, if_exists = parsed.groups()
    present = context(key)
    patterns = [str(w).lower() if isinstance(w, bool) else str(w) for w in wanted]
    if base == "Null":
        absent = present is None or present == []
        return any((p.lower() == "true") == absent for p in patterns)
    negated = base in _NEGATED
    test = _string(_NEGATED.get(base, base))
    if present is None:
        return _when_absent(qualifier, bool(if_exists), negated)
    if qualifier == "ForAllValues":  # every value of the request matches some pattern
        return all(_one(test, v, patterns, negated) for v in present)
    if qualifier == "ForAnyValue":
        return any(_one(test, v, patterns, negated) for v in present)
    if negated:  # no value of the request matches any pattern
        return all(_one(test, v, patterns, True) for v in present)
    return any(_one(test, v, patterns, False) for v in present)


def _when_absent(qualifier: str | None, if_exists: bool, negated: bool) -> bool:
    """A key missing from the request: ForAllValues holds (an empty set), ...IfExists
    holds, a negated operator holds, anything else fails."""
    if qualifier == "ForAllValues":
        return True
    return if_exists or (negated and qualifier is None)


def _one(test: Callable[[str, str], bool], value: str, patterns: list[str], negated: bool) -> bool:
    hit = any(test(value, p) for p in patterns)
    return not hit if negated else hit
