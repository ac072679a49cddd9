"""What the CLI tests share: the emulator served over HTTP, and running `bluegreen`.

The CLI is run in-process (`bluegreen_cli.main`) against the emulator's endpoint, the
way a user runs it against `make server`: every AWS call goes over HTTP to moto's
server, which answers from the same emulated account the stack is deployed in.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bluegreen.platforms.alb import forward_weights
from bluegreen.store import Deployments, RecordNotFound
from bluegreen_cli import main
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from bluegreen_emulator.server import EmulatorServer

_FLEETS = itertools.count(1)  # fleet names unique in the process (the emulator is shared)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out.splitlines()[-1])


class Cli:
    """`bluegreen ...` against one served emulator; fleets are built fresh per test."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.aws = server.emulator
        self.fleets: list[Ec2Fleet] = []

    def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            [*argv, "--endpoint-url", self.server.endpoint, "--interval", "0.02"],
            out=out,
            err=err,
        )
        return Result(code, out.getvalue(), err.getvalue())

    def fleet(self, **kwargs: Any) -> Ec2Fleet:
        fleet = build_ec2_fleet(self.aws, name=f"cli{next(_FLEETS)}", **kwargs)
        self.fleets.append(fleet)
        return fleet

    # -- what an operator would look at -------------------------------------------------------
    def weights(self, fleet: Ec2Fleet) -> dict[str, dict[str, int]]:
        """Weights by colour of the production listener and of its /api rule."""
        elbv2 = self.aws.client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[fleet.listener_arn])["Listeners"][0]
        rule = elbv2.describe_rules(RuleArns=[fleet.rule_arn])["Rules"][0]
        colour = {fleet.blue_arn: "blue", fleet.green_arn: "green"}
        return {
            name: {colour[a]: w for a, w in forward_weights(actions).items()}
            for name, actions in (
                ("listener", listener["DefaultActions"]),
                ("rule", rule["Actions"]),
            )
        }

    def record(self, deployment_id: str) -> dict[str, Any] | None:
        try:
            return self.records().get(deployment_id)
        except RecordNotFound:
            return None

    def records(self) -> Deployments:
        return Deployments(self.aws.client("dynamodb"), self.aws.output("DeploymentsTableName"))

    def lock_owner(self, fleet: Ec2Fleet) -> str | None:
        holder = self.records().holder(fleet.listener_arn)
        return holder["owner"] if holder else None


def on_everything(weights: dict[str, int]) -> dict[str, dict[str, int]]:
    return {"listener": dict(weights), "rule": dict(weights)}


BLUE = on_everything({"blue": 100, "green": 0})
GREEN = on_everything({"blue": 0, "green": 100})


@pytest.fixture(scope="module")
def served() -> Iterator[EmulatorServer]:
    """One served emulator per test module (its functions stay warm)."""
    with EmulatorServer(port=0) as server:
        yield server


@pytest.fixture
def cli(served: EmulatorServer) -> Iterator[Cli]:
    runner = Cli(served)
    listeners = list(served.emulator.on_event)
    try:
        yield runner
    finally:
        served.emulator.on_event[:] = listeners
        served.emulator.clock.scale = 0.0
        for fleet in runner.fleets:  # its targets answer nothing of a later test's
            for group in (fleet.blue_arn, fleet.green_arn):
                served.emulator.alb_http.apps.pop(group, None)
                served.emulator.alb_http.healthy(group)
