"""The state machine picture in docs/ is generated from the ASL and must be current."""

from __future__ import annotations

import json

import pytest

from scripts import render_state_machine as picture

pytestmark = pytest.mark.unit


def test_the_picture_matches_the_definition() -> None:
    # Given the committed picture and the committed definition
    current = picture.PICTURE.read_text(encoding="utf-8")
    # Then regenerating it changes nothing (else: python -m scripts.render_state_machine)
    assert current == picture.document(json.loads(picture.ASL.read_text(encoding="utf-8")))


def test_every_state_and_transition_is_drawn() -> None:
    definition = json.loads(picture.ASL.read_text(encoding="utf-8"))
    lines = picture.render(definition).splitlines()
    edges = {
        (line.split()[0], line.split()[-1])
        for line in lines
        if " -->" in line and "start" not in line
    }
    for name, state in definition["States"].items():
        assert any(line.startswith(f"    {name}") for line in lines), f"{name} not drawn"
        for target in [state.get("Next"), state.get("Default")] + [
            c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])
        ]:
            if target:
                assert (name, target) in edges, f"{name} -> {target} missing"
