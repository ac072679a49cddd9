"""The emulated AWS account with this project's stack deployed in it.

    with Emulator() as aws:
        sfn = aws.client("stepfunctions")
        run = sfn.start_execution(stateMachineArn=aws.output("SwitchStateMachineArn"), ...)
        aws.wait_for_execution(run["executionArn"])

moto supplies the services; this class deploys `template.yaml` into them, runs the real
handlers in-process, drives Step Functions executions with moto's ASL interpreter on the
emulator's clock, and supplies the AWS behaviour moto lacks (alarm state changes on
EventBridge, EventBridge delivery to Lambda and Step Functions), each named as emulation.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.cloudwatch.models import Alarm
from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.models import Rule
from moto.logs.models import logs_backends

from .. import moto_patches as patches
from ..services.alb_http import AlbHttp
from ..services.cloudwatch import publish_alarm_change
from ..services.codedeploy_ecs import CodeDeployEmulation
from ..services.ecs_native import EcsNativeEmulation
from ..services.emf import publish as publish_metrics
from ..services.eventbridge import EventBridgeDelivery
from ..services.iam.enforce import IamEnforcement
from ..services.states_events import publish_status
from ..stack.deploy import DeployedStack, deploy
from ..stack.runtime import FunctionSpec, LambdaRuntime
from . import clock as clocks
from . import identity
from .clock import Clock
from .inflight import InFlight

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# moto loads ~2,600 public AMIs (with a snapshot each) into every account and region it
# touches, ~0.2 s of CPU per account; nothing here lists images (an instance's ImageId
# comes from the SSM public parameter, which moto serves either way)
_MOTO = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
DRAIN_SECONDS = 30.0  # real seconds stop() waits for executions and deliveries in flight
# What the emulated stack registers (docs/security.md): the names the example fleets of
# fixtures/ give their load balancers (<name>-alb), ECS services (<name>-cluster/<name>),
# CodeDeploy applications (<name>-app), release buckets and task roles; each fleet tags
# its resources bluegreen:managed=<stack name> too.
FLEET_REGISTRY = {
    "ManagedLoadBalancerNames": "*-alb",
    "ManagedEcsServices": "*-cluster/*",
    "ManagedCodeDeployApplications": "*-app",
    "ManagedArtifactBuckets": "*-releases",
    "PassableTaskRoles": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/*-task,"
    f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/*-execution",
}
_SESSION: boto3.session.Session | None = None
_SESSION_LOCK = threading.Lock()


def _session() -> boto3.session.Session:
    """One boto3 session per process: botocore caches the service models it loads, so
    creating a client costs ~2 ms instead of ~20 ms (a deploy creates about ten)."""
    global _SESSION  # noqa: PLW0603 - a process-wide cache
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION


class EmulatorError(Exception):
    """The emulator was used wrongly (not started, unknown resource, ...)."""


@dataclass(frozen=True)
class SlowCall:
    """AWS calls of the account's actors matching `service`/`operation` (botocore
    service name and operation name, shell-style patterns) take `seconds` of emulated
    time each (see `Emulator.slow`)."""

    service: str
    operation: str
    seconds: float

    def matches(self, service: str, operation: str) -> bool:
        return fnmatch.fnmatchcase(service, self.service) and fnmatch.fnmatchcase(
            operation, self.operation
        )


class Emulator:
    """An emulated AWS account (moto) with the bluegreen stack deployed."""

    def __init__(
        self,
        template: Path = DEFAULT_TEMPLATE,
        stack_name: str = "bluegreen",
        region: str = "us-east-1",
        parameters: dict[str, str] | None = None,
        clock_scale: float = 0.0,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID
        self.parameters = dict(parameters or {})
        if template == DEFAULT_TEMPLATE:  # the emulated ALBs answer on 127.0.0.1
            self.parameters.setdefault("ProbeAllowedNetworks", "127.0.0.1/32")
            for name, value in FLEET_REGISTRY.items():
                self.parameters.setdefault(name, value)
        self.clock = Clock(scale=clock_scale)
        self.runtime = LambdaRuntime(
            self._lambda_environment(), log_sink=self._write_logs, clock=lambda: self.clock
        )
        self.slow_calls: list[SlowCall] = []
        self.inflight = InFlight()  # executions and their status deliveries in flight
        self.closing = False
        self.answered = 0  # requests the account has answered: how tests see it progress
        self.layers: dict[str, Path] = {}
        self.async_config: dict[str, dict[str, Any]] = {}
        self.state_machine_definitions: dict[str, str] = {}
        self.stack: DeployedStack | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.cleanups: list[Callable[[], None]] = []
        # (target group ARN, instance id) -> (state, reason): emulated health-check answers
        self.target_health: dict[tuple[str, str], tuple[str, str]] = {}
        # (application, deployment group) -> final status of emulated EC2 in-place deployments
        self.codedeploy_server_outcomes: dict[tuple[str, str], str] = {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._quiet: set[str] = set()  # executions whose thread has nothing left to run
        self._quiet_changed = threading.Condition()  # also notified on every status change
        self._status_changes = 0  # status changes published so far (wait_for_execution)
        self._logs_lock = threading.Lock()
        # the emulations of what moto lacks, each given the host protocol only
        self.iam = IamEnforcement(self)  # every call of a function or execution, authorized
        self.eventbridge = EventBridgeDelivery(self)
        self.codedeploy_emulation = CodeDeployEmulation(self)
        self.ecs_emulation = EcsNativeEmulation(self)
        self.alb_http = AlbHttp(self, self.ecs_emulation.task_definition_in)
        self.clock.yield_to = self._let_platforms_step

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> Emulator:
        if patches.active() is not None:
            raise EmulatorError("another Emulator is already running in this process")
        env = {
            **_CREDENTIALS,
            **_MOTO,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        self._saved_env = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        # moto's ASL interpreter logs every failed state at ERROR with its whole parse tree;
        # the execution history and the function logs already say what failed.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        patches.activate(self)
        self.cleanups.extend([self.alb_http.stop, self.codedeploy_emulation.close])
        self.cleanups.append(self.ecs_emulation.close)
        try:
            self.stack = deploy(self, self.template, self.parameters)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every running execution, wait for what is in flight (the executions'
        last steps, their status deliveries, asynchronous invocations), then tear down.
        Deliveries made while stopping are not delivered (`deliveries` says so)."""
        self.closing = True
        self._stop_running_executions()
        self.inflight.drain(DRAIN_SECONDS)
        self.runtime.drain(DRAIN_SECONDS)
        while self.cleanups:
            self.cleanups.pop()()
        patches.activate(None)
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> Emulator:
        return self.start()

    # -- time (core/clock.py) ------------------------------------------------------------
    @contextmanager
    def slow(self, service: str, operation: str, seconds: float) -> Iterator[SlowCall]:
        """While inside, every AWS call a function or an execution makes to `service`
        (botocore name: "dynamodb", "elbv2", ...) and `operation` ("GetItem", "*", shell
        patterns) takes `seconds` of its emulated time before it is answered. A call
        slower than its client's `read_timeout` fails as botocore fails it: after
        `read_timeout` seconds, with `ReadTimeoutError` (retried by the SDK as usual)."""
        rule = SlowCall(service, operation, float(seconds))
        self.slow_calls.append(rule)
        try:
            yield rule
        finally:
            self.slow_calls.remove(rule)

    def slowness(self, service: str, operation: str) -> float:
        """Emulated seconds a call takes (the latest matching `slow` rule; 0: none)."""
        for rule in reversed(self.slow_calls):
            if rule.matches(service, operation):
                return rule.seconds
        return 0.0

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access ------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for the emulated account (one per service, shared; thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = _session().client(service, region_name=self.region)  # type: ignore[call-overload]
            return self._clients[service]

    @property
    def deployed(self) -> DeployedStack:
        if self.stack is None:
            raise EmulatorError("the emulator is not started")
        return self.stack

    def output(self, key: str) -> str:
        try:
            return self.deployed.outputs[key]
        except KeyError:
            raise EmulatorError(f"the stack has no output {key!r}") from None

    def physical_id(self, logical_id: str) -> str:
        return self.deployed.physical_id(logical_id)

    def function(self, logical_id: str) -> FunctionSpec:
        return self.runtime.by_logical_id(logical_id)

    def layer_dir_for(self, layer_arn: str) -> Path | None:
        return self.layers.get(layer_arn)

    # -- Step Functions ----------------------------------------------------------------
    def start_execution(self, state_machine_arn: str, payload: Any, name: str | None = None) -> str:
        run = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn,
            name=name or f"run-{uuid.uuid4().hex[:12]}",
            input=json.dumps(payload),
        )
        return str(run["executionArn"])

    def wait_for_execution(
        self, execution_arn: str, timeout: float = 60.0, quiet: bool = True
    ) -> dict[str, Any]:
        """Poll until the execution ends; returns DescribeExecution's answer. With `quiet`
        (the default) also wait until the task it was in when stopped has run to its end
        (see wait_until_quiet), so that what a test then reads is final.

        What the execution waits for passes on the emulated clock; `timeout` is only a
        safety net in real seconds: how long the account may go without answering a
        single request while the execution still runs (a slow machine never trips it, a
        hung execution does). An execution still running after 10 x `timeout` fails too
        (one spinning in a loop)."""
        sfn = self.client("stepfunctions")
        now = time.monotonic
        stalled_at, give_up, answered = now() + timeout, now() + 10 * timeout, -1
        while True:
            changes = self._status_changes
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL:
                if quiet:
                    self.wait_until_quiet(execution_arn, timeout)
                return described
            if self.answered != answered + 1:  # something else was answered meanwhile
                stalled_at = now() + timeout
            answered = self.answered
            if now() > stalled_at or now() > give_up:
                raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout}s")
            # sleep until some execution changes status (every terminal status is
            # published), looking again at least every 0.25 s for the stall check
            self._wait_for_status_change(changes, 0.25)

    def _let_platforms_step(self) -> None:
        for emulation in (self.codedeploy_emulation, self.ecs_emulation):
            emulation.let_flows_step()

    def _wait_for_status_change(self, seen: int, timeout: float) -> None:
        with self._quiet_changed:
            self._quiet_changed.wait_for(lambda: self._status_changes != seen, timeout)

    def idle(self, timeout: float = 60.0) -> None:
        """Wait until no execution runs and no status change is being delivered (the
        reaper a FAILED execution set off has finished); real seconds, at most `timeout`."""
        left = self.inflight.drain(timeout)
        if left:
            raise TimeoutError(f"{left} execution(s) still running after {timeout}s")

    def execution_quiet(self, execution_arn: str) -> None:
        with self._quiet_changed:
            self._quiet.add(execution_arn)
            self._quiet_changed.notify_all()

    def wait_until_quiet(self, execution_arn: str, timeout: float = 60.0) -> None:
        """Wait until the execution's thread has nothing left to run. A stopped execution
        is ABORTED at once, as on AWS, while the Lambda task it was in still runs to its
        end: what that late task does is part of what a test observes."""
        with self._quiet_changed:
            if not self._quiet_changed.wait_for(lambda: execution_arn in self._quiet, timeout):
                raise TimeoutError(f"{execution_arn} still running a state after {timeout}s")

    def _stop_running_executions(self) -> None:
        if self.stack is None or self._mock is None:
            return
        sfn = self.client("stepfunctions")
        everyone: list[str] = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            arn = machine["stateMachineArn"]
            for run in sfn.list_executions(stateMachineArn=arn)["executions"]:
                everyone.append(run["executionArn"])
                if run["status"] == "RUNNING":
                    sfn.stop_execution(executionArn=run["executionArn"], cause="emulator stopped")
        # nothing may call the account after it is gone: a stopped task's late calls and
        # the deliveries of status changes end first (bounded, for a task that hangs)
        for execution_arn in everyone:
            try:
                self.wait_until_quiet(execution_arn, timeout=30.0)
            except TimeoutError:
                continue

    # -- EventBridge and CloudWatch events (services/eventbridge.py, cloudwatch.py) -----
    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event put on any bus, in order (the journal)."""
        return self.eventbridge.journal

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return self.eventbridge.deliveries

    @property
    def on_event(self) -> list[Callable[[dict[str, Any]], None]]:
        return self.eventbridge.on_event

    def journal_event(self, entry: dict[str, Any]) -> None:
        self.eventbridge.record(entry)

    # EventBridge, Step Functions and CloudWatch act as the account here, whoever's call
    # set them off (a function putting an event, a test changing an alarm): the function a
    # delivery invokes then acts as its own role again.
    # A delivery is asynchronous: it runs on no actor's time (the function that put the
    # event does not wait for its targets, nor for Lambda's retries of them).
    def deliver_event(self, rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
        if self.closing:
            self.eventbridge.deliveries.append(
                {"rule": rule.name, "target": target["Arn"], "outcome": "emulator stopping"}
            )
            return
        with identity.acting_as(None), clocks.detached():
            self.eventbridge.deliver(rule.name, target, event)

    def publish_execution_status(self, execution: Any, status: str | None = None) -> None:
        # the status has changed already: wake wait_for_execution now (its delivery may
        # run a reaper first) and again once delivered
        self._status_changed()
        try:
            with identity.acting_as(None):
                publish_status(self, execution, status)
        finally:
            self._status_changed()

    def _status_changed(self) -> None:
        with self._quiet_changed:
            self._status_changes += 1
            self._quiet_changed.notify_all()

    def publish_alarm_change(self, alarm: Alarm, previous_value: str, previous_reason: str) -> None:
        with identity.acting_as(None):
            publish_alarm_change(self, alarm, previous_value, previous_reason)

    # -- Lambda runtime plumbing -------------------------------------------------------
    def _lambda_environment(self) -> dict[str, str]:
        return {
            **_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        }

    def _write_logs(self, spec: FunctionSpec, request_id: str, text: str) -> None:
        """The Lambda service writes a function's output to its log group (through moto's
        logs backend: the service itself, not a client; one writer at a time), and
        CloudWatch extracts the metrics of its EMF lines (services/emf.py)."""
        if self._mock is None:
            return
        backend = logs_backends[self.account_id][self.region]
        group = f"/aws/lambda/{spec.name}"
        stream = f"emulated/{request_id}"
        now = int(time.time() * 1000)
        lines = [line for line in text.splitlines() if line.strip()] or [
            f"END RequestId: {request_id}"
        ]
        with self._logs_lock:
            if group not in backend.groups:
                backend.create_log_group(group, tags={})
            backend.create_log_stream(group, stream)
            backend.put_log_events(
                group, stream, [{"timestamp": now, "message": line} for line in lines]
            )
            publish_metrics(self, lines)  # CloudWatch extracts the EMF documents' metrics
