"""`bluegreen` against the emulated AWS over HTTP, as an operator or a CI job uses it.

deploy -> status -> approve (or reject); abort (waiting for approval, and mid-bake); a rollback a
gate decided; history; plan changing nothing; lock held; rollback on demand. Each test
asserts what the operator cares about: the exit code a CI job branches on, where the
traffic is, what the record says, and that no lock is left behind.

Last, the README's walkthrough: every `$ ...` line of the ```console blocks in
"Operating it: the bluegreen CLI" runs, in order, with the exit code the line documents
(`# exit N`, else 0). The emulator is served on a free port instead of 5005 (the README's
endpoint is checked to be the server's default), and `$SPEC` is a fleet's canary
request, as `make server` writes it. All tests share one served emulator (warm functions).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bluegreen_cli import main
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, set_health
from bluegreen_emulator.fixtures.ecs_fleet import build_ecs_fleet
from bluegreen_emulator.server import DEFAULT_PORT
from tests.integration.cli_support import BLUE, GREEN, Cli, cli, served
from tests.integration.docs_support import RUNBOOK, WALKTHROUGH, on_endpoint

pytestmark = pytest.mark.integration
__all__ = ["cli", "served"]  # fixtures

README = Path(__file__).resolve().parents[2] / "README.md"
EXIT = re.compile(r"#\s*exit (\d+)")


def spec_file(tmp_path: Path, fleet: Ec2Fleet, **overrides: Any) -> str:
    path = tmp_path / "switch.json"
    path.write_text(json.dumps(fleet.request(**overrides)), encoding="utf-8")
    return str(path)


def wait_for_state(cli: Cli, deployment_id: str, state: str) -> None:
    deadline = time.monotonic() + 20
    while cli("status", deployment_id, "--once", "--json").json()["state"] != state:
        assert time.monotonic() < deadline, f"{deployment_id} never reached {state}"
        threading.Event().wait(0.02)


def test_deploy_waits_for_approval_then_approve_moves_all_traffic(cli: Cli, tmp_path: Path) -> None:
    # Given a fleet live on blue and a canary spec file for green
    fleet = cli.fleet()
    spec = spec_file(tmp_path, fleet)

    # When a CI job deploys it with approval required, watching
    deployed = cli("deploy", spec, "--id", "rel-1", "--require-approval", "--watch")

    # Then the job stops with exit 5 (waiting for approval), traffic still all on blue
    assert deployed.code == 5, deployed.err
    assert "WAITING FOR APPROVAL" in deployed.out
    assert "bluegreen approve rel-1" in deployed.out
    assert cli.weights(fleet) == BLUE
    # and status says the same, for people and for machines
    status = cli("status", "rel-1", "--once", "--json")
    assert status.code == 5
    assert (status.json()["approval"], status.json()["meaning"]) == (
        "WAITING",
        "waiting for approval",
    )

    # When someone approves it and follows it to the end
    approved = cli("approve", "rel-1", "--as", "alice", "--watch")

    # Then it succeeds: all traffic on green, recorded, locks released
    assert approved.code == 0, approved.err
    assert "approved by alice" in approved.out
    assert "SUCCEEDED" in approved.out
    assert cli.weights(fleet) == GREEN
    assert cli.record("rel-1")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert cli.lock_owner(fleet) is None
    # and the record keeps who approved (as STS named the caller) and when; status shows it
    kept = cli.record("rel-1")["approval"]  # type: ignore[index]
    assert (kept["decision"], kept["name"]) == ("APPROVED", "alice")
    assert kept["by"].startswith("arn:aws:")
    assert f"approved by alice ({kept['by']}) at {kept['at']}" in cli("status", "rel-1").out


def test_reject_rolls_the_switch_back_and_keeps_who_and_why(cli: Cli, tmp_path: Path) -> None:
    # Given a switch waiting for approval
    fleet = cli.fleet()
    spec = spec_file(tmp_path, fleet, approval={"required": True})
    assert cli("deploy", spec, "--id", "rel-rejected", "--watch").code == 5

    # When an approver rejects it, saying why
    rejected = cli("reject", "rel-rejected", "--as", "carol", "--comment", "p99 too high")

    # Then the command did what it was asked, naming who answered
    assert rejected.code == 0, rejected.err
    assert "rejected switch rel-rejected as arn:aws:" in rejected.out
    assert "(carol); it rolls back" in rejected.out
    # and the switch rolled back (exit 3), traffic never left blue, and the record and the
    # status say who rejected it and why
    shown = cli("status", "rel-rejected")
    assert shown.code == 3, shown.err
    assert "rejected by carol (arn:aws:" in shown.out and '"p99 too high"' in shown.out
    assert cli.weights(fleet) == BLUE
    record = cli.record("rel-rejected")
    assert record is not None and record["status"] == "ROLLED_BACK"
    assert (record["approval"]["decision"], record["approval"]["comment"]) == (
        "REJECTED",
        "p99 too high",
    )
    assert record["outcome"]["cause"].startswith(
        "WaitForApproval: SwitchRejected: rejected by carol: p99 too high"
    )
    assert cli.lock_owner(fleet) is None


def test_abort_while_waiting_for_approval_restores_and_unlocks(cli: Cli, tmp_path: Path) -> None:
    # Given a switch waiting for approval
    fleet = cli.fleet()
    spec = spec_file(tmp_path, fleet, approval={"required": True})
    assert cli("deploy", spec, "--id", "rel-2", "--watch").code == 5

    # When it is aborted
    aborted = cli("abort", "rel-2", "--as", "bob", "--reason", "wrong build")

    # Then the abort succeeds, traffic is on blue, the record says it was aborted there
    assert aborted.code == 0, aborted.err
    assert "traffic is back on the snapshot" in aborted.out
    # and the exit code it prints is the one it exits with (the switch's own is 3)
    assert aborted.out.rstrip().endswith("exit code 0 (succeeded: the abort)")
    assert "exit code 3" not in aborted.out
    assert cli("status", "rel-2", "--once").code == 3
    assert cli.weights(fleet) == BLUE
    record = cli.record("rel-2")
    assert record is not None
    assert record["status"] == "ROLLED_BACK"
    assert (record["outcome"]["failedAt"], record["outcome"]["error"]) == (
        "WaitForApproval (aborted)",
        "SwitchAborted",
    )
    assert record["approval"]["state"] == "ABORTED"
    assert cli.lock_owner(fleet) is None
    # and a switch that ended cannot be aborted again: exit 1 with what to do instead
    again = cli("abort", "rel-2")
    assert again.code == 1
    assert "already ended ABORTED" in again.err


def test_abort_mid_bake_stops_the_execution_and_restores_the_snapshot(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a canary baking at 10% on green (bakes really wait: 1 s per emulated second)
    fleet = cli.fleet()
    cli.aws.clock.scale = 1.0
    spec = spec_file(tmp_path, fleet)
    started = cli("deploy", spec, "--id", "rel-3")
    assert started.code == 0, started.err
    assert "bluegreen status rel-3" in started.out
    wait_for_state(cli, "rel-3", "Bake")
    assert cli.weights(fleet) == {
        "listener": {"blue": 90, "green": 10},
        "rule": {"blue": 90, "green": 10},
    }

    # When it is aborted
    aborted = cli("abort", "rel-3", "--as", "dave", "--reason", "latency", "--json")

    # Then the execution stopped, traffic is back on blue, recorded and unlocked
    assert aborted.code == 0, aborted.out
    assert aborted.json()["status"] == "ABORTED"
    assert aborted.json()["outcome"] == "ROLLED_BACK"
    assert cli.weights(fleet) == BLUE
    cause = cli.record("rel-3")["outcome"]["cause"]  # type: ignore[index]
    assert cause == "Bake (aborted): SwitchAborted: aborted by dave: latency"
    assert cli.lock_owner(fleet) is None


def test_a_gate_failure_ends_with_exit_3_and_says_why(cli: Cli, tmp_path: Path) -> None:
    # Given a canary whose 5xx alarm fires as soon as 10% of traffic reaches green
    fleet = cli.fleet()
    spec = spec_file(tmp_path, fleet)

    def fire(event: dict[str, Any]) -> None:
        if event["detail-type"] == "Switch Step" and event["detail"]["percent"] == 10:
            cli.aws.client("cloudwatch").set_alarm_state(
                AlarmName=fleet.alarms[0], StateValue="ALARM", StateReason="42 target 5xx"
            )

    cli.aws.on_event.append(fire)

    # When it is deployed and watched
    watched = cli("deploy", spec, "--id", "rel-4", "--watch")

    # Then the job exits 3 (rolled back), shows where and why, and traffic is on blue
    assert watched.code == 3, watched.err
    assert "ROLLED BACK" in watched.out
    assert f"{fleet.alarms[0]} in ALARM: 42 target 5xx" in watched.out
    assert cli.weights(fleet) == BLUE


def test_plan_shows_the_steps_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    # Given a fleet and a linear spec
    fleet = cli.fleet(with_http=False)
    records_before = cli.records().history(limit=1000)

    # When it is planned (flags instead of a file)
    planned = cli(
        "plan",
        "--listener",
        fleet.listener_arn,
        "--blue",
        fleet.blue_arn,
        "--green",
        fleet.green_arn,
        "--linear",
        "25:60",
    )

    # Then the plan lists every step with its weights
    assert planned.code == 0, planned.err
    assert "linear 25% -> 50% -> 75% -> 100%" in planned.out
    assert "cli" in planned.out and " 75%   " in planned.out
    # and nothing changed: traffic, records, locks
    assert cli.weights(fleet)["listener"] == BLUE["listener"]
    assert cli.records().history(limit=1000) == records_before
    assert cli.lock_owner(fleet) is None


def test_plan_of_a_listener_that_does_not_exist_exits_2_naming_the_field(
    cli: Cli, tmp_path: Path
) -> None:
    fleet = cli.fleet(with_http=False)
    missing = fleet.listener_arn[:-4] + "0000"
    planned = cli(
        "plan",
        "--listener",
        missing,
        "--blue",
        fleet.blue_arn,
        "--green",
        fleet.green_arn,
        "--all-at-once",
    )
    assert planned.code == 2
    assert "invalid request: listeners[0]: no listener arn:aws:elasticloadbalancing:" in planned.err


def test_a_second_deploy_on_a_locked_listener_exits_4_naming_the_holder(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a switch holding the fleet's listeners (waiting for approval)
    fleet = cli.fleet()
    spec = spec_file(tmp_path, fleet, approval={"required": True})
    assert cli("deploy", spec, "--id", "rel-5", "--watch").code == 5

    # When another deploy targets the same listeners
    second = cli("deploy", spec, "--id", "rel-6")

    # Then it is refused with exit 4, naming the holder and what to do
    assert second.code == 4, second.err
    assert "locked by deployment rel-5" in second.err
    assert "what to do:" in second.err
    assert cli.weights(fleet) == BLUE
    assert cli("abort", "rel-5").code == 0


def test_history_lists_deployments_with_their_outcome_and_shows_one_in_full(
    cli: Cli, tmp_path: Path
) -> None:
    # Given two finished switches, back and forth
    fleet = cli.fleet(with_http=False)
    forth = spec_file(tmp_path, fleet, strategy={"type": "all-at-once"})
    assert cli("deploy", forth, "--id", "hist-1", "--watch").code == 0
    back = fleet.request(
        strategy={"type": "all-at-once"},
        blueTargetGroupArn=fleet.green_arn,
        greenTargetGroupArn=fleet.blue_arn,
    )
    (tmp_path / "back.yaml").write_text(json.dumps(back), encoding="utf-8")  # YAML is JSON+
    assert cli("deploy", str(tmp_path / "back.yaml"), "--id", "hist-2", "--watch").code == 0

    # When the history is listed
    listed = cli("history", "--json")

    # Then both are there with their outcome (records keep seconds: same-second order is open)
    outcomes = {r["deploymentId"]: r["status"] for r in listed.json()}
    assert (outcomes["hist-1"], outcomes["hist-2"]) == ("SUCCEEDED", "SUCCEEDED")
    text = cli("history").out
    assert "hist-2" in text and "cli" in text
    # and one record in full has its gate verdicts
    full = cli("history", "hist-1")
    assert full.code == 0
    health = [line for line in full.out.splitlines() if "targetHealth:" in line]
    assert health and all(line.endswith("-green: 2/2 healthy, need 2") for line in health), health


def test_rollback_after_a_success_is_a_new_recorded_deployment_back(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a switch that moved all traffic to green
    fleet = cli.fleet(with_http=False)
    spec = spec_file(tmp_path, fleet, strategy={"type": "all-at-once"})
    assert cli("deploy", spec, "--id", "rb-1", "--watch").code == 0
    assert cli.weights(fleet) == GREEN

    # When carol rolls it back
    back = cli("rollback", "rb-1", "--as", "carol", "--id", "rb-1-back", "--watch")

    # Then a new deployment took traffic back to blue, locked, recorded and announced
    assert back.code == 0, back.err
    assert cli.weights(fleet) == BLUE
    record = cli.record("rb-1-back")
    assert record is not None
    assert (record["status"], record["requestedBy"]) == ("SUCCEEDED", "carol")
    assert record["description"] == "rollback of rb-1"
    assert (record["from"], record["to"]) == (fleet.green_arn, fleet.blue_arn)
    # and the deployment it went back from keeps its own story
    assert cli.record("rb-1")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert cli.lock_owner(fleet) is None


def test_rollback_refuses_to_undo_a_newer_switch_and_never_sends_traffic_to_no_healthy_target(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a switch to green (rb-3) and a newer one back to blue (rb-4)
    fleet = cli.fleet(with_http=False)
    forth = spec_file(tmp_path, fleet, strategy={"type": "all-at-once"})
    assert cli("deploy", forth, "--id", "rb-3", "--watch").code == 0
    back = tmp_path / "back.json"
    back.write_text(
        json.dumps(
            fleet.request(
                strategy={"type": "all-at-once"},
                blueTargetGroupArn=fleet.green_arn,
                greenTargetGroupArn=fleet.blue_arn,
            )
        ),
        encoding="utf-8",
    )
    assert cli("deploy", str(back), "--id", "rb-4", "--watch").code == 0

    # When the older one is rolled back, Then it is refused, naming the newer one
    older = cli("rollback", "rb-3")
    assert older.code == 2
    assert "deployment rb-4 changed" in older.err and "roll back rb-4 instead" in older.err
    assert cli.weights(fleet) == BLUE

    # When the newer one is rolled back while green has no healthy target, Then the new
    # deployment back waits for a healthy green and, finding none, ends without moving
    for instance in fleet.green_instances:
        set_health(cli.aws, fleet.green_arn, instance, "unhealthy")
    unhealthy = cli("rollback", "rb-4", "--id", "rb-4-back", "--watch")
    assert unhealthy.code == 3
    assert cli.weights(fleet) == BLUE
    assert "not healthy" in cli.record("rb-4-back")["outcome"]["cause"]  # type: ignore[index]


def test_rollback_of_a_running_switch_is_refused_with_the_way_to_stop_it(
    cli: Cli, tmp_path: Path
) -> None:
    fleet = cli.fleet()
    spec = spec_file(tmp_path, fleet, approval={"required": True})
    assert cli("deploy", spec, "--id", "rb-2", "--watch").code == 5
    refused = cli("rollback", "rb-2")
    assert refused.code == 2
    assert "bluegreen abort rb-2" in refused.err
    assert cli("abort", "rb-2").code == 0


def test_on_aws_the_stack_is_found_by_name_through_cloudformation(cli: Cli) -> None:
    # Given a CloudFormation stack named otherwise, whose outputs name the switch resources
    # (as `sam deploy --stack-name shop-prod` leaves them)
    outputs = {
        key: {"Value": cli.aws.output(key)}
        for key in ("SwitchStateMachineArn", "DeploymentsTableName")
    }
    cli.aws.client("cloudformation").create_stack(
        StackName="shop-prod",
        TemplateBody=json.dumps(
            {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
        ),
    )

    # When the CLI is pointed at that stack by name
    listed = cli("history", "--stack", "shop-prod", "--json")
    unknown = cli("status", "nothing-here", "--once", "--stack", "shop-prod")

    # Then it found the table and the state machine through the stack's outputs
    assert listed.code == 0, listed.err
    assert isinstance(listed.json(), list)
    assert unknown.code == 2
    assert cli.aws.output("SwitchStateMachineArn") in unknown.err


def test_an_ecs_release_is_planned_and_followed_the_same_way(cli: Cli, tmp_path: Path) -> None:
    # Given an ECS service (ECS-native blue/green) and a canary release request for it
    for emulation in (cli.aws.codedeploy_emulation, cli.aws.ecs_emulation):
        emulation.background = True
    fleet = build_ecs_fleet(cli.aws, mode="ECS", name="clisvc")
    request = {
        "platform": "ECS",
        "mode": "ecs-native",
        "cluster": fleet.cluster,
        "service": fleet.service,
        "taskDefinition": fleet.release,
        "container": {"name": "app", "port": 80},
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
        "alarms": fleet.alarms,
    }
    spec = tmp_path / "ecs.json"
    spec.write_text(json.dumps(request), encoding="utf-8")

    # When it is planned, then deployed and watched
    planned = cli("plan", str(spec))
    watched = cli("deploy", str(spec), "--id", "ecs-1", "--watch")

    # Then the plan names the service and the release, and the release went live
    assert planned.code == 0, planned.err
    assert f"ECS service {fleet.service}" in planned.out
    assert watched.code == 0, watched.err
    assert "locked the service" in watched.out
    assert "SUCCEEDED" in watched.out
    # and the view shows the service's traffic and both target groups, as for EC2
    view = cli("status", "ecs-1", "--once").out
    assert f"ECS service {fleet.cluster}/{fleet.service} (ecs-native)" in view
    traffic = view.split("  traffic", 1)[1].split("\n\n", 1)[0]
    assert "clisvc-green" in traffic.splitlines()[0]  # the column of the release
    targets = view.split("  targets", 1)[1].split("\n\n", 1)[0]
    assert "clisvc-blue" in targets and "clisvc-green" in targets


def test_errors_say_what_to_do(cli: Cli) -> None:
    unknown = cli("status", "no-such-switch", "--once")
    assert unknown.code == 2
    assert "bluegreen history" in unknown.err
    wrong_stack = cli("history", "--stack", "nope")
    assert wrong_stack.code == 2
    assert "make server" in wrong_stack.err
    as_json = cli("status", "no-such-switch", "--once", "--json")
    assert as_json.json()["exitCode"] == 2


# -- the README walkthrough ----------------------------------------------------------------------
def console_lines() -> list[tuple[str, int]]:
    """(command, expected exit code) of every `$ ` line in the section's console blocks."""
    lines = []
    for block in WALKTHROUGH.blocks():
        assert block.lang == "console", f"{block.where}: the walkthrough runs console blocks"
        for line in block.text.splitlines():
            if not line.startswith("$ "):
                continue
            command, _, comment = line[2:].partition("#")
            expected = EXIT.search("#" + comment) if comment else None
            lines.append((command.strip(), int(expected.group(1)) if expected else 0))
    return lines


def test_the_readme_lists_a_walkthrough() -> None:
    commands = [c.split()[1] for c, _ in console_lines() if c.startswith("bluegreen ")]
    for command in ("plan", "deploy", "status", "approve", "abort", "history", "rollback"):
        assert command in commands, f"the README walkthrough does not show `bluegreen {command}`"


def test_the_readme_walkthrough_runs_against_the_emulator(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_file(tmp_path, cli.fleet())
    for command, expected in console_lines():
        argv = shlex.split(command.replace("$SPEC", spec))
        if argv[0] == "export":
            name, _, value = argv[1].partition("=")
            if name == "BLUEGREEN_ENDPOINT_URL":
                assert value == f"http://127.0.0.1:{DEFAULT_PORT}"
                value = cli.server.endpoint
            monkeypatch.setenv(name, value)
            continue
        if argv[0] in {".", "source"}:  # putting the CLI on PATH: the setup's venv
            activate = README.parent / argv[1]
            assert activate.is_file(), f"{command}: no {activate} (make venv creates it)"
            assert (activate.parent / "bluegreen").is_file(), f"{command}: no bluegreen there"
            continue
        assert argv[0] == "bluegreen", f"the README runs something else: {command}"
        out, err = io.StringIO(), io.StringIO()
        code = main([*argv[1:], "--interval", "0.02"], out=out, err=err)
        assert code == expected, f"$ {command}\n{out.getvalue()}{err.getvalue()}"


# -- the runbook (docs/operations.md) --------------------------------------------------------
@pytest.mark.slow
def test_the_runbook_commands_run_against_the_emulator(cli: Cli, tmp_path: Path) -> None:
    # Given an incident to look at: a switch that went live and left a lock behind, an
    # alarm event Lambda could not deliver in the dead-letter queue, an ECS service
    fleet = cli.fleet(with_http=False)
    spec = spec_file(tmp_path, fleet, strategy={"type": "all-at-once"})
    assert cli("deploy", spec, "--id", "runbook-1", "--watch").code == 0
    dynamodb, sqs = cli.aws.client("dynamodb"), cli.aws.client("sqs")
    table = cli.aws.output("DeploymentsTableName")
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"LOCK#{fleet.listener_arn}"},
            "sk": {"S": "LOCK"},
            "owner": {"S": "runbook-1"},
            "expiresAt": {"N": str(int(time.time()) + 3600)},
        },
    )
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": "guards-nothing", "state": {"value": "ALARM"}},
    }
    queue = cli.aws.output("AlarmRollbackDeadLetterQueueUrl").rsplit("/", 1)[-1]
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    failure_record = {"version": "1.0", "requestPayload": event, "responsePayload": {}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(failure_record))
    ecs = build_ecs_fleet(cli.aws, name="runbook")
    blocks = RUNBOOK.blocks()
    assert len(blocks) >= 8
    # the first block sets the incident's values (the runbook's examples): this one's follow
    assert "export DEPLOYMENT=" in blocks[0].text
    incident = {
        "DEPLOYMENT": "runbook-1",
        "LISTENER": fleet.listener_arn,
        "TARGET_GROUP": fleet.green_arn,
        "CLUSTER": ecs.cluster,
        "SERVICE": ecs.service,
    }
    ours = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in incident.items())

    # When the runbook's blocks run in order in one shell, as a person pastes them (the
    # emulator served on a free port instead of the runbook's 5005)
    bin_dir = str(Path(sys.executable).parent)  # aws and bluegreen, installed by make venv
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "HOME": str(tmp_path)}
    pasted = [on_endpoint(block.text, cli.server.endpoint) for block in blocks]
    script = "set -euo pipefail\n" + "\n".join(
        f"echo '### {block.where}' >&2\n{text}" + (ours if number == 0 else "")
        for number, (block, text) in enumerate(zip(blocks, pasted, strict=True))
    )
    ran = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    # Then every block ran, and each did what the runbook says
    assert ran.returncode == 0, f"{ran.stderr[-3000:]}\n{ran.stdout[-2000:]}"
    out = ran.stdout
    assert f"table {table}, alarm function bluegreen-AlarmRollbackFunction" in out
    assert "SUCCEEDED" in out  # the record's status
    for instance in fleet.green_instances:
        assert f"{instance}\thealthy" in out  # target health, one line per target
    assert json.loads((tmp_path / "event.json").read_text()) == event  # redriven as sent
    assert "guards-nothing" in (tmp_path / "out.json").read_text()  # the function's answer
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # and deleted
    snapshot = json.loads((tmp_path / "record.json").read_text())["snapshot"]
    assert [r["arn"] for r in snapshot["routes"]] == [fleet.listener_arn, fleet.rule_arn]
    assert cli.records().holder(fleet.listener_arn) is None  # the lock left behind is gone
