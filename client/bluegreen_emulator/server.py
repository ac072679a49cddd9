"""The emulated AWS as an HTTP endpoint on 127.0.0.1, with the stack deployed.

    with EmulatorServer(port=0) as server:          # 0: any free port
        sfn = boto3.client("stepfunctions", endpoint_url=server.endpoint)

or from a shell: `python -m bluegreen_emulator serve`, then
`aws --endpoint-url http://127.0.0.1:5005 stepfunctions list-state-machines`.

moto's ThreadedMotoServer answers the HTTP API from the same in-process backends the
`Emulator` deployed into, so everything the emulator adds still happens: a state machine
started over HTTP runs the real handlers in this process, alarms emit their events, and
EventBridge delivers to the stack's functions. It binds to loopback only.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from .core.emulator import Emulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005


class PortInUseError(RuntimeError):
    """The port is taken (moto's server thread would exit and leave start() waiting)."""


def _check_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"{host}:{port} is in use (another `make server`?); choose another with --port"
            ) from exc


class EmulatorServer:
    """An `Emulator` (started here unless given started) served over HTTP on loopback."""

    def __init__(
        self, emulator: Emulator | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        self.emulator = emulator or Emulator()
        self.host = host
        self.port = port
        self._server: ThreadedMotoServer | None = None
        self._owns_emulator = False

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        _check_free(self.host, self.port)
        if self.emulator.stack is None:
            self.emulator.start()
            self._owns_emulator = True
        # werkzeug logs every request at INFO; the serve command prints what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        try:
            self._server.start()
        except Exception:
            self._server = None
            self._stop_emulator()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._stop_emulator()

    def _stop_emulator(self) -> None:
        if self._owns_emulator:
            self.emulator.stop()
            self._owns_emulator = False

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_settings(self) -> dict[str, Any]:
        """Keyword arguments for `boto3.client(service, **settings)` to reach this server."""
        return {
            "endpoint_url": self.endpoint,
            "region_name": self.emulator.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }

    def describe(self, request_file: str | None = None) -> str:
        """What a person needs to use the server: endpoint, outputs, example commands.

        `request_file`: a switch request to show in the start-execution example.
        """
        stack = self.emulator.deployed
        region = self.emulator.region
        machine = stack.outputs.get("SwitchStateMachineArn", "<state machine ARN>")
        table = stack.outputs.get("DeploymentsTableName", "<table>")
        aws = f"aws --endpoint-url {self.endpoint} --region {region}"
        width = max((len(key) for key in stack.outputs), default=0)
        execution = f"{machine.replace(':stateMachine:', ':execution:')}:switch-1"
        lines = [
            f"Emulated AWS with stack {stack.name!r} deployed, listening on {self.endpoint}",
            "",
            "Stack outputs:",
            *(f"  {key:<{width}}  {value}" for key, value in sorted(stack.outputs.items())),
            "",
            "Try (any credentials work: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing):",
            f"  {aws} stepfunctions list-state-machines",
            f"  {aws} lambda list-functions --query 'Functions[].FunctionName'",
            f"  {aws} stepfunctions start-execution --state-machine-arn {machine} \\",
            f"      --name switch-1 --input file://{request_file or 'request.json'}",
            f"  {aws} stepfunctions describe-execution --execution-arn {execution}",
            f"  {aws} dynamodb scan --table-name {table}",
            "",
            f"boto3: boto3.client('stepfunctions', endpoint_url='{self.endpoint}', "
            f"region_name='{region}')",
        ]
        return "\n".join(lines)
