"""The SAM template as CloudFormation would deploy it: transformed by SAM's own translator.

The emulator reads the roles and policies IAM enforces from the transformed template,
exactly as SAM generates them (policy templates, `Policies:` statements, the managed
policies it attaches). aws-sam-translator lives in the SAM CLI's virtualenv (`.venv-sam`,
built by `make`): its pydantic pin conflicts with the project's, so the transform runs
there (client/bluegreen_security/transform.py) and its result is cached by content, on
disk (`.aws-sam/emulator/`) and in memory, so a template is transformed once.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .template import TemplateError

ROOT = Path(__file__).resolve().parents[3]
TRANSFORM = ROOT / "client" / "bluegreen_security" / "transform.py"
CACHE = ROOT / ".aws-sam" / "emulator"
_MEMORY: dict[str, str] = {}  # transformed templates as JSON text: json.loads is a cheap copy


def sam_python() -> Path:
    """The interpreter with aws-sam-translator: $BLUEGREEN_SAM_PYTHON, the SAM CLI's
    ($SAM_CLI, as `make test` sets it), or the project's `.venv-sam`."""
    if os.environ.get("BLUEGREEN_SAM_PYTHON"):
        return Path(os.environ["BLUEGREEN_SAM_PYTHON"])
    if os.environ.get("SAM_CLI"):
        return Path(os.environ["SAM_CLI"]).parent / "python"
    return ROOT / ".venv-sam" / "bin" / "python"


def _key(text: str) -> str:
    digest = hashlib.sha256(text.encode())
    digest.update(TRANSFORM.read_bytes())
    return digest.hexdigest()[:32]


def transformed(template: Path) -> dict[str, Any]:
    """`template` transformed to plain CloudFormation (a copy the caller may change)."""
    return transformed_many([template])[0]


def transformed_many(templates: list[Path]) -> list[dict[str, Any]]:
    keys = [_key(t.read_text(encoding="utf-8")) for t in templates]
    missing = {k: t for k, t in zip(keys, templates, strict=True) if k not in _MEMORY}
    for key in list(missing):
        cached = CACHE / f"{key}.json"
        if cached.is_file():
            _MEMORY[key] = cached.read_text(encoding="utf-8")
            del missing[key]
    if missing:
        _run(missing)
    return [json.loads(_MEMORY[k]) for k in keys]


def _run(missing: dict[str, Path]) -> None:
    python = sam_python()
    if not python.exists():
        raise TemplateError(
            f"{python} is missing: the emulator enforces IAM from the SAM-transformed "
            "template and needs aws-sam-translator (`make test` or `make demo` builds it; or set "
            "BLUEGREEN_SAM_PYTHON to a Python that has it)"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        args = []
        for key, template in missing.items():
            args += [str(template), str(Path(scratch) / f"{key}.json")]
        done = subprocess.run(  # noqa: S603 - our own script, our own interpreter
            [str(python), str(TRANSFORM), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise TemplateError(f"SAM transform failed: {done.stderr.strip()}")
        for key in missing:
            out = Path(scratch) / f"{key}.json"
            _MEMORY[key] = out.read_text(encoding="utf-8")
            os.replace(out, CACHE / f"{key}.json")  # atomic: parallel workers may race
