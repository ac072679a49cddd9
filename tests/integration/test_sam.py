"""The SAM CLI accepts and builds the bundle, as `sam validate --lint` and `sam build` would
before a deploy.

The `sam` binary comes from SAM_CLI (set by `make test`), else `.venv-sam/bin/sam`;
`sam build` needs a python3.13 interpreter (the functions' runtime), found on PATH or
under pyenv. Each test skips, saying why, only when its tool is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds; both commands take a few seconds here


def _sam() -> str:
    candidates = [os.environ.get("SAM_CLI", ""), str(ROOT / ".venv-sam" / "bin" / "sam")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no SAM CLI: set SAM_CLI or run `make test`, which installs it in .venv-sam")


def _runs(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def _python313() -> Path:
    """A python3.13 that really runs (a pyenv shim for an inactive version does not)."""
    candidates = []
    on_path = shutil.which("python3.13")
    if on_path:
        candidates.append(Path(on_path))
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run(
            [pyenv, "root"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
        if root:
            candidates += sorted(Path(root).glob("versions/3.13*/bin/python3.13"), reverse=True)
    for candidate in candidates:
        if _runs(str(candidate)):
            return candidate
    pytest.skip(
        "sam build needs a python3.13 interpreter (the functions' runtime): none on PATH "
        "or under $(pyenv root)/versions/3.13*; install one, e.g. `pyenv install 3.13`"
    )


def _sam_env(extra_path: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    if extra_path is not None:
        env["PATH"] = f"{extra_path}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_sam_validate_lint_is_clean() -> None:
    # Given the SAM CLI, When it validates the template with cfn-lint
    done = subprocess.run(
        [_sam(), "validate", "--lint", "--template", "template.yaml", "--region", "us-east-1"],
        cwd=ROOT,
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    # Then it is a valid SAM template with no lint finding
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_sam_build_packages_the_layer_and_every_function(tmp_path: Path) -> None:
    # Given the SAM CLI and a python3.13 first on its PATH
    sam, python = _sam(), _python313()

    # When it builds the bundle into a fresh directory
    build = tmp_path / "build"
    done = subprocess.run(
        [
            sam,
            "build",
            "--template",
            "template.yaml",
            "--build-dir",
            str(build),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=ROOT,
        env=_sam_env(python.parent),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    # Then it succeeds, and the layer holds the domain package and its requirements
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    layer = build / "CoreLayer" / "python"
    assert (layer / "bluegreen" / "__init__.py").is_file()
    assert (layer / "aws_lambda_powertools").is_dir()
    # and every function of the template is built with its handler's code
    built = (build / "template.yaml").read_text(encoding="utf-8")
    functions = [p for p in build.iterdir() if p.is_dir() and p.name.endswith("Function")]
    assert functions
    for function in functions:
        assert any(function.glob("*.py")), f"{function.name} has no code"
        assert function.name in built
    # and no function carries its own copy of the layer's package
    assert not any((f / "bluegreen").exists() for f in functions)
