"""Cold init: importing a handler module in a fresh interpreter, against `import boto3`.

Lambda's INIT phase is the handler module's import (nothing calls AWS at import time). Each
sample is a new `python` process that times only the import (interpreter start-up is the
same for both and left out); the baseline, a bare `import boto3`, is timed the same way in
the same run, interleaved, so the ratio holds on a busy or a quiet machine. Functions that
share a module (the switch tasks) share one measurement.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .functions import LAYER, Function

_TIMED_IMPORT = """
import importlib.util, sys, time
sys.path[:0] = [{layer!r}, {code_dir!r}]
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler_module", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""
_TIMED_BOTO3 = """
import time
started = time.perf_counter()
import boto3
print(time.perf_counter() - started)
"""
# What a handler sees at import on Lambda, minus anything that would reach AWS
_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "bluegreen",
    "POWERTOOLS_METRICS_NAMESPACE": "BlueGreen",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
}


@dataclass(frozen=True)
class InitRow:
    module: str  # functions/<dir>/app.py
    functions: tuple[str, ...]
    median_ms: float
    boto3_ms: float
    target: float  # ratio the design asks for

    @property
    def ratio(self) -> float:
        return self.median_ms / self.boto3_ms


def _run(code: str) -> float:
    done = subprocess.run(  # noqa: S603 - this interpreter, running code written above
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_ENVIRONMENT},
    )
    return float(done.stdout.strip().splitlines()[-1]) * 1000


def measure(functions: list[Function], runs: int = 7) -> list[InitRow]:
    modules: dict[Path, list[Function]] = defaultdict(list)
    for function in functions:
        modules[function.module_path].append(function)
    samples: dict[Path, list[float]] = defaultdict(list)
    baseline: list[float] = []
    for _ in range(runs):
        baseline.append(_run(_TIMED_BOTO3))
        for path, members in modules.items():
            code = _TIMED_IMPORT.format(
                layer=str(LAYER), code_dir=str(members[0].code_dir), path=str(path)
            )
            samples[path].append(_run(code))
    boto3_ms = statistics.median(baseline)
    root = LAYER.parents[1]
    return [
        InitRow(
            module=str(path.relative_to(root)),
            functions=tuple(f.logical_id for f in members),
            median_ms=statistics.median(samples[path]),
            boto3_ms=boto3_ms,
            target=1.2 if any("AlarmRollback" in f.logical_id for f in members) else 2.0,
        )
        for path, members in sorted(modules.items())
    ]
