"""Approval by someone else, on the emulated AWS with IAM enforced.

A stack deployed with a CI role (CiProvider) and approvers (ApproverPrincipalArns): the
switch waits for approval; the CI role that could have started it cannot answer it, nor
assume the approver role (its own policy denies both); the approver role answers it
through the CLI's actions, and the record keeps who (STS's identity of the approver's
session), when and why, for an approval and for a rejection; `bluegreen status` shows
it. The task token is never on the bus, nor in the record.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bluegreen_cli import actions, render
from bluegreen_cli.connect import Aws, Stack, Target
from bluegreen_cli.exits import CliError
from bluegreen_cli.status import collect
from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    ALL_ON_GREEN,
    approval_token,
    everything_on,
    finished,
    production,
    record,
    start_switch,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
PEOPLE = f"arn:aws:iam::{ACCOUNT}:role/release-managers"
STACK = {
    "CiProvider": "github",
    "CiOidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/github",
    "CiRepository": "acme/shop",
    "ApproverPrincipalArns": PEOPLE,
}


@pytest.fixture(scope="module")
def aws() -> Iterator[Emulator]:
    with Emulator(parameters=STACK) as emulator:
        yield emulator


_FLEETS = itertools.count(1)


@pytest.fixture
def fleet(aws: Emulator) -> Ec2Fleet:
    return build_ec2_fleet(aws, name=f"appr{next(_FLEETS)}", with_http=False)


def waiting(aws: Emulator, fleet: Ec2Fleet, name: str) -> str:
    """Start a canary that needs approval; return once it waits (its execution ARN)."""
    request = fleet.request(approval={"required": True, "timeoutSeconds": 3600})
    arn = start_switch(aws, request, name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        saved = record(aws, name)
        if saved is not None and (saved.get("approval") or {}).get("state") == "WAITING":
            return arn
        time.sleep(0.02)
    raise AssertionError(f"{name} never waited for approval")


def cli_as(aws: Emulator, role_arn: str, session: str) -> tuple[Aws, Stack]:
    """The CLI's view of the stack, with the credentials of `role_arn`'s session (so STS
    says who it is); the test acts as that role for IAM (`acting_as`)."""
    credentials = aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)
    keys = credentials["Credentials"]
    cli = Aws(Target(stack=aws.stack_name))
    cli.session = boto3.session.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name=aws.region,
    )
    stack = Stack(
        aws.stack_name,
        aws.output("SwitchStateMachineArn"),
        aws.output("DeploymentsTableName"),
        cli,
        _from_cloudformation=False,
    )
    return cli, stack


def _session_arn(role_arn: str, session: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}"


def test_the_ci_role_cannot_approve_nor_become_the_approver(aws: Emulator, fleet: Ec2Fleet) -> None:
    # Given a switch waiting for approval, and the stack's CI role
    execution = waiting(aws, fleet, "ci-tries")
    ci_role = aws.output("CiRoleArn")
    cli, stack = cli_as(aws, ci_role, "pipeline")

    # When the CI role answers it, Then IAM refuses the task-token answer
    with acting_as(ci_role), pytest.raises(CliError) as refused:
        actions.approve(cli, stack, "ci-tries", "pipeline", "self-approved")
    assert refused.value.aws_code == "AccessDeniedException"
    assert "states:SendTaskSuccess" in refused.value.message
    assert "explicit deny" in refused.value.message
    # and it cannot become the approver either
    sts = cli.client("sts")
    with acting_as(ci_role), pytest.raises(sts.exceptions.ClientError) as denied:
        sts.assume_role(RoleArn=aws.output("ApproverRoleArn"), RoleSessionName="pipeline")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    # and the switch still waits, with no production traffic moved
    assert (
        aws.client("stepfunctions").describe_execution(executionArn=execution)["status"]
        == "RUNNING"
    )
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    assert record(aws, "ci-tries")["approval"]["state"] == "WAITING"  # type: ignore[index]
    aws.client("stepfunctions").stop_execution(executionArn=execution, cause="test done")


def test_an_approval_records_who_when_and_why_and_status_shows_it(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a switch waiting for approval
    execution = waiting(aws, fleet, "approved-by-alice")
    approver = aws.output("ApproverRoleArn")
    cli, stack = cli_as(aws, approver, "alice@example.com")

    # When an approver answers it with the approver role
    with acting_as(approver):
        given = actions.approve(cli, stack, "approved-by-alice", "alice", "canary looks good")
    run = finished(aws, execution)

    # Then the switch went live, and the record says who approved it, when and why
    assert run.status == "SUCCEEDED", run.cause
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    kept = record(aws, "approved-by-alice")["approval"]  # type: ignore[index]
    assert kept == {
        "state": "APPROVED",
        "decision": "APPROVED",
        "by": _session_arn(approver, "alice@example.com"),
        "name": "alice",
        "comment": "canary looks good",
        "at": given["at"],
        "since": kept["since"],
    }
    # and `bluegreen status` shows it
    view = render.status(collect(cli, stack, "approved-by-alice"))
    assert (
        f"approved by alice ({_session_arn(approver, 'alice@example.com')}) at {given['at']}: "
        '"canary looks good"'
    ) in view


def test_a_rejection_rolls_back_and_records_who_when_and_why(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a switch waiting for approval
    execution = waiting(aws, fleet, "rejected-by-bob")
    approver = aws.output("ApproverRoleArn")
    cli, stack = cli_as(aws, approver, "bob@example.com")

    # When an approver rejects it
    with acting_as(approver):
        given = actions.reject(cli, stack, "rejected-by-bob", "bob", "p99 too high")
    run = finished(aws, execution)

    # Then it rolled back, saying who rejected it and why, and the record keeps the answer
    assert (run.status, run.error) == ("FAILED", "SwitchRolledBack.SwitchRejected")
    assert run.cause == "WaitForApproval: SwitchRejected: rejected by bob: p99 too high"
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    saved: dict[str, Any] = record(aws, "rejected-by-bob")  # type: ignore[assignment]
    assert saved["status"] == "ROLLED_BACK"
    assert {k: saved["approval"][k] for k in ("state", "decision", "by", "name", "comment")} == {
        "state": "REJECTED",
        "decision": "REJECTED",
        "by": _session_arn(approver, "bob@example.com"),
        "name": "bob",
        "comment": "p99 too high",
    }
    assert saved["approval"]["at"] == given["at"]


def test_the_task_token_is_never_on_the_bus_nor_in_the_record(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a switch waiting for approval, and its token (in the execution's history)
    execution = waiting(aws, fleet, "token-kept")
    token = approval_token(aws, execution)
    # Then no event on any bus carries it, nor does the record
    events = [e for e in aws.events if e["source"] == "bluegreen" and "token-kept" in json.dumps(e)]
    assert [e["detail-type"] for e in events] == ["Switch Started", "Switch Approval Needed"]
    assert token not in json.dumps(aws.events)
    assert token not in json.dumps(record(aws, "token-kept"))
    aws.client("stepfunctions").stop_execution(executionArn=execution, cause="test done")
