"""The example pipelines in ci-examples/ stay runnable: each is valid YAML, deploys and
watches, offers abort, answers approvals only with the approver role (never the CI role
that started the switch), and every `bluegreen` command in them is accepted by the CLI's
own argument parser (a renamed flag breaks this test, not a release)."""

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
def test_the_example_pipeline_deploys_watches_and_offers_abort(name: str) -> None:
    path = EXAMPLES / name
    assert isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict)
    commands = bluegreen_commands(path)
    verbs = [c[0] for c in commands]
    assert {"plan", "deploy", "abort"} <= set(verbs), verbs
    deploy = next(c for c in commands if c[0] == "deploy")
    assert "--watch" in deploy and "--require-approval" in deploy
    for argv in commands:
        parser().parse_args(argv)  # exits (fails the test) on an unknown flag


def test_only_the_approver_role_answers_approvals_in_the_github_workflow() -> None:
    # Given the GitHub workflow's jobs
    jobs = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))["jobs"]
    answering = {
        name: job
        for name, job in jobs.items()
        if any(
            str(step.get("run", "")).startswith(("bluegreen approve", "bluegreen reject"))
            for step in job["steps"]
        )
    }
    # Then one job approves and rejects, in its own environment, with the approver role
    assert list(answering) == ["answer"]
    job = answering["answer"]
    assert job["environment"] == "prod-approval"
    role = job["steps"][0]["with"]["role-to-assume"]
    assert "ApproverRole" in role and "CiRole" not in role
    # and no job that assumes the CI role answers one
    for name, other in jobs.items():
        if "CiRole" in str(other["steps"][0].get("with", {}).get("role-to-assume", "")):
            assert name not in answering


def test_the_gitlab_pipeline_leaves_approval_to_an_approver() -> None:
    text = (EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8")
    verbs = {c[0] for c in bluegreen_commands(EXAMPLES / "gitlab-ci.yml")}
    assert not verbs & {"approve", "reject"}  # no job of the pipeline answers its own switch
    assert "ApproverRoleArn" in text and "bluegreen approve" in text  # it says who does, how
