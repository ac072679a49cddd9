"""Hypothesis strategies shared by the fuzz tests: JSON values and mutations of valid ones.

Random JSON alone rarely gets past the first check of a validator; mutating a valid
document (one field replaced by any JSON value, removed, or a stranger added, at any
depth) reaches every branch behind it.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    # values that look like what a field wants, so the next check runs too
    | st.sampled_from(
        [
            "",
            "EC2",
            "ECS",
            "canary",
            "linear",
            "all-at-once",
            "steps",
            "codedeploy",
            "ecs-native",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/0a/0b",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0c",
            "http://127.0.0.1:9",
            "/health",
            0,
            -1,
            1,
            100,
            101,
            7200,
            True,
            [],
            {},
        ]
    )
)
json_values = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, valid: Any, max_mutations: int = 3) -> Any:
    """`valid` with 1..max_mutations random changes, each at any depth."""
    document = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(_paths(document)))
        if not path:
            document = draw(json_values)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return document
