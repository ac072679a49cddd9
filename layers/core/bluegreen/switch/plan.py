"""The step planner: a strategy becomes the list of traffic steps of a switch.

Each step gives the percentage of traffic on the new target group and how long to bake
after it. Percentages are whole numbers, strictly increasing, and the last is 100; ALB
weights are the percentages themselves (0..100, inside the 0..999 ALB range), so the
traffic split is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput

STRATEGIES = ("canary", "linear", "all-at-once", "steps")
MAX_STEPS = 10  # as the request schema says: bounds the plan and the record
MAX_BAKE_SECONDS = 24 * 3600
MIN_LINEAR_PERCENT = 100 // MAX_STEPS


def plan_steps(strategy: Any) -> list[dict[str, int]]:
    """[{"percent": p, "bakeSeconds": s}, ...] for a validated-or-not strategy object."""
    if not isinstance(strategy, Mapping):
        raise InvalidInput("strategy", "must be an object with a `type`")
    kind = strategy.get("type")
    if kind == "canary":
        percent = _int(strategy, "percent", low=1, high=99)
        bake = _int(strategy, "bakeSeconds", low=0, high=MAX_BAKE_SECONDS)
        final = _int(strategy, "finalBakeSeconds", low=0, high=MAX_BAKE_SECONDS, default=0)
        return [{"percent": percent, "bakeSeconds": bake}, {"percent": 100, "bakeSeconds": final}]
    if kind == "linear":
        step = _int(strategy, "stepPercent", low=MIN_LINEAR_PERCENT, high=100)
        bake = _int(strategy, "stepBakeSeconds", low=0, high=MAX_BAKE_SECONDS)
        percents = [*range(step, 100, step), 100]
        return [{"percent": p, "bakeSeconds": bake} for p in percents]
    if kind == "all-at-once":
        bake = _int(strategy, "bakeSeconds", low=0, high=MAX_BAKE_SECONDS, default=0)
        return [{"percent": 100, "bakeSeconds": bake}]
    if kind == "steps":
        return _explicit_steps(strategy.get("steps"))
    raise InvalidInput("strategy.type", f"must be one of {', '.join(STRATEGIES)}, got {kind!r}")


def _explicit_steps(steps: Any) -> list[dict[str, int]]:
    if not isinstance(steps, list) or not steps:
        raise InvalidInput("strategy.steps", "must be a non-empty list of {percent, bakeSeconds}")
    if len(steps) > MAX_STEPS:
        raise InvalidInput("strategy.steps", f"at most {MAX_STEPS} steps")
    result = []
    previous = 0
    for index, step in enumerate(steps):
        where = f"strategy.steps[{index}]"
        if not isinstance(step, Mapping):
            raise InvalidInput(where, "must be an object {percent, bakeSeconds}")
        percent = _int(step, "percent", low=1, high=100, where=where)
        if percent <= previous:
            raise InvalidInput(
                f"{where}.percent", f"must be greater than the previous step ({previous})"
            )
        bake = _int(step, "bakeSeconds", low=0, high=MAX_BAKE_SECONDS, default=0, where=where)
        result.append({"percent": percent, "bakeSeconds": bake})
        previous = percent
    if previous != 100:
        raise InvalidInput(
            "strategy.steps", f"the last step must send 100% of traffic, not {previous}%"
        )
    return result


def _int(
    source: Mapping[str, Any],
    key: str,
    low: int,
    high: int,
    default: int | None = None,
    where: str = "strategy",
) -> int:
    value = source.get(key, default)
    name = f"{where}.{key}"
    if value is None:
        raise InvalidInput(name, "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}, got {value}")
    return value


def weights_for(percent: int, live: str, idle: str) -> dict[str, int]:
    """ALB weights for `percent` % on the idle (new) target group."""
    return {live: 100 - percent, idle: percent}
