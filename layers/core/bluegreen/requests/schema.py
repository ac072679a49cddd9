"""The request's JSON Schema (`switch-request.schema.json`, beside this file), and its
errors said the way a person fixes them: the full field path and the reason.

The schema is the one description of the request's shape: every object closed (no
unknown field at any depth), every count and string bounded, no control or
bidirectional-formatting character in any text. Editors use the same file for spec
files. `jsonschema` validates it (draft-07); the validator is built on the first request
a process checks, so a function that never parses a request never imports it.

Every problem is found (not only the first); the one reported is chosen so that a typo
is named before the "missing field" it causes, and the others are listed after it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

SCHEMA_FILE = Path(__file__).with_name("switch-request.schema.json")
# Characters no text field may hold: C0 and C1 controls, and the bidirectional
# formatting characters that make a terminal show text in another order
FORBIDDEN = re.compile("[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# Fields the request once had, with what replaced them
REMOVED = {
    "baseUrl": (
        "is no longer part of the request: probes go to the test listener's own load "
        "balancer (its DNS name, protocol and port)"
    ),
}
_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
# Which problem to name first when there are several: a typo explains the "required"
# error it causes; a wrong type explains everything below it.
_RANK = {"additionalProperties": 0, "type": 1, "enum": 2, "const": 2, "required": 3}


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> Any:
    import jsonschema  # here, not at import: only a function that checks a request pays

    return jsonschema.Draft7Validator(schema())


def check(document: Any) -> None:
    """Raise `InvalidInput` for the first problem (by rank), naming the others too."""
    problems = sorted(
        (p for error in _validator().iter_errors(document) for p in _explain(error)),
        key=lambda p: (p[0], p[1]),
    )
    if not problems:
        return
    _, field, reason = problems[0]
    others = sorted({f for _, f, _ in problems[1:] if f != field})
    if others:
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        reason += f" (also wrong: {listed})"
    raise InvalidInput(field, reason)


def path_of(parts: Iterable[Any]) -> str:
    """`strategy.steps[2].percent` from ("strategy", "steps", 2, "percent"); `$` is the whole."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def _explain(error: Any) -> list[tuple[int, str, str]]:
    where = list(error.absolute_path)
    rank = _RANK.get(error.validator, 4)
    if error.validator == "additionalProperties":
        return [
            (rank, path_of([*where, key]), _unknown(key, error.schema))
            for key in _unknown_keys(error.instance, error.schema)
        ]
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        found = [(rank, path_of([*where, missing]), "is required")]
        # a misspelt key that picks a variant (`mode`, `type`) is named as the typo too
        known = error.schema.get("properties", {})
        for key in sorted(k for k in error.instance if k not in known):
            if difflib.get_close_matches(key, [missing], n=1, cutoff=0.6):
                what = error.schema.get("title", "this object")
                hint = f"unknown field of {what} (did you mean {missing}?)"
                found.append((0, path_of([*where, key]), hint))
        return found
    return [(rank, path_of(where), _reason(error))]


def _unknown_keys(instance: Mapping[str, Any], subschema: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in instance if k not in subschema.get("properties", {}))


def _unknown(key: str, subschema: Mapping[str, Any]) -> str:
    if key in REMOVED:
        return REMOVED[key]
    what = subschema.get("title", "this object")
    known = list(subschema.get("properties", {}))
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"
    return f"unknown field of {what}{hint}"


def _reason(error: Any) -> str:
    kind, value, sub, limit = error.validator, error.instance, error.schema, error.validator_value
    explain = _REASONS.get(kind)
    if explain is not None:
        return explain(value, sub, limit)
    return _size_reason(kind, limit, value)


def _bounds(value: Any, sub: Mapping[str, Any], _: Any) -> str:
    noun = "a whole number" if sub.get("type") == "integer" else "a number"
    return (
        f"must be {noun} from {sub.get('minimum'):g} to {sub.get('maximum'):g}, got {_shown(value)}"
    )


_REASONS: dict[str, Any] = {
    "type": lambda value, _, limit: f"must be {_expected(limit)}, got {_json_type(value)}",
    "enum": lambda value, _, limit: (
        f"must be one of {', '.join(str(v) for v in limit)}, got {_shown(value)}"
    ),
    "const": lambda value, _, limit: f"must be {limit!r}, got {_shown(value)}",
    "pattern": lambda value, sub, _: (
        f"must be {sub.get('title', 'text of the documented form')}, got {_shown(value)}"
    ),
    "not": lambda value, _, __: _forbidden(value),
    "minimum": _bounds,
    "maximum": _bounds,
}
_SIZES = {
    "minLength": lambda limit, _: (
        "must not be empty" if limit == 1 else f"must be at least {limit} characters"
    ),
    "maxLength": lambda limit, value: (
        f"must be text of at most {limit} characters, got {len(value)}"
    ),
    "minItems": lambda limit, _: f"must list at least {limit} item{'s' if limit > 1 else ''}",
    "maxItems": lambda limit, value: f"lists at most {limit} items, got {len(value)}",
    "uniqueItems": lambda _, value: f"lists {_shown(_duplicate(value))} twice",
    "maxProperties": lambda limit, value: f"has at most {limit} entries, got {len(value)}",
}


def _size_reason(kind: str, limit: Any, value: Any) -> str:
    explain = _SIZES.get(kind)
    if explain is None:
        return f"is not valid ({kind} {limit!r})"  # a keyword the schema does not use today
    return str(explain(limit, value))


def _forbidden(value: Any) -> str:
    found = FORBIDDEN.search(value) if isinstance(value, str) else None
    if found is None:
        return "holds a forbidden character"
    return (
        f"must not hold control or bidirectional-formatting characters "
        f"(U+{ord(found.group()):04X} at position {found.start()})"
    )


def _duplicate(values: Sequence[Any]) -> Any:
    seen: list[Any] = []
    for value in values:
        if value in seen:
            return value
        seen.append(value)
    return None


def _expected(types: str | list[str]) -> str:
    names = [types] if isinstance(types, str) else types
    return " or ".join(_TYPE_NAMES.get(t, t) for t in names if t != "null")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {_shown(value)}"
    return f"{type(value).__name__} {_shown(value)}"


def _shown(value: Any) -> str:
    """A value as an error may show it: repr (escapes what does not print), at most 80."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
