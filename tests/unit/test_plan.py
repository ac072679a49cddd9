"""The step planner, by property: whatever the strategy, the steps are safe to apply.

For every valid strategy: percentages are whole numbers, strictly increasing, the last is
100; the ALB weights of every step are in 0..999 and split traffic exactly (the new group
gets `percent` out of 100); the new group's weight only grows and the old one's only
shrinks. Invalid strategies raise InvalidInput naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bluegreen.errors import InvalidInput
from bluegreen.switch.plan import (
    MAX_BAKE_SECONDS,
    MAX_STEPS,
    MIN_LINEAR_PERCENT,
    plan_steps,
    weights_for,
)

pytestmark = pytest.mark.unit

LIVE, IDLE = "arn:tg/blue", "arn:tg/green"
bakes = st.integers(min_value=0, max_value=MAX_BAKE_SECONDS)

canaries = st.builds(
    lambda p, b: {"type": "canary", "percent": p, "bakeSeconds": b},
    st.integers(1, 99),
    bakes,
)
linears = st.builds(
    lambda p, b: {"type": "linear", "stepPercent": p, "stepBakeSeconds": b},
    st.integers(MIN_LINEAR_PERCENT, 100),
    bakes,
)
all_at_once = st.builds(lambda b: {"type": "all-at-once", "bakeSeconds": b}, bakes)
explicit = st.lists(st.integers(1, 99), max_size=MAX_STEPS - 1, unique=True).map(
    lambda ps: {"type": "steps", "steps": [{"percent": p} for p in [*sorted(ps), 100]]}
)
valid_strategies = st.one_of(canaries, linears, all_at_once, explicit)


def assert_safe(steps: list[dict[str, int]]) -> None:
    percents = [s["percent"] for s in steps]
    assert all(isinstance(p, int) for p in percents)
    assert percents == sorted(set(percents)), "strictly increasing"
    assert percents[-1] == 100
    assert percents[0] > 0
    previous = weights_for(0, LIVE, IDLE)
    for step in steps:
        weights = weights_for(step["percent"], LIVE, IDLE)
        assert all(0 <= w <= 999 for w in weights.values())
        assert sum(weights.values()) > 0
        # exact: the new group gets exactly `percent` % of the traffic
        assert weights[IDLE] * 100 == step["percent"] * sum(weights.values())
        assert weights[IDLE] > previous[IDLE]
        assert weights[LIVE] <= previous[LIVE]
        assert 0 <= step["bakeSeconds"] <= MAX_BAKE_SECONDS
        previous = weights
    assert previous == {LIVE: 0, IDLE: 100}


@given(valid_strategies)
def test_every_valid_strategy_plans_safe_steps(strategy: dict[str, Any]) -> None:
    assert_safe(plan_steps(strategy))


@given(canaries)
def test_a_canary_is_its_percentage_then_everything(strategy: dict[str, Any]) -> None:
    steps = plan_steps(strategy)
    assert [s["percent"] for s in steps] == [strategy["percent"], 100]
    assert steps[0]["bakeSeconds"] == strategy["bakeSeconds"]


@given(linears)
def test_a_linear_strategy_moves_by_equal_steps_and_ends_at_100(strategy: dict[str, Any]) -> None:
    step = strategy["stepPercent"]
    percents = [s["percent"] for s in plan_steps(strategy)]
    assert percents[:-1] == [step * (i + 1) for i in range(len(percents) - 1)]
    assert len(percents) == -(-100 // step)  # ceil(100 / step)
    if len(percents) > 1:  # the last step may be shorter, never longer
        assert 0 < percents[-1] - percents[-2] <= step


@given(explicit)
def test_explicit_steps_are_kept_as_given(strategy: dict[str, Any]) -> None:
    planned = plan_steps(strategy)
    assert [s["percent"] for s in planned] == [s["percent"] for s in strategy["steps"]]
    assert all(s["bakeSeconds"] == 0 for s in planned)  # the default


@given(st.integers(0, 100))
def test_weights_are_the_percentages_themselves(percent: int) -> None:
    assert weights_for(percent, LIVE, IDLE) == {LIVE: 100 - percent, IDLE: percent}


# -- invalid strategies name the field ----------------------------------------------------------
@given(st.integers().filter(lambda p: not 1 <= p <= 99))
def test_a_canary_percentage_outside_1_to_99_names_the_field(percent: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        plan_steps({"type": "canary", "percent": percent, "bakeSeconds": 60})
    assert refused.value.field == "strategy.percent"


@given(st.integers().filter(lambda p: not MIN_LINEAR_PERCENT <= p <= 100))
def test_a_linear_step_outside_5_to_100_names_the_field(percent: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        plan_steps({"type": "linear", "stepPercent": percent, "stepBakeSeconds": 60})
    assert refused.value.field == "strategy.stepPercent"


@given(st.lists(st.integers(1, 100), min_size=2, max_size=MAX_STEPS))
def test_explicit_steps_that_do_not_strictly_increase_name_the_first_bad_step(
    percents: list[int],
) -> None:
    bad = next((i for i in range(1, len(percents)) if percents[i] <= percents[i - 1]), None)
    strategy = {"type": "steps", "steps": [{"percent": p} for p in percents]}
    if bad is None:  # increasing: valid if it ends at 100, else the list is refused
        if percents[-1] == 100:
            assert_safe(plan_steps(strategy))
            return
        with pytest.raises(InvalidInput) as refused:
            plan_steps(strategy)
        assert refused.value.field == "strategy.steps"
        assert "last step must send 100%" in refused.value.reason
        return
    with pytest.raises(InvalidInput) as refused:
        plan_steps(strategy)
    assert refused.value.field == f"strategy.steps[{bad}].percent"


@pytest.mark.parametrize(
    ("strategy", "field", "reason"),
    [
        (None, "strategy", "must be an object"),
        ([], "strategy", "must be an object"),
        ({}, "strategy.type", "must be one of canary, linear, all-at-once, steps"),
        ({"type": "blue-green"}, "strategy.type", "got 'blue-green'"),
        ({"type": "canary", "bakeSeconds": 60}, "strategy.percent", "is required"),
        ({"type": "canary", "percent": 10}, "strategy.bakeSeconds", "is required"),
        ({"type": "canary", "percent": 10.5, "bakeSeconds": 1}, "strategy.percent", "whole"),
        ({"type": "canary", "percent": True, "bakeSeconds": 1}, "strategy.percent", "whole"),
        ({"type": "canary", "percent": "10", "bakeSeconds": 1}, "strategy.percent", "whole"),
        (
            {"type": "canary", "percent": 10, "bakeSeconds": MAX_BAKE_SECONDS + 1},
            "strategy.bakeSeconds",
            "between 0 and 86400",
        ),
        ({"type": "linear", "stepPercent": 10}, "strategy.stepBakeSeconds", "is required"),
        ({"type": "all-at-once", "bakeSeconds": -1}, "strategy.bakeSeconds", "between"),
        ({"type": "steps"}, "strategy.steps", "non-empty list"),
        ({"type": "steps", "steps": []}, "strategy.steps", "non-empty list"),
        ({"type": "steps", "steps": [100]}, "strategy.steps[0]", "must be an object"),
        ({"type": "steps", "steps": [{"percent": 0}]}, "strategy.steps[0].percent", "between"),
        (
            {"type": "steps", "steps": [{"percent": 100, "bakeSeconds": -5}]},
            "strategy.steps[0].bakeSeconds",
            "between",
        ),
        (
            {"type": "steps", "steps": [{"percent": p} for p in range(1, MAX_STEPS + 2)]},
            "strategy.steps",
            f"at most {MAX_STEPS} steps",
        ),
    ],
)
def test_an_invalid_strategy_names_the_field_and_why(
    strategy: Any, field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        plan_steps(strategy)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_the_planner_and_the_request_schema_agree_on_the_bounds() -> None:
    # The schema refuses first; the planner's own bounds are the same numbers
    from bluegreen.requests.schema import schema

    definitions = schema()["definitions"]
    assert definitions["explicitSteps"]["properties"]["steps"]["maxItems"] == MAX_STEPS
    linear = definitions["linearStrategy"]["properties"]["stepPercent"]
    assert (linear["minimum"], linear["maximum"]) == (MIN_LINEAR_PERCENT, 100)
    assert definitions["bakeSeconds"]["maximum"] == MAX_BAKE_SECONDS
    assert -(-100 // MIN_LINEAR_PERCENT) <= MAX_STEPS  # no linear strategy has more steps
