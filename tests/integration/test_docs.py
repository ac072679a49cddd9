"""The documentation runs: every shell block is run against the emulator, or says why not.

`docs_support.RUNNERS` names, for each group of blocks (the unmarked shell blocks under one
heading of one file), the test that runs them in order, as a person pastes them, against
an emulator served on a free port (the docs' `http://127.0.0.1:5005` is replaced by it).
A block marked `needs-aws` is skipped; one marked `make-targets` has each target checked
against the Makefile. A shell block that is neither claimed nor marked fails here.

The runners in this module: `make server` and the AWS CLI against it (README), the
notification subscription and the dashboard picture (docs/operations.md), and the example
fleets deployed with `aws cloudformation deploy` then switched with `bluegreen`, EC2 and
ECS (examples/README.md). The README's CLI walkthrough and the runbook run in
test_cli.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bluegreen.platforms.alb import forward_weights
from bluegreen.store import Deployments
from bluegreen_emulator.server import EmulatorServer
from tests.integration.cli_support import Cli, cli, served
from tests.integration.docs_support import (
    DASHBOARD,
    EMULATOR_ENDPOINT,
    EXAMPLE_FLEETS,
    MARKERS,
    NOTIFICATIONS,
    ROOT,
    RUNNERS,
    SERVER,
    Block,
    on_endpoint,
    shell_blocks,
)

pytestmark = pytest.mark.integration
__all__ = ["cli", "served"]  # fixtures

BIN = Path(sys.executable).parent  # aws, bluegreen: installed by make venv


# -- every block is run or marked ---------------------------------------------------------------
def test_every_shell_block_is_run_by_a_test_or_marked_with_why_not() -> None:
    claimed: dict[str, list[str]] = {}
    for runner in RUNNERS:
        for block in runner.blocks():
            claimed.setdefault(block.where, []).append(runner.test)
    unrun, unknown, twice = [], [], []
    for block in shell_blocks():
        if block.marker is not None:
            if block.marker not in MARKERS:
                unknown.append(f"{block.where}: <!-- docs: {block.marker} -->")
            continue
        runners = claimed.get(block.where, [])
        if not runners:
            unrun.append(f"{block.where} (under {' > '.join(block.headings)})")
        elif len(runners) > 1:
            twice.append(f"{block.where}: {runners}")
    assert unknown == [], f"unknown markers (known: {sorted(MARKERS)}): {unknown}"
    assert twice == [], f"blocks claimed by two runners: {twice}"
    assert unrun == [], (
        "shell blocks no test runs: run them (docs_support.RUNNERS) or mark them "
        f"<!-- docs: needs-aws --> / <!-- docs: make-targets -->: {unrun}"
    )


def test_the_marked_blocks_are_few_and_say_what_they_are() -> None:
    # Given the blocks a person is told need AWS, and the make blocks
    marked = [b for b in shell_blocks() if b.marker]
    by_marker = {m: [b for b in marked if b.marker == m] for m in MARKERS}
    # Then the blocks that run offline outnumber those that need a real account
    run = [b for b in shell_blocks() if b.marker is None]
    assert len(run) > len(by_marker["needs-aws"])
    # and what needs AWS does: each calls sam, the AWS CLI, or a script against AWS
    for block in by_marker["needs-aws"]:
        assert re.search(r"\b(sam|aws|render_dashboard\.py)\b", block.text), block.where
    # and what needs docker is sam building or invoking in a container
    for block in by_marker["needs-docker"]:
        assert re.search(r"\bsam (build|local invoke)\b", block.text), block.where


def makefile_targets() -> dict[str, bool]:
    """Each target of the Makefile, and whether a `## make <target>` line documents it."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.M))
    documented = set(re.findall(r"^## make ([a-z][a-z-]*)", text, flags=re.M))
    return {target: target in documented for target in targets}


def test_make_blocks_name_the_makefiles_documented_targets() -> None:
    targets = makefile_targets()
    blocks = [b for b in shell_blocks() if b.marker == "make-targets"]
    assert blocks, "no make-targets block"
    for block in blocks:
        for line in block.text.splitlines():
            command = line.split("#", 1)[0].split()
            if not command:
                continue
            assert command[0] == "make", f"{block.where}: not a make command: {line}"
            named = [word for word in command[1:] if "=" not in word]
            assert len(named) == 1, f"{block.where}: one target per line: {line}"
            assert named[0] in targets, f"{block.where}: the Makefile has no target {named[0]}"
            assert targets[named[0]] or named[0] in {"unit", "integration", "lint"}, (
                f"{block.where}: `make {named[0]}` has no `## make {named[0]}` line"
            )


# -- running blocks -----------------------------------------------------------------------------
def shell(
    blocks: list[Block], endpoint: str, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """The blocks in one bash, in order, as pasted (stop at the first failing command)."""
    script = "set -euo pipefail\n" + "\n".join(
        f"echo '### {block.where}' >&2\n{on_endpoint(block.text, endpoint)}" for block in blocks
    )
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={"PATH": f"{BIN}:{os.environ.get('PATH', '')}", "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def failed(ran: subprocess.CompletedProcess[str]) -> str:
    return f"exit {ran.returncode}\n{ran.stderr[-4000:]}\n{ran.stdout[-3000:]}"


def emulator_env(endpoint: str) -> dict[str, str]:
    """What a person exports to use the emulator (README, the runbook), and `aws` on it."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "BLUEGREEN_ENDPOINT_URL": endpoint,
    }


AWS_ON_EMULATOR = 'aws() {{ command aws --endpoint-url {endpoint} "$@"; }}\n'


def as_pasted_on_the_emulator(blocks: list[Block], endpoint: str) -> list[Block]:
    """The blocks after the line the docs give for pointing the AWS CLI at the emulator."""
    first = blocks[0]
    preamble = Block(first.path, 0, "sh", AWS_ON_EMULATOR.format(endpoint=endpoint), None, ())
    return [preamble, *blocks]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- README: make server, and the AWS CLI against it ----------------------------------------------
@pytest.mark.slow
def test_make_server_serves_what_the_readme_says(tmp_path: Path) -> None:
    # Given the README's server section: `make server`, then the AWS CLI against it
    start, *commands = SERVER.blocks()
    assert start.text.split("#", 1)[0].split() == ["make", "server"]
    port = free_port()

    # When `make server` runs (on a free port: PORT is the Makefile's variable)
    server = subprocess.Popen(
        ["bash", "-c", start.text],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped below by its id
    )
    printed: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            printed.append(line)
            if "Running until Ctrl-C" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(300), "".join(printed)[-3000:]
        endpoint = f"http://127.0.0.1:{port}"
        # Then the commands the README gives run against it
        ran = shell(commands, endpoint, tmp_path, {})
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # Ctrl-C's equivalent, to its process group
        server.wait(60)
    assert ran.returncode == 0, failed(ran)
    assert "stateMachine:bluegreen-switch" in ran.stdout
    # and the server said what it deployed: the stack and the example fleets, with requests
    text = "".join(printed)
    assert f"listening on http://127.0.0.1:{port}" in text
    assert "CloudFormation stacks shop-fleet,\nweb-service, web-native" in text
    for request in re.findall(r"(/\S+switch-request[-a-z]*\.json)", text):
        assert not Path(request).exists(), f"{request} outlived the server (its folder goes)"


# -- docs/operations.md: people told, the dashboard ----------------------------------------
def test_the_subscription_for_people_runs_against_the_emulator(cli: Cli, tmp_path: Path) -> None:
    # Given a topic for people (the stack's NotificationTopicArn)
    sns = cli.aws.client("sns")
    topic = sns.create_topic(Name="deployments")["TopicArn"]

    # When the subscription the docs give is made
    endpoint = cli.server.endpoint
    blocks = as_pasted_on_the_emulator(NOTIFICATIONS.blocks(), endpoint)
    ran = shell(blocks, endpoint, tmp_path, {**emulator_env(endpoint), "TOPIC": topic})

    # Then the pager hears only about failures and rollbacks
    assert ran.returncode == 0, failed(ran)
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subscription["Endpoint"] == "oncall@example.com"
    policy = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])
    assert policy["Attributes"]["FilterPolicy"] == (
        '{"detailType": ["Switch Failed", "Switch Rolled Back"]}'
    )


@pytest.mark.slow
def test_the_dashboard_renders_from_the_emulator(cli: Cli, tmp_path: Path) -> None:
    # Given a switch that went live (its metrics are in the emulated CloudWatch)
    fleet = cli.fleet(with_http=False)
    spec = tmp_path / "switch.json"
    spec.write_text(
        json.dumps(fleet.request(strategy={"type": "all-at-once"})),
        encoding="utf-8",
    )
    assert cli("deploy", str(spec), "--id", "docs-dashboard", "--watch").code == 0
    for name in (".venv", "scripts"):  # the block runs from the project's root
        (tmp_path / name).symlink_to(ROOT / name)

    # When the docs' command draws the dashboard from the served emulator
    ran = shell(DASHBOARD.blocks(), cli.server.endpoint, tmp_path, {})

    # Then it wrote the picture
    assert ran.returncode == 0, failed(ran)
    assert "wrote dashboard.png" in ran.stdout
    assert (tmp_path / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- examples/README.md: deploy the fleets, switch them -----------------------------------
@pytest.mark.slow
def test_the_example_fleets_deploy_and_switch_offline(
    served: EmulatorServer, tmp_path: Path
) -> None:
    # Given an emulator with the bundle and no fleet (`make server ARGS=--no-fleet`), its
    # ECS deployments running on their own as `make server` runs them
    aws = served.emulator
    for emulation in (aws.codedeploy_emulation, aws.ecs_emulation):
        emulation.background = True
    assert shutil.which("jq"), "the examples build requests with jq: install it"
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    blocks = EXAMPLE_FLEETS.blocks()
    assert EMULATOR_ENDPOINT in blocks[0].text  # the first block points the CLIs at it

    # When every block of the examples' README runs in order
    ran = shell(blocks, served.endpoint, tmp_path, {}, timeout=900)

    # Then the three stacks were deployed and the two releases went live
    assert ran.returncode == 0, failed(ran)
    stacks = {s["StackName"]: s for s in aws.client("cloudformation").describe_stacks()["Stacks"]}
    assert {"shop-fleet", "web-service", "web-native"} <= set(stacks)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["shop-fleet"]["Outputs"]}
    listener = aws.client("elbv2").describe_listeners(
        ListenerArns=[outputs["ProductionListenerArn"]]
    )["Listeners"][0]
    assert forward_weights(listener["DefaultActions"]) == {
        outputs["BlueTargetGroupArn"]: 0,
        outputs["GreenTargetGroupArn"]: 100,
    }
    assert "SUCCEEDED" in ran.stdout
    table = Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName"))
    ec2, ecs = table.get("shop-v42"), table.get("web-2")
    assert ec2["status"] == "SUCCEEDED"
    assert ec2["steps"][0]["phase"] == "revision"  # deployed to green before any traffic
    assert ecs["status"] == "SUCCEEDED"
    [service] = aws.client("ecs").describe_services(cluster="web-cluster", services=["web"])[
        "services"
    ]
    assert service["taskDefinition"].endswith(":task-definition/web:2")
