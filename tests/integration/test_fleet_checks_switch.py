"""The EC2 switch judges the idle target group's settings before anything changes.

The example fleet (examples/ec2-fleet, deployed from its template) passes every fleet
check. A group changed below the documented safe values is named, setting by setting:
with `fleetChecks: warn` (the default) the switch goes ahead and the plan, the record
and the CLI say what is unsafe; with `fleetChecks: enforce` a finding of severity
`refuse` refuses the switch in its first state, naming the setting and the request
field, with nothing locked, recorded or moved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluegreen.store import Deployments, RecordNotFound
from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from bluegreen_emulator.server import EmulatorServer
from tests.integration.cli_support import Cli, cli, served
from tests.integration.ec2_helpers import run_switch

pytestmark = pytest.mark.integration
__all__ = ["cli", "served"]  # fixtures

DELAY = "deregistration_delay.timeout_seconds"


@pytest.fixture
def shared(served: EmulatorServer) -> Emulator:
    """The module's served emulator (the CLI test needs it served), used in-process."""
    return served.emulator


_count = iter(range(1, 1000))


def fleet_in(aws: Emulator, **parameters: Any) -> Ec2Fleet:
    return build_ec2_fleet(aws, name=f"fc{next(_count)}", with_http=False, **parameters)


def drain_in(aws: Emulator, group: str, seconds: int) -> None:
    aws.client("elbv2").modify_target_group_attributes(
        TargetGroupArn=group, Attributes=[{"Key": DELAY, "Value": str(seconds)}]
    )


def traffic(aws: Emulator, fleet: Ec2Fleet) -> dict[str, int]:
    listener = aws.client("elbv2").describe_listeners(ListenerArns=[fleet.listener_arn])
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: g["Weight"] for g in groups}


def record_of(aws: Emulator, deployment_id: str) -> dict[str, Any] | None:
    table = Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName"))
    try:
        return table.get(deployment_id)
    except RecordNotFound:
        return None


def test_the_example_fleet_passes_every_fleet_check_even_when_enforced(shared: Emulator) -> None:
    # Given the example fleet as its template deploys it
    fleet = fleet_in(shared)

    # When a switch enforcing the fleet checks runs
    run = run_switch(
        shared,
        fleet.request(fleetChecks="enforce", strategy={"type": "all-at-once"}),
        name="fc-safe",
    )

    # Then it went live, and its record says the idle group had no finding
    assert run.status == "SUCCEEDED", run.cause
    record = record_of(shared, "fc-safe")
    assert record is not None
    assert record["fleetChecks"]["findings"] == []
    assert record["fleetChecks"]["mode"] == "enforce"


def test_by_default_an_unsafe_setting_is_a_warning_in_the_plan_and_the_record(
    shared: Emulator,
) -> None:
    # Given a green group that drains in 5 s (its requests take up to 30 s)
    fleet = fleet_in(shared)
    drain_in(shared, fleet.green_arn, 5)

    # When a switch with the default fleetChecks runs
    run = run_switch(shared, fleet.request(strategy={"type": "all-at-once"}), name="fc-warn")

    # Then the switch went ahead (warn does not refuse)
    assert run.status == "SUCCEEDED", run.cause
    assert traffic(shared, fleet) == {fleet.blue_arn: 0, fleet.green_arn: 100}
    # and the record names the setting, its value and its safe value
    record = record_of(shared, "fc-warn")
    assert record is not None
    checks = record["fleetChecks"]
    assert checks["mode"] == "warn"
    assert checks["targetGroupArn"] == fleet.green_arn
    [finding] = checks["findings"]
    assert (finding["setting"], finding["value"], finding["severity"]) == (DELAY, 5, "refuse")
    assert finding["safe"] == ">= 30 s (the application's longest request)"
    assert checks["summary"].startswith(f"refuse: {fleet.green_arn.split('/')[-2]}: {DELAY} is 5 s")


def test_enforced_fleet_checks_refuse_a_short_deregistration_delay_before_anything_changes(
    shared: Emulator,
) -> None:
    # Given the same unsafe green group
    fleet = fleet_in(shared)
    drain_in(shared, fleet.green_arn, 5)
    before = traffic(shared, fleet)

    # When a switch enforcing the fleet checks is started
    run = run_switch(shared, fleet.request(fleetChecks="enforce"), name="fc-enforce")

    # Then it is refused in its first state, naming the request field and the setting
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.states[-1] == "ValidateInput" or "Begin" not in run.states
    assert run.cause is not None
    assert run.cause.startswith(f"greenTargetGroupArn: {fleet.green_arn.split('/')[-2]}: {DELAY}")
    assert (
        "(safe: >= 30 s (the application's longest request); fleetChecks is enforce)" in run.cause
    )
    # and nothing changed: traffic, record, lock
    assert traffic(shared, fleet) == before
    assert record_of(shared, "fc-enforce") is None
    table = Deployments(shared.client("dynamodb"), shared.output("DeploymentsTableName"))
    assert table.holder(fleet.listener_arn) is None


def test_enforced_fleet_checks_name_min_healthy_below_half_the_registered_targets(
    shared: Emulator,
) -> None:
    # Given four instances per colour, and a request that waits for one healthy target
    fleet = fleet_in(shared, per_colour=4)
    request = fleet.request(fleetChecks="enforce", healthCheck={"minHealthy": 1})

    # When it is started, Then it is refused under healthCheck.minHealthy
    run = run_switch(shared, request, name="fc-min-healthy")
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert run.cause.startswith("healthCheck.minHealthy: ")
    assert "healthCheck.minHealthy is 1 but 4 targets are registered" in run.cause


def test_a_warning_finding_never_refuses_even_when_enforced(shared: Emulator) -> None:
    # Given a green group whose health check path is / (a warning: nginx may answer it)
    fleet = fleet_in(shared)
    shared.client("elbv2").modify_target_group(TargetGroupArn=fleet.green_arn, HealthCheckPath="/")

    # When an enforcing switch runs, Then it goes live and records the warning
    request = fleet.request(fleetChecks="enforce", strategy={"type": "all-at-once"})
    run = run_switch(shared, request, name="fc-path")
    assert run.status == "SUCCEEDED", run.cause
    record = record_of(shared, "fc-path")
    assert record is not None
    assert [(f["setting"], f["severity"]) for f in record["fleetChecks"]["findings"]] == [
        ("HealthCheckPath", "warn")
    ]


def test_the_cli_shows_the_findings_in_the_plan_and_while_following(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a fleet whose green group drains in 5 s
    fleet = cli.fleet(with_http=False)
    drain_in(cli.aws, fleet.green_arn, 5)
    spec = tmp_path / "switch.json"
    spec.write_text(json.dumps(fleet.request(strategy={"type": "all-at-once"})), encoding="utf-8")

    # When it is planned, planned enforcing the checks, and deployed with --watch
    planned = cli("plan", str(spec))
    refused = cli("plan", str(spec), "--fleet-checks", "enforce")
    watched = cli("deploy", str(spec), "--id", "fc-cli", "--watch")

    # Then the plan lists the finding with its severity, and the live view warns of it
    assert planned.code == 0, planned.err
    assert "fleet checks (warn): 1 finding(s) on" in planned.out
    assert f"refuse  {fleet.green_arn.split('/')[-2]}: {DELAY} is 5 s" in planned.out
    assert watched.code == 0, watched.err
    assert f"fleet check refuse: {fleet.green_arn.split('/')[-2]}: {DELAY} is 5 s" in watched.out
    # and enforcing them makes the CLI refuse with exit 2, naming the field
    assert refused.code == 2
    assert "invalid request: greenTargetGroupArn:" in refused.err
