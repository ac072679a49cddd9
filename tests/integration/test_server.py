"""Server mode: the emulated AWS over HTTP on 127.0.0.1, as `make server` runs it."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from bluegreen_emulator import moto_patches as patches
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet
from bluegreen_emulator.server import EmulatorServer, PortInUseError

pytestmark = pytest.mark.integration

_NO_RETRIES = Config(retries={"total_max_attempts": 1})


def _wait_over_http(sfn: Any, execution_arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{execution_arn} still running"
        threading.Event().wait(0.02)


def test_a_switch_started_over_http_runs_the_real_handlers() -> None:
    # Given the emulator served on a free loopback port, with an EC2 fleet in it
    with EmulatorServer(port=0) as server:
        assert server.endpoint.startswith("http://127.0.0.1:")
        fleet = build_ec2_fleet(server.emulator, with_http=False)
        settings = server.client_settings()
        sfn = boto3.client("stepfunctions", config=_NO_RETRIES, **settings)
        (machine,) = [
            m["stateMachineArn"]
            for m in sfn.list_state_machines()["stateMachines"]
            if m["name"] == "bluegreen-switch"
        ]

        # When a client starts an all-at-once switch over HTTP and polls it
        request = fleet.request(strategy={"type": "all-at-once"})
        execution = sfn.start_execution(
            stateMachineArn=machine, name="over-http-1", input=json.dumps(request)
        )["executionArn"]
        described = _wait_over_http(sfn, execution)

        # Then it succeeded, with the real handlers running in the emulator's process
        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert json.loads(described["output"])["live"] == fleet.green_arn
        ran = {i.function for i in server.emulator.runtime.history}
        assert server.emulator.function("PlanFunction").name in ran
        # and the change is visible over HTTP too: the listener now forwards to green
        elbv2 = boto3.client("elbv2", config=_NO_RETRIES, **settings)
        action = elbv2.describe_listeners(ListenerArns=[fleet.listener_arn])["Listeners"][0]
        weights = {
            g["TargetGroupArn"]: g["Weight"]
            for g in action["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        }
        assert weights == {fleet.blue_arn: 0, fleet.green_arn: 100}
        # and the banner tells a person where to point the aws CLI
        banner = server.describe()
        assert f"aws --endpoint-url {server.endpoint}" in banner
        assert server.emulator.output("SwitchStateMachineArn") in banner

    # When the server has stopped, Then the endpoint is gone (the calls above were HTTP)
    with pytest.raises(EndpointConnectionError):
        sfn.list_state_machines()
    assert patches.active() is None


def test_a_taken_port_is_refused_at_once_and_leaves_nothing_running() -> None:
    # Given a port something else listens on
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]

        # When the server is started there, Then it is refused with the reason
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port} is in use"):
            EmulatorServer(port=port).start()

    # and no emulator was left running
    assert patches.active() is None
