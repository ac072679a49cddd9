"""The EC2 revision reference (examples/ec2-revision) is a deployable CodeDeploy bundle
that matches what the switch's `revision` step deploys: a valid appspec whose every hook
script exists, is executable and parses, and a switch request the validator accepts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from bluegreen.requests import parse_request

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ec2-revision"
LIFECYCLE = [
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]


def test_the_appspec_runs_every_hook_with_a_script_that_parses() -> None:
    appspec = yaml.safe_load((EXAMPLE / "appspec.yml").read_text(encoding="utf-8"))
    assert (appspec["version"], appspec["os"]) == (0.0, "linux")
    assert list(appspec["hooks"]) == LIFECYCLE
    for event, steps in appspec["hooks"].items():
        for step in steps:
            script = EXAMPLE / step["location"]
            assert script.is_file(), f"{event}: {step['location']} missing"
            assert os.access(script, os.X_OK), f"{event}: {step['location']} not executable"
            assert 0 < step["timeout"] <= 3600
            checked = subprocess.run(
                ["bash", "-n", str(script)], check=False, capture_output=True, text=True
            )
            assert checked.returncode == 0, f"{script.name}: {checked.stderr}"


def test_the_example_request_deploys_the_revision_to_the_idle_group() -> None:
    raw = json.loads((EXAMPLE / "switch-request.json").read_text(encoding="utf-8"))
    request = parse_request(raw)
    assert request["revision"]["deploymentGroup"] == "shop-green"
    assert request["greenTargetGroupArn"].split("/")[1] == "shop-green"
