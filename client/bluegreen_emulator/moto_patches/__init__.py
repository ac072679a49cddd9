"""Every change the emulator makes to moto's internals, in one place.

Each patch names the moto behaviour it changes and why. `tests/integration/test_moto_patches.py`
checks each one against the installed moto, so an upgrade that moves a patch point fails
there, by name, instead of somewhere deep in a switch.

Patches are applied once per process and dispatch to the running `Emulator` (there is at
most one at a time); with no emulator running, moto behaves as shipped.
"""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import botocore.loaders
import botocore.session
from antlr4 import CommonTokenStream, InputStream
from botocore import endpoint as botocore_endpoint
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.cloudwatch.models import CloudWatchBackend, Statistics
from moto.codedeploy import responses as codedeploy_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import ActionResult
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup
from moto.events.models import EventsBackend, Rule
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
    SyntaxErrorListener,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse

if TYPE_CHECKING:
    from ..core.emulator import Emulator

_active: Emulator | None = None
_applied = False
_apply_lock = threading.Lock()

ORIGINALS: dict[str, Callable[..., Any]] = {
    "CodeDeployBackend.create_deployment": CodeDeployBackend.create_deployment,
    "codedeploy_responses._deployment_info": codedeploy_responses._deployment_info,
    "socket.getaddrinfo": socket.getaddrinfo,
    "EC2ContainerServiceResponse.create_service": EC2ContainerServiceResponse.create_service,
    "EC2ContainerServiceResponse.update_service": EC2ContainerServiceResponse.update_service,
    "WaitFunction._wait_interval": WaitFunction._wait_interval,
    "retrier_decl.time": retrier_decl.time,  # type: ignore[dict-item]
    "botocore.endpoint.time": botocore_endpoint.time,  # type: ignore[dict-item]
    "LambdaSimpleBackend.invoke": LambdaSimpleBackend.invoke,
    "Rule.send_to_targets": Rule.send_to_targets,
    "CloudWatchBackend.set_alarm_state": CloudWatchBackend.set_alarm_state,
    "EventsBackend.put_events": EventsBackend.put_events,
    "FakeTargetGroup.health_for": FakeTargetGroup.health_for,
    "StepFunctionResponse.stop_execution": StepFunctionResponse.stop_execution,
    "CodeDeployBackend.get_deployment": CodeDeployBackend.get_deployment,
    "botocore.session.create_loader": botocore.session.create_loader,
    "ExecutionWorker.stop": ExecutionWorker.stop,
    "Environment.set_error": Environment.set_error,
    "AmazonStateLanguageParser.parse": AmazonStateLanguageParser.parse,
    "StepFunctionResponse.send_task_failure": StepFunctionResponse.send_task_failure,
    "Statistics.get_statistics_for_type": Statistics.get_statistics_for_type,
}


def activate(emulator: Emulator | None) -> None:
    """Route the patched behaviour to `emulator` (None: back to moto's own)."""
    global _active  # noqa: PLW0603 - one emulator per process, by design
    _active = emulator
    apply()


def active() -> Emulator | None:
    return _active


def apply() -> None:
    global _applied  # noqa: PLW0603
    with _apply_lock:
        if _applied:
            return
        _patch_wait_states()
        _patch_retry_backoff()
        _patch_sdk_service_names()
        _patch_lambda_invoke()
        _patch_eventbridge_targets()
        _patch_alarm_state_events()
        _patch_event_journal()
        _patch_target_health()
        _patch_stop_execution_cause()
        _patch_codedeploy_server_progress()
        _patch_codedeploy_ecs_blue_green()
        _patch_alb_dns()
        _patch_ecs_native_blue_green()
        _patch_botocore_loader()
        _patch_stop_wakes_task_token_waits()
        _patch_asl_parse_cache()
        _patch_send_task_failure_cause()
        _patch_percentile_statistics()
        _patch_sdk_retry_backoff()
        _applied = True


# 1. moto's ASL interpreter really sleeps in `Wait` states
#    (WaitFunction._wait_interval waits on the execution's stop event for the full
#    duration). Scale the wait by the emulator's clock; a stop still interrupts it.
def _patch_wait_states() -> None:
    original = ORIGINALS["WaitFunction._wait_interval"]

    def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        if _active is None:
            return original(self, env, wait_seconds)
        _active.clock.wait(env.program_state_event, wait_seconds)
        return None

    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]


# 2. moto's retrier calls `time.sleep(interval)` between `Retry` attempts
#    (retrier_decl.RetrierDecl._eval_body). Give that module a `time` whose sleep is
#    the emulator's clock.
class _ClockTime:
    def __init__(self, real: Any) -> None:
        self._real = real

    def sleep(self, seconds: float) -> None:
        if _active is None:
            self._real.sleep(seconds)
        else:
            _active.clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _patch_retry_backoff() -> None:
    retrier_decl.time = _ClockTime(ORIGINALS["retrier_decl.time"])  # type: ignore[assignment]


# 3. `arn:aws:states:::aws-sdk:elasticloadbalancingv2:*` tasks: moto maps the SFN service
#    name to a boto3 client name through StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
#    which lacks elbv2.
def _patch_sdk_service_names() -> None:
    overrides = StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    overrides["elasticloadbalancingv2"] = "elbv2"  # type: ignore[index]


# 4. With {"lambda": {"use_docker": False}}, moto answers every invoke with the request
#    body (LambdaSimpleBackend.invoke). Run the function's real handler instead.
def _patch_lambda_invoke() -> None:
    original = ORIGINALS["LambdaSimpleBackend.invoke"]

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes | None:
        if _active is None:
            return original(self, function_name, qualifier, body, headers, response_headers)  # type: ignore[no-any-return]
        event = json.loads(body) if body else {}
        invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            _active.runtime.invoke_async(function_name, event)
            return b""
        result = _active.runtime.invoke(function_name, event)
        if result.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result.payload

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


# 5. moto's EventBridge delivers to logs, SQS, archives and buses only
#    (Rule.send_to_targets raises NotImplementedError for Lambda). Deliver Lambda and
#    Step Functions targets through the emulator, with moto's own event-pattern matcher;
#    other targets go to moto as before. moto also delivers through DISABLED rules;
#    EventBridge does not, so a disabled rule delivers nothing here.
def _patch_eventbridge_targets() -> None:
    original = ORIGINALS["Rule.send_to_targets"]
    lock = threading.RLock()

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if _active is None:
            return original(self, original_event, transform_input)  # type: ignore[no-any-return]
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return None
        event = _normalise_event(original_event)
        ours = [t for t in self.targets if _delivered_by_emulator(t["Arn"])]
        for target in ours:
            _active.deliver_event(self, target, event)
        rest = [t for t in self.targets if not _delivered_by_emulator(t["Arn"])]
        if rest:
            with lock:
                saved, self.targets = self.targets, rest
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = saved
        return None

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _delivered_by_emulator(arn: str) -> bool:
    return arn.startswith(("arn:aws:lambda:", "arn:aws:states:"))


def _normalise_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto stamps `time` as epoch seconds; EventBridge sends an ISO-8601 string."""
    event = dict(event)
    if isinstance(event.get("time"), int | float):
        stamp = datetime.fromtimestamp(event["time"], UTC)
        event["time"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    event.pop("ingestion-time", None)
    return event


# 6. CloudWatch publishes `CloudWatch Alarm State Change` to EventBridge whenever an
#    alarm changes state; moto's CloudWatchBackend.set_alarm_state only records it.
def _patch_alarm_state_events() -> None:
    original = ORIGINALS["CloudWatchBackend.set_alarm_state"]

    def set_alarm_state(
        self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state_value: str
    ) -> None:
        alarm = self.alarms.get(alarm_name)
        previous = (alarm.state_value, alarm.state_reason) if alarm else None
        original(self, alarm_name, reason, reason_data, state_value)
        if _active is None or previous is None or previous[0] == state_value:
            return
        _active.publish_alarm_change(self.alarms[alarm_name], previous[0], previous[1])

    CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]


# 7. Keep a journal of every event put on any bus (EventsBackend.put_events), so the demo
#    and the tests can read what the stack announced without a subscriber of their own.
def _is_json(text: Any) -> bool:
    try:
        json.loads(text)
    except (TypeError, ValueError):
        return False
    return True


def _patch_event_journal() -> None:
    original = ORIGINALS["EventsBackend.put_events"]

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Journal before delivery: targets run synchronously inside put_events, and a
        # reader of the journal must see a cause (the alarm) before its effects.
        if _active is not None and len(events) <= 10:
            for event in events:
                if (
                    event.get("Source")
                    and event.get("DetailType")
                    and _is_json(event.get("Detail"))
                ):
                    _active.journal_event(event)
        entries: list[dict[str, Any]] = original(self, events)
        return entries

    EventsBackend.put_events = put_events  # type: ignore[method-assign]


# 8. moto reports every registered, running instance as `healthy`
#    (FakeTargetGroup.health_for). Let the emulator answer for instances whose emulated
#    nginx fails its health check (Emulator.target_health).
def _patch_target_health() -> None:
    original = ORIGINALS["FakeTargetGroup.health_for"]

    def health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original(self, target, ec2_backend)
        override = _active.target_health.get((self.arn, target["Id"])) if _active else None
        if override is None or status.status != "healthy":
            return status
        state, reason = override
        return FakeHealthStatus(
            status.instance_id,
            status.port,
            status.health_check_port,
            state,
            reason,
            "emulated health check",
        )

    FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]


# 8b. moto's StopExecution drops `error` and `cause` (StepFunctionResponse.stop_execution
#     passes only the ARN on; the execution stops with error="" and cause=""). Pass them
#     to the execution, so its `ExecutionAborted` event says who stopped it and why.
def _patch_stop_execution_cause() -> None:
    original = ORIGINALS["StepFunctionResponse.stop_execution"]

    def stop_execution(self: StepFunctionResponse) -> ActionResult:
        if _active is None:
            return original(self)  # type: ignore[no-any-return]
        arn = self._get_param("executionArn")
        execution = self.stepfunction_backend.describe_execution(arn)
        execution.stop(
            stop_date=datetime.now(UTC),
            error=self._get_param("error") or "",
            cause=self._get_param("cause") or "",
        )
        return ActionResult({"stopDate": execution.stop_date or datetime.now(UTC)})

    StepFunctionResponse.stop_execution = stop_execution  # type: ignore[method-assign]


# 9. moto's CodeDeploy creates EC2/on-premises (compute platform `Server`) deployments and
#    leaves them `Created` forever (CodeDeployBackend.get_deployment just returns them).
#    Emulate the agents on the instances: each read moves a Server deployment on
#    (Created -> InProgress -> the outcome in Emulator.codedeploy_server_outcomes,
#    `Succeeded` unless a test set `Failed` for its application/deployment group).
def _patch_codedeploy_server_progress() -> None:
    original = ORIGINALS["CodeDeployBackend.get_deployment"]

    def get_deployment(self: CodeDeployBackend, deployment_id: str) -> Any:
        deployment = original(self, deployment_id)
        if _active is None or deployment.application.compute_platform != "Server":
            return deployment
        if deployment.status == "Created":
            deployment.status = "InProgress"
        elif deployment.status == "InProgress":
            key = (deployment.application_name, deployment.deployment_group_name)
            deployment.status = _active.codedeploy_server_outcomes.get(key, "Succeeded")
        return deployment

    CodeDeployBackend.get_deployment = get_deployment  # type: ignore[method-assign]


# 10. moto's CodeDeploy records an ECS deployment and leaves it `Created`; it has no
#     PutLifecycleEventHookExecutionStatus, StopDeployment, Create/GetDeploymentConfig or
#     deployment-target actions (CodeDeployResponse lacks the methods, so boto3 gets
#     NotImplementedError). Hand ECS deployments to the emulator's CodeDeployEmulation
#     (codedeploy.py) when CodeDeployBackend.create_deployment records them, add the
#     missing actions to CodeDeployResponse, and let GetDeployment show the emulation's
#     errorInformation/rollbackInfo (responses._deployment_info returns them empty).
def _patch_codedeploy_ecs_blue_green() -> None:
    from ..services.codedeploy_ecs import ACTIONS

    create = ORIGINALS["CodeDeployBackend.create_deployment"]
    info = ORIGINALS["codedeploy_responses._deployment_info"]

    def create_deployment(self: CodeDeployBackend, *args: Any, **kwargs: Any) -> str:
        deployment_id: str = create(self, *args, **kwargs)
        if _active is None or not hasattr(_active, "codedeploy_emulation"):
            return deployment_id
        return _active.codedeploy_emulation.created(deployment_id)

    def deployment_info(deployment: Any) -> dict[str, Any]:
        shown: dict[str, Any] = info(deployment)
        if _active is not None and hasattr(_active, "codedeploy_emulation"):
            shown.update(_active.codedeploy_emulation.overlay(deployment.deployment_id))
        return shown

    def action(name: str) -> Callable[[CodeDeployResponse], ActionResult]:
        def method(self: CodeDeployResponse) -> ActionResult:
            if _active is None or not hasattr(_active, "codedeploy_emulation"):
                raise NotImplementedError(f"The {name} action has not been implemented")
            return ActionResult(getattr(_active.codedeploy_emulation, name)(self._get_param))

        method.__name__ = name
        return method

    CodeDeployBackend.create_deployment = create_deployment  # type: ignore[method-assign]
    codedeploy_responses._deployment_info = deployment_info
    for name in ACTIONS:
        setattr(CodeDeployResponse, name, action(name))


# 11. moto's load balancers have DNS names that resolve nowhere. Resolve an emulated
#     ALB's name (socket.getaddrinfo) to the emulator's local HTTP server for that
#     listener (alb_http.py), so probes reach "the tasks behind the listener" through
#     the same URL they would use on AWS. Every other name resolves as before.
def _patch_alb_dns() -> None:
    original = ORIGINALS["socket.getaddrinfo"]

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        alb = getattr(_active, "alb_http", None) if _active is not None else None
        if alb is not None and isinstance(host, str) and host.endswith(".elb.amazonaws.com"):
            local = alb.resolve(host, port)
            if local is not None:
                return original("127.0.0.1", local, *args, **kwargs)
        return original(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


# 12. Not moto: botocore gives every new Session its own Loader
#     (botocore.session.create_loader), which re-reads and re-parses the service model
#     JSON. On AWS each function's cold start pays that in its own process; here every
#     function of every emulated account would pay it again (~80 ms per client, ~1.5 s
#     per switch). While an emulator runs, sessions share one Loader per data path, so a
#     model is parsed once per process. What the functions do is unchanged.
_LOADERS: dict[Any, botocore.loaders.Loader] = {}
_LOADERS_LOCK = threading.Lock()


def _patch_botocore_loader() -> None:
    original = ORIGINALS["botocore.session.create_loader"]

    def create_loader(search_path_string: Any = None) -> botocore.loaders.Loader:
        if _active is None:
            return original(search_path_string)  # type: ignore[no-any-return]
        with _LOADERS_LOCK:
            if search_path_string not in _LOADERS:
                _LOADERS[search_path_string] = original(search_path_string)
            return _LOADERS[search_path_string]

    botocore.session.create_loader = create_loader  # type: ignore[assignment]


# 15. StopExecution does not end an execution waiting in a `.waitForTaskToken` task:
#     ExecutionWorker.stop marks the program stopped, but the task keeps waiting on its
#     callback endpoint (with no TimeoutSeconds: forever), so it stays RUNNING; woken, the
#     task fails with States.Timeout and Environment.set_error overwrites the stop, so it
#     ends FAILED. On AWS it is ABORTED at once. Wake the execution's callback waits when
#     it is stopped, and let an error raised after the stop leave it stopped.
def _patch_stop_wakes_task_token_waits() -> None:
    stop_original = ORIGINALS["ExecutionWorker.stop"]
    set_error_original = ORIGINALS["Environment.set_error"]

    def stop(self: ExecutionWorker, stop_date: Any, error: Any, cause: Any) -> None:
        stop_original(self, stop_date=stop_date, error=error, cause=cause)
        if _active is None:
            return
        callbacks = getattr(self.env, "callback_pool_manager", None)  # None before it ran
        pool = getattr(callbacks, "_pool", {})
        for endpoint in list(pool.values()):
            endpoint.interrupt_all()

    def set_error(self: Environment, error: Any) -> None:
        if _active is not None and isinstance(self.program_state(), ProgramStopped):
            return
        set_error_original(self, error)

    ExecutionWorker.stop = stop  # type: ignore[method-assign]
    Environment.set_error = set_error  # type: ignore[method-assign]


# 17. moto parses a definition with ANTLR (AmazonStateLanguageParser.parse) on
#     CreateStateMachine and on every StartExecution: ~0.3 s each for the switch machine,
#     paid by every deploy and every test. Keep the parse tree per definition text (a
#     tree is read-only) and build a fresh program from it on each call, as moto does.
_ASL_TREES: dict[str, Any] = {}
_ASL_TREES_LOCK = threading.Lock()


def _patch_asl_parse_cache() -> None:
    original = ORIGINALS["AmazonStateLanguageParser.parse"]

    def parse(definition: str) -> tuple[Any, Any]:
        if _active is None:
            return original(definition)  # type: ignore[no-any-return]
        with _ASL_TREES_LOCK:
            tree = _ASL_TREES.get(definition)
        if tree is None:
            errors = SyntaxErrorListener()
            parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
            parser.removeErrorListeners()
            parser.addErrorListener(errors)
            tree = parser.state_machine()
            if errors.errors:
                raise ASLParserException(errors=errors.errors)
            with _ASL_TREES_LOCK:
                _ASL_TREES[definition] = tree
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign,assignment]


# 12. moto's ECS ignores `deploymentConfiguration` on CreateService, treats UpdateService
#     as an instant change, and has no service deployments or revisions
#     (DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
#     StopServiceDeployment are missing from EC2ContainerServiceResponse). For services
#     using the ECS deployment controller with a BLUE_GREEN/LINEAR/CANARY strategy, hand
#     create/update to the emulator's EcsNativeEmulation (ecs_native.py), which runs the
#     service deployment and its lifecycle hooks, and answer the missing actions there.
def _patch_ecs_native_blue_green() -> None:
    from ..services.ecs_native import ACTIONS

    create = ORIGINALS["EC2ContainerServiceResponse.create_service"]
    update = ORIGINALS["EC2ContainerServiceResponse.update_service"]

    def emulation() -> Any:
        return getattr(_active, "ecs_emulation", None) if _active is not None else None

    def create_service(self: EC2ContainerServiceResponse) -> Any:
        result = create(self)
        if emulation() is not None:
            service = self.ecs_backend._get_service(
                self._get_param("cluster", "default"), self._get_param("serviceName")
            )
            emulation().service_created(service, self._get_param("deploymentConfiguration"))
        return result

    def update_service(self: EC2ContainerServiceResponse) -> Any:
        if emulation() is None:
            return update(self)
        cluster = self._get_param("cluster", "default")
        service = self.ecs_backend._get_service(cluster, self._get_param("service").split("/")[-1])
        previous = service.task_definition
        result = update(self)
        emulation().service_updated(service, previous, self._get_param("deploymentConfiguration"))
        return result

    def action(name: str) -> Callable[[EC2ContainerServiceResponse], ActionResult]:
        def method(self: EC2ContainerServiceResponse) -> ActionResult:
            if emulation() is None:
                raise NotImplementedError(f"The {name} action has not been implemented")
            return ActionResult(getattr(emulation(), name)(self._get_param))

        method.__name__ = name
        return method

    EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]
    EC2ContainerServiceResponse.update_service = update_service  # type: ignore[method-assign]
    for name in ACTIONS:
        setattr(EC2ContainerServiceResponse, name, action(name))


# 13. moto's SendTaskFailure drops `cause` (StepFunctionResponse.send_task_failure passes
#     only the token and `error` on), so a rejected approval's reason never reaches the
#     execution. Pass the cause too, as Step Functions does.
def _patch_send_task_failure_cause() -> None:
    original = ORIGINALS["StepFunctionResponse.send_task_failure"]

    def send_task_failure(self: StepFunctionResponse) -> Any:
        if _active is None:
            return original(self)
        self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]  # the parser backend takes a cause
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return ActionResult({})

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


# 14. moto's GetMetricData answers only Sum/Average/Minimum/Maximum/SampleCount
#     (Statistics.get_statistics_for_type returns None for percentiles, and the response
#     then fails with a TypeError). CloudWatch answers percentile statistics (`p99`,
#     `p99.9`) too: compute them from the raw datapoints, nearest-rank like CloudWatch.
def _patch_percentile_statistics() -> None:
    original = ORIGINALS["Statistics.get_statistics_for_type"]

    def get_statistics_for_type(self: Statistics, stat: str) -> Any:
        value = original(self, stat)
        if value is not None or _active is None or not _is_percentile(stat):
            return value
        values = sorted(self.metric_single_values_list)
        if not values:
            return None
        rank = math.ceil(float(stat[1:]) / 100 * len(values))
        return values[max(rank, 1) - 1]

    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]


def _is_percentile(stat: str) -> bool:
    try:
        return stat.startswith("p") and 0 < float(stat[1:]) <= 100
    except ValueError:
        return False


# botocore (not moto): the SDK retries a throttled or failed call after sleeping
# `time.sleep(delay)` in botocore.endpoint.Endpoint._needs_retry. Inside the emulated
# account that back-off is emulated time too, so a function retrying a call that the
# tests made fail takes no real seconds. Outside an emulator botocore sleeps as shipped.
def _patch_sdk_retry_backoff() -> None:
    botocore_endpoint.time = _ClockTime(ORIGINALS["botocore.endpoint.time"])  # type: ignore[assignment]
