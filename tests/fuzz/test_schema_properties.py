"""Properties of the request schema's errors, over valid requests of every variant.

- a typo of any field of any object, at any depth, is named with its full path;
- a list one item over its cap is named by its path, and says the cap;
- anything but an object is refused naming `$`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluegreen.errors import InvalidInput
from bluegreen.requests import parse_request
from bluegreen.requests.schema import path_of
from tests.fuzz.strategies import json_values
from tests.fuzz.test_request_fuzz import EC2_FULL, ECS, ECS_NATIVE

pytestmark = pytest.mark.unit

EXAMPLES = [EC2_FULL, ECS, ECS_NATIVE]
MAPS = {"dimensions"}  # objects whose keys are the user's (names of dimensions)


def _objects(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(value, dict):
        found.append(path)
        for key, child in value.items():
            if key not in MAPS:
                found += _objects(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _objects(child, (*path, index))
    return found


def _lists(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _lists(child, (*path, key))
    elif isinstance(value, list):
        found.append(path)
        for index, child in enumerate(value):
            found += _lists(child, (*path, index))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def _refused(document: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        parse_request(document)
    return refused.value


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_typo_at_any_depth_is_named_with_its_full_path(data: st.DataObject) -> None:
    # Given a valid request and one of its objects, at any depth
    document = copy.deepcopy(data.draw(st.sampled_from(EXAMPLES)))
    path = data.draw(st.sampled_from(_objects(document)))
    target = _at(document, path)
    assert isinstance(target, dict) and target
    # When one of its fields is misspelt (a letter doubled)
    key = data.draw(st.sampled_from(sorted(target)))
    typo = key + key[-1]
    target[typo] = target.pop(key)
    # Then the error names exactly that field, with its full path
    error = _refused(document)
    assert error.field == path_of([*path, typo]), error
    assert "unknown field" in error.reason


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_list_over_its_cap_is_named_with_the_cap(data: st.DataObject) -> None:
    from bluegreen.requests.schema import schema

    # Given a valid request and one of its lists
    document = copy.deepcopy(data.draw(st.sampled_from(EXAMPLES)))
    candidates = [p for p in _lists(document) if _at(document, p)]
    path = data.draw(st.sampled_from(candidates))
    items = _at(document, path)
    caps = sorted(_caps(schema()).get(str(path[-1]), ()))
    if not caps:
        return  # a list with a fixed size (targetGroupArns) or inside a map
    # When it holds one item more than its cap (distinct items where they must be): lists
    # of one name may have different caps in different places, so the smallest first
    template = items[0]
    for cap in caps:
        items[:] = [_variant(template, i) for i in range(cap + 1)]
        try:
            parse_request(document)
        except InvalidInput as error:
            # Then the error names the list and says the cap
            assert error.field == path_of(path), error
            assert f"at most {cap}" in error.reason
            return
    pytest.fail(f"{path_of(path)} holds {caps[-1] + 1} items and was accepted")


def _caps(node: Any, found: dict[str, set[int]] | None = None) -> dict[str, set[int]]:
    """Property name -> the maxItems of every list property of that name in the schema."""
    found = {} if found is None else found
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            choices = (child.get("items") or {}).get("enum") if isinstance(child, dict) else None
            if choices and len(choices) <= child.get("maxItems", 0):
                continue  # a list of distinct choices cannot hold one more than its cap
            if isinstance(child, dict) and "maxItems" in child and child.get("minItems") != 2:
                found.setdefault(name, set()).add(int(child["maxItems"]))
        for child in node.values():
            _caps(child, found)
    elif isinstance(node, list):
        for child in node:
            _caps(child, found)
    return found


def _variant(item: Any, index: int) -> Any:
    if isinstance(item, str):
        return item[:-4] + f"{index:04x}" if item.startswith("arn:") else f"{item}{index}"
    if isinstance(item, dict):
        changed = copy.deepcopy(item)
        if "percent" in changed:
            changed["percent"] = min(100, index + 1)
        if "id" in changed:
            changed["id"] = f"c{index}"
        return changed
    return item


@settings(max_examples=100, deadline=None)
@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_anything_but_an_object_is_refused_naming_the_whole_input(document: Any) -> None:
    error = _refused(document)
    assert error.field == "$"
    assert "must be an object" in error.reason
