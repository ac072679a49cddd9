"""Function configuration: one validated model per function, read once per cold start.

Handlers call `load(Model)`; domain code receives the model and never reads os.environ.
A missing or malformed variable raises `InvalidConfiguration` naming it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, TypeVar, get_type_hints

from .errors import InvalidConfiguration

T = TypeVar("T")


def load(model: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build `model` (a dataclass whose fields are UPPER_CASE env names) from the env."""
    environ = os.environ if environ is None else environ
    hints = get_type_hints(model)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(model):  # type: ignore[arg-type]
        raw = environ.get(field.name)
        if raw is None or raw == "":
            if field.default is dataclasses.MISSING:
                raise InvalidConfiguration(field.name, "is required and not set")
            continue
        values[field.name] = _convert(field.name, raw, hints[field.name])
    return model(**values)


def _convert(name: str, raw: str, kind: Any) -> Any:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise InvalidConfiguration(name, f"must be an integer, got {raw!r}") from None
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in {"true", "false", "1", "0"}:
            raise InvalidConfiguration(name, f"must be true or false, got {raw!r}")
        return lowered in {"true", "1"}
    if kind is tuple[str, ...]:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw
