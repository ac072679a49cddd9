"""Render statemachine/switch.asl.json as a Mermaid flowchart in docs/state-machine.md.

    python -m scripts.render_state_machine          # rewrite the picture
    python -m scripts.render_state_machine --check  # exit 1 if it is stale

GitHub and most Markdown viewers draw Mermaid blocks. The picture is derived from the
definition, so it cannot drift: tests/unit/test_state_machine_picture.py fails when the
ASL changes and the picture was not regenerated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASL = ROOT / "statemachine" / "switch.asl.json"
PICTURE = ROOT / "docs" / "state-machine.md"
SHAPES = {"Choice": ("{", "}"), "Wait": ("([", "])"), "Succeed": ("((", "))"), "Fail": ("[[", "]]")}


def render(definition: dict[str, Any]) -> str:
    states: dict[str, Any] = definition["States"]
    lines = ["flowchart TD", f"    start((start)) --> {definition['StartAt']}"]
    for name, state in states.items():
        opening, closing = SHAPES.get(state["Type"], ("[", "]"))
        label = name if state["Type"] != "Task" else f"{name}<br/><i>{_task_kind(state)}</i>"
        lines.append(f'    {name}{opening}"{label}"{closing}')
    for name, state in states.items():
        lines.extend(f"    {name} -->{edge} {target}" for edge, target in _edges(state))
    failures = [n for n, s in states.items() if s["Type"] == "Fail"]
    lines.append(f"    classDef fail fill:#fde2e1,stroke:#c0392b; class {','.join(failures)} fail")
    return "\n".join(lines) + "\n"


def _task_kind(state: dict[str, Any]) -> str:
    resource = state["Resource"]
    function = str(state.get("Parameters", {}).get("FunctionName", ""))
    name = function.strip("${}").removesuffix("FunctionArn")
    suffix = " (task token)" if resource.endswith(".waitForTaskToken") else ""
    return f"Lambda {name}{suffix}" if name else resource.rsplit(":", 1)[-1]


def _edges(state: dict[str, Any]) -> list[tuple[str, str]]:
    edges: list[tuple[str, str]] = []
    if "Next" in state:
        edges.append(("", state["Next"]))
    for choice in state.get("Choices", []):
        edges.append((f"|{_condition(choice)}|", choice["Next"]))
    if "Default" in state:
        edges.append(("|otherwise|", state["Default"]))
    for catch in state.get("Catch", []):
        errors = ", ".join(catch["ErrorEquals"]).replace("States.ALL", "any error")
        edges.append((f"|{errors}|", catch["Next"]))
    return [(edge.replace('"', "'"), target) for edge, target in edges]


def _condition(choice: dict[str, Any]) -> str:
    variable = choice.get("Variable", "").removeprefix("$.")
    for key, value in choice.items():
        if key.endswith("Equals"):
            return f"{variable} = {json.dumps(value)}".replace('"', "")
    return variable


def document(definition: dict[str, Any]) -> str:
    return (
        "# The switch state machine\n\n"
        "Generated from `statemachine/switch.asl.json` by `python -m scripts.render_state_machine`;"
        " do not edit by hand.\n\n"
        "Rectangles are Lambda tasks, diamonds choices, stadiums Wait states (no Lambda sleeps),"
        " red boxes the failed endings. Every failure after a lock is taken goes through"
        " `Rollback` (EC2) or `EcsAbort` (ECS).\n\n"
        f"```mermaid\n{render(definition)}```\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the picture is stale")
    args = parser.parse_args(argv)
    wanted = document(json.loads(ASL.read_text(encoding="utf-8")))
    current = PICTURE.read_text(encoding="utf-8") if PICTURE.exists() else ""
    if args.check:
        if current != wanted:
            print(
                f"{PICTURE.relative_to(ROOT)} is stale: run python -m scripts.render_state_machine"
            )
            return 1
        return 0
    PICTURE.write_text(wanted, encoding="utf-8")
    print(f"wrote {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
