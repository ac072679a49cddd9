"""The shell blocks of the documentation, and which test runs each one.

Every fenced shell block (```sh, ```bash, ```console, ```shell) in README.md, docs/ and
examples/ is meant to be run by a person. Each one is either

- run offline against the emulator by the test a `Runner` names (the blocks under one
  heading of one file, in order), or
- marked, on the line right before its fence, with one of `MARKERS`: `needs-aws` (it
  needs a real AWS account, or an incident the docs cannot stage: the test skips it),
  `make-targets` (make commands: each target is checked to exist in the Makefile; they
  are the test suite itself, or take minutes) or `needs-docker` (`sam local invoke` in
  a Lambda container: `make local-invoke` runs the same invocations, outside the suite).

tests/integration/test_docs.py fails on a block that is neither run nor marked, so a new
block is run from the day it is written, or says why not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPERATIONS = ROOT / "docs" / "operations.md"
EXAMPLES = ROOT / "examples" / "README.md"
SHELL = frozenset({"sh", "bash", "console", "shell"})
MARKERS = {
    "needs-aws": "needs a real AWS account (or an incident in progress): not run offline",
    "make-targets": "make commands: each target is checked against the Makefile, not run",
    "needs-docker": "sam local invoke in a container (root, docker): make local-invoke runs it",
}
EMULATOR_ENDPOINT = "http://127.0.0.1:5005"  # what the docs say; tests serve on a free port
_FENCE = re.compile(r"^```([A-Za-z0-9_-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs:\s*([a-z-]+)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # the opening fence's line (1-based)
    lang: str
    text: str
    marker: str | None
    headings: tuple[str, ...]  # the headings in effect ("## Runbook", "### ...")

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """Every Markdown file of the documentation."""
    found = [README, *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("examples/**/*.md"))]
    found += sorted(ROOT.glob("ci-examples/**/*.md"))
    return found


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one file, with the marker and headings each sits under."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    headings: dict[int, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = line.strip()
        fence = _FENCE.match(line)
        if fence is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        marker = _MARKER.match(lines[index - 1]) if index else None
        found.append(
            Block(
                path=path,
                line=index + 1,
                lang=fence.group(1),
                text="\n".join(lines[index + 1 : end]) + "\n",
                marker=marker.group(1) if marker else None,
                headings=tuple(headings[k] for k in sorted(headings)),
            )
        )
        index = end + 1
    return found


def shell_blocks() -> list[Block]:
    return [b for path in documents() for b in blocks(path) if b.lang in SHELL]


@dataclass(frozen=True)
class Runner:
    """The unmarked shell blocks under `heading` in `path`, run in order by `test`."""

    test: str
    path: Path
    heading: str

    def blocks(self) -> list[Block]:
        found = [
            b
            for b in blocks(self.path)
            if b.lang in SHELL and b.marker is None and self.heading in b.headings
        ]
        assert found, f"{self.test}: no block to run under {self.heading!r} in {self.path.name}"
        return found


WALKTHROUGH = Runner(
    "tests/integration/test_cli.py::test_the_readme_walkthrough_runs_against_the_emulator",
    README,
    "## Operating it: the bluegreen CLI",
)
SERVER = Runner(
    "tests/integration/test_docs.py::test_make_server_serves_what_the_readme_says",
    README,
    "### As a server (`make server`)",
)
NOTIFICATIONS = Runner(
    "tests/integration/test_docs.py::test_the_subscription_for_people_runs_against_the_emulator",
    OPERATIONS,
    "## People told: notifications",
)
DASHBOARD = Runner(
    "tests/integration/test_docs.py::test_the_dashboard_renders_from_the_emulator",
    OPERATIONS,
    "## The dashboard",
)
RUNBOOK = Runner(
    "tests/integration/test_cli.py::test_the_runbook_commands_run_against_the_emulator",
    OPERATIONS,
    "## Runbook",
)
EXAMPLE_FLEETS = Runner(
    "tests/integration/test_docs.py::test_the_example_fleets_deploy_and_switch_offline",
    EXAMPLES,
    "# Example fleets, as code",
)
RUNNERS = (WALKTHROUGH, SERVER, NOTIFICATIONS, DASHBOARD, RUNBOOK, EXAMPLE_FLEETS)


def on_endpoint(text: str, endpoint: str) -> str:
    """A block as typed against the emulator served at `endpoint` instead of the default."""
    return text.replace(EMULATOR_ENDPOINT, endpoint)
