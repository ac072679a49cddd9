"""The example pipelines in ci-examples/ stay runnable: each is valid YAML, deploys and
watches, offers approve and abort, and every `bluegreen` command in them is accepted by
the CLI's own argument parser (a renamed flag breaks this test, not a release)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from bluegreen_cli.cli import parser

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "ci-examples"
PIPELINES = ["gitlab-ci.yml", "github-actions.yml"]


def bluegreen_commands(path: Path) -> list[list[str]]:
    commands = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip().removeprefix("- ").removeprefix("run: ")
        if not text.startswith("bluegreen "):
            continue
        text = text.split(" || ", 1)[0]
        text = re.sub(r"\$\{\{[^}]*\}\}|\$\{[^}]*\}|\$[A-Z_]+", "x", text)
        commands.append(shlex.split(text)[1:])
    return commands


@pytest.mark.parametrize("name", PIPELINES)
def test_the_example_pipeline_deploys_watches_and_offers_approve_and_abort(name: str) -> None:
    path = EXAMPLES / name
    assert isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict)
    commands = bluegreen_commands(path)
    verbs = [c[0] for c in commands]
    assert {"plan", "deploy", "approve", "abort"} <= set(verbs), verbs
    deploy = next(c for c in commands if c[0] == "deploy")
    assert "--watch" in deploy and "--require-approval" in deploy
    for argv in commands:
        parser().parse_args(argv)  # exits (fails the test) on an unknown flag
