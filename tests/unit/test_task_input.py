"""What a task takes from the machine's state is checked by field, never trusted."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.errors import InvalidInput
from bluegreen.switch import task_input as given

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("extensions", [[], ["1"], "2", -1, True, 1.5, {"n": 1}])
def test_a_cursor_whose_extensions_are_not_a_whole_number_is_refused_by_name(
    extensions: Any,
) -> None:
    # Given a step's event whose gate cursor counts its extensions with something else
    event = {"cursor": {"extensions": extensions}}
    # When a task reads the cursor, Then it is refused, naming the field and the value
    with pytest.raises(InvalidInput, match=r"cursor\.extensions.*whole number"):
        given.cursor(event)


@pytest.mark.parametrize(
    ("event", "used"),
    [({}, 0), ({"cursor": None}, 0), ({"cursor": {"extensions": None}}, 0),
     ({"cursor": {"extensions": 3}}, 3)],
)  # fmt: skip
def test_a_missing_or_whole_extension_count_is_read_as_given(
    event: dict[str, Any], used: int
) -> None:
    assert (given.cursor(event).get("extensions") or 0) == used
