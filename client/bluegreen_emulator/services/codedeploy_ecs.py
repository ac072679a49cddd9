"""Emulation of CodeDeploy's ECS blue/green deployment, as AWS documents it.

moto 5.2 records a CodeDeploy deployment and nothing more. This module plays the
CodeDeploy side of an ECS blue/green deployment against moto's ECS and ELBv2 and the
*real* hook functions of the stack:

    CreateDeployment (AppSpec content)
      -> BeforeInstall hook -> Install (replacement task set, green target group)
      -> AfterInstall hook -> AllowTestTraffic (test listener -> green)
      -> AfterAllowTestTraffic hook -> BeforeAllowTraffic hook
      -> AllowTraffic (production weights per deployment config: canary, linear,
         all-at-once; the replacement becomes the primary task set)
      -> AfterAllowTraffic hook -> original task set removed -> Succeeded

A hook reporting `Failed`, a hook that never answers (after `hook_timeout_seconds`
emulated seconds; CodeDeploy waits an hour), a guarded alarm in ALARM, or
`StopDeployment` ends the deployment `Failed`/`Stopped`; with automatic rollback (the
deployment group's, or `StopDeployment(autoRollbackEnabled=True)`) traffic goes back to
the original task set first and the replacement is removed.

Hooks are invoked like CodeDeploy does: asynchronously (retried twice on a function
error), with `{"DeploymentId", "LifecycleEventHookExecutionId"}`; the verdict arrives
through `PutLifecycleEventHookExecutionStatus`, which only accepts `Succeeded`/`Failed`,
once per execution.

Driving it: tests call `advance()` / `run_until_done()` (waits move an emulated clock,
nothing sleeps); `background = True` runs deployments on a thread, waiting
`emulator.clock`-scaled time (the demo). `reports` lists every status a hook reported.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo, codedeploy_backends
from moto.core.exceptions import JsonRESTError
from moto.ecs.models import EC2ContainerServiceBackend, Service, TaskSet, ecs_backends

from ..core import clock as clocks
from ..core.flow import Flow, FlowDriver, Step, Wait
from .elb import deregister_tasks, register_tasks, route_listener

if TYPE_CHECKING:
    from ..core.host import Host

HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
PREDEFINED: dict[str, dict[str, Any]] = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1},
    },
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3},
    },
    "CodeDeployDefault.ECSCanary10Percent5Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    },
    "CodeDeployDefault.ECSCanary10Percent15Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15},
    },
}
TERMINAL = {"Succeeded", "Failed", "Stopped"}


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)


def _now() -> datetime:
    """The deployment's emulated now, as a date (its flow's timeline: core/flow.py)."""
    return clocks.date_now()


def set_running(task_set: Any, desired: int, running: int | None = None) -> None:
    """The counts ECS reports for a task set (moto keeps none)."""
    running = desired if running is None else running
    task_set.computed_desired_count = desired
    task_set.running_count = running
    task_set.pending_count = max(desired - running, 0)
    task_set.stabilityStatus = "STEADY_STATE" if running >= desired else "STABILIZING"
    task_set.updatedAt = _now()


class _Abort(Exception):  # control flow inside a deployment flow
    def __init__(self, status: str, code: str, message: str, rollback: bool | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.rollback = status, code, message, rollback


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start: datetime | None = None
    end: datetime | None = None
    execution_id: str | None = None
    message: str = ""

    def begin(self) -> None:
        self.status, self.start = "InProgress", _now()

    def finish(self, status: str, message: str = "") -> None:
        self.status, self.end, self.message = status, _now(), message

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start:
            out["startTime"] = self.start
        if self.end:
            out["endTime"] = self.end
        if self.message:
            code = "Success" if self.status == "Succeeded" else "ScriptFailed"
            out["diagnostics"] = {"errorCode": code, "message": self.message[:1000]}
        return out


@dataclass
class EcsDeployment:
    id: str
    info: DeploymentInfo
    cluster: str
    service: str
    task_definition: str
    container: dict[str, Any]
    hooks: dict[str, str]
    shift: list[tuple[int, float]]
    prod_listeners: list[str]
    test_listeners: list[str]
    target_group_names: list[str]
    auto_rollback: bool
    termination_wait_seconds: float
    alarms: list[str]
    events: dict[str, LifecycleEvent] = field(default_factory=dict)
    blue_tg: str = ""
    green_tg: str = ""
    original: TaskSet | None = None
    replacement: TaskSet | None = None
    error: dict[str, str] = field(default_factory=dict)
    rollback_info: dict[str, str] = field(default_factory=dict)
    green_weight: int = 0
    updated: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class Report:
    deployment_id: str
    execution_id: str
    lifecycle_event: str
    status: str
    at: float = 0.0  # emulated time it arrived, on the reporter's clock (core/clock.py)


class CodeDeployEmulation(FlowDriver):
    """The CodeDeploy side of ECS blue/green deployments, for one emulated account."""

    def __init__(self, host: Host) -> None:
        super().__init__(host.clock)
        self.aws = host
        self.hook_timeout_seconds = 3600.0
        self.deployments: dict[str, EcsDeployment] = {}
        self.executions: dict[str, tuple[str, str]] = {}  # execution id -> (deployment, event)
        self.configs: dict[str, dict[str, Any]] = {}
        self.reports: list[Report] = []
        self.replacement_running: int | None = None  # tasks that start (None: all of them)
        # EC2/on-premises (Server) deployments stopped with StopDeployment: what
        # GetDeployment shows beyond moto's record (errorInformation, rollbackInfo)
        self.server_overlays: dict[str, dict[str, Any]] = {}
        # ids to hand out next, per kind ("deployment", "execution"), before random ones:
        # how a staged account (staging.py) gets the ids its events files name
        self.preset_ids: dict[str, list[str]] = {}

    # -- moto backends ---------------------------------------------------------------
    @property
    def _codedeploy(self) -> CodeDeployBackend:
        return codedeploy_backends[self.aws.account_id][self.aws.region]

    @property
    def _ecs(self) -> EC2ContainerServiceBackend:
        return ecs_backends[self.aws.account_id][self.aws.region]

    # -- CreateDeployment -------------------------------------------------------------
    def created(self, deployment_id: str) -> str:
        """Called when moto has recorded a deployment; returns its AWS-shaped id."""
        backend = self._codedeploy
        info = backend.deployments.pop(deployment_id)
        new_id = self._next_id("deployment") or "d-" + "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9)
        )
        info.deployment_id = new_id
        backend.deployments[new_id] = info
        if info.application.compute_platform != "ECS":
            return new_id
        with self.on_time(new_id):  # the deployment's time starts at its creator's now
            try:
                deployment = self._plan(info)
            except JsonRESTError:
                del backend.deployments[new_id]  # refused: CodeDeploy records nothing
                raise
            self.deployments[new_id] = deployment
            flow = self._flow(deployment)
            next(flow)  # Created -> InProgress, as CodeDeploy starts at once
        self.start_flow(new_id, flow)
        return new_id

    def _next_id(self, kind: str) -> str | None:
        with self.lock:
            queue = self.preset_ids.get(kind)
            return queue.pop(0) if queue else None

    def _plan(self, info: DeploymentInfo) -> EcsDeployment:
        group = info.deployment_group
        appspec = _appspec(info.revision)
        resources = appspec.get("Resources") or [{}]
        props = (resources[0].get("TargetService") or {}).get("Properties") or {}
        if not props.get("TaskDefinition"):
            raise _error("InvalidRevisionException", "AppSpec has no TargetService TaskDefinition")
        hooks = {}
        for entry in appspec.get("Hooks") or []:
            for event, function in entry.items():
                if event not in HOOK_EVENTS:
                    raise _error(
                        "InvalidRevisionException", f"{event} is not an ECS lifecycle hook"
                    )
                hooks[event] = str(function)
        if not group.ecs_services:
            raise _error("InvalidECSServiceException", "the deployment group names no ECS service")
        pair = (group.load_balancer_info.get("targetGroupPairInfoList") or [{}])[0]
        rollback = info.auto_rollback_configuration or group.auto_rollback_configuration or {}
        bg = group.blue_green_deployment_configuration or {}
        wait_minutes = (bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get(
            "terminationWaitTimeInMinutes", 0
        )
        alarm_config: Any = group.alarm_configuration or {}
        alarms = (
            [a["name"] for a in alarm_config.get("alarms", [])]
            if alarm_config.get("enabled")
            else []
        )
        return EcsDeployment(
            id=info.deployment_id,
            info=info,
            cluster=group.ecs_services[0]["clusterName"],
            service=group.ecs_services[0]["serviceName"],
            task_definition=str(props["TaskDefinition"]),
            container=props.get("LoadBalancerInfo") or {},
            hooks=hooks,
            shift=self._shift_plan(str(info.deployment_config_name or "")),
            prod_listeners=list((pair.get("prodTrafficRoute") or {}).get("listenerArns") or []),
            test_listeners=list((pair.get("testTrafficRoute") or {}).get("listenerArns") or []),
            target_group_names=[tg["name"] for tg in pair.get("targetGroups") or []],
            auto_rollback=bool(rollback.get("enabled"))
            and "DEPLOYMENT_FAILURE" in (rollback.get("events") or ["DEPLOYMENT_FAILURE"]),
            termination_wait_seconds=float(wait_minutes) * 60,
            alarms=alarms,
            events={name: LifecycleEvent(name) for name in LIFECYCLE},
        )

    def _shift_plan(self, config_name: str) -> list[tuple[int, float]]:
        """[(green percent, emulated seconds to wait after)] for the deployment config."""
        routing: Any = (self.configs.get(config_name) or {}).get(
            "trafficRoutingConfig"
        ) or PREDEFINED.get(
            config_name,
            {"type": "AllAtOnce"},  # moto's group default is not an ECS config
        )
        if routing["type"] == "TimeBasedCanary":
            canary = routing["timeBasedCanary"]
            return [(int(canary["canaryPercentage"]), canary["canaryInterval"] * 60.0), (100, 0.0)]
        if routing["type"] == "TimeBasedLinear":
            linear = routing["timeBasedLinear"]
            step, interval = int(linear["linearPercentage"]), linear["linearInterval"] * 60.0
            plan = [(p, interval) for p in range(step, 100, step)]
            return [*plan, (100, 0.0)]
        return [(100, 0.0)]

    # -- the deployment, step by step ---------------------------------------------------
    def _flow(self, dep: EcsDeployment) -> Flow:
        try:
            dep.info.status = "InProgress"
            dep.info.start_time = _now()
            yield "Created -> InProgress"
            yield from self._forward(dep)
        except _Abort as abort:
            self._end(dep, abort)
            yield f"{dep.info.status}: {abort.message}"
            return
        dep.info.status = "Succeeded"
        dep.info.complete_time = _now()
        yield "Succeeded"

    def _forward(self, dep: EcsDeployment) -> Iterator[Step]:
        yield from self._hook(dep, "BeforeInstall")
        self._lifecycle(dep, "Install", lambda: self._install(dep))
        yield "Install: replacement task set created"
        yield from self._hook(dep, "AfterInstall")
        self._lifecycle(dep, "AllowTestTraffic", lambda: self._route_test(dep, dep.green_tg))
        yield "AllowTestTraffic: test listener -> green"
        yield from self._hook(dep, "AfterAllowTestTraffic")
        yield from self._hook(dep, "BeforeAllowTraffic")
        dep.events["AllowTraffic"].begin()
        for percent, wait in dep.shift:
            self._guard_alarms(dep)
            self._route_prod(dep, percent)
            yield f"AllowTraffic: green {percent}%"
            if wait:
                yield Wait(wait, f"bake at green {percent}%")
        self._ecs.update_service_primary_task_set(
            dep.cluster, dep.service, self._arn(dep.replacement)
        )
        dep.events["AllowTraffic"].finish("Succeeded")
        yield from self._hook(dep, "AfterAllowTraffic")
        if dep.termination_wait_seconds:
            yield Wait(
                dep.termination_wait_seconds, "termination wait before removing the original"
            )
        self._remove(dep, dep.original)

    def _lifecycle(self, dep: EcsDeployment, name: str, action: Callable[[], None]) -> None:
        dep.events[name].begin()
        try:
            action()
        except JsonRESTError as error:
            dep.events[name].finish("Failed", str(error))
            raise _Abort("Failed", "ECS_UPDATE_ERROR", f"{name} failed: {error}") from error
        dep.events[name].finish("Succeeded")

    def _hook(self, dep: EcsDeployment, name: str) -> Iterator[Step]:
        event = dep.events[name]
        event.begin()
        function = dep.hooks.get(name)
        if function is None:
            event.finish("Succeeded")
            return
        execution_id = self._next_id("execution") or secrets.token_urlsafe(48)
        event.execution_id = execution_id
        self.executions[execution_id] = (dep.id, name)
        error = self._invoke_async(
            function, {"DeploymentId": dep.id, "LifecycleEventHookExecutionId": execution_id}
        )
        yield f"{name}: hook {function.rsplit(':', 1)[-1]} invoked"
        if event.status == "InProgress":
            yield Wait(
                self.hook_timeout_seconds,
                f"{name}: waiting for the hook's status",
                lambda: event.status != "InProgress",
            )
        if event.status == "InProgress":
            event.finish(
                "Failed",
                f"the hook did not report a status within {self.hook_timeout_seconds:.0f}s"
                + (f" ({error})" if error else ""),
            )
        if event.status == "Failed":
            raise _Abort(
                "Failed",
                "HOOK_EXECUTION_FAILURE",
                f"lifecycle event {name} failed: {event.message or 'the hook reported Failed'}",
            )

    def _invoke_async(self, function: str, payload: dict[str, Any]) -> str | None:
        """Lambda's asynchronous invocation: up to two retries on a function error."""
        try:
            spec = self.aws.runtime.find(function)
        except KeyError as missing:
            return f"ResourceNotFoundException: {missing}"
        retries = int(self.aws.async_config.get(spec.name, {}).get("MaximumRetryAttempts", 2))
        last = None
        for attempt in range(1 + retries):
            if attempt:
                self.emulated_seconds += 60 * attempt  # Lambda retries after ~1 min, then ~2 min
                self.clock.spend(60 * attempt)  # on the deployment's timeline
            # asynchronously for the hook, but the deployment waits for its status: the
            # hook starts at the deployment's now, which moves by the hook's own time
            last = self.aws.runtime.invoke(spec.name, payload)
            if last.error_type is None:
                return None
        return f"{last.error_type} after {1 + retries} attempts" if last else None

    # -- ECS and ELB changes ---------------------------------------------------------------
    def _install(self, dep: EcsDeployment) -> None:
        service = self._ecs._get_service(dep.cluster, dep.service)
        dep.original = self.ensure_original_task_set(service)
        elbv2 = self.aws.client("elbv2")
        groups = elbv2.describe_target_groups(Names=dep.target_group_names)["TargetGroups"]
        arns = [g["TargetGroupArn"] for g in groups]
        dep.blue_tg = (
            dep.original.load_balancers[0]["targetGroupArn"]
            if dep.original.load_balancers
            else arns[0]
        )
        dep.green_tg = next(a for a in arns if a != dep.blue_tg)
        container = {
            "containerName": dep.container.get("ContainerName", "app"),
            "containerPort": int(dep.container.get("ContainerPort", 80)),
        }
        dep.replacement = self._ecs.create_task_set(
            service=dep.service,
            cluster_str=dep.cluster,
            task_definition=dep.task_definition,
            external_id=dep.id,
            load_balancers=[{"targetGroupArn": dep.green_tg, **container}],
            launch_type=service.launch_type,
        )
        dep.replacement.scale = {"value": 100.0, "unit": "PERCENT"}
        set_running(dep.replacement, service.desired_count, self.replacement_running)
        register_tasks(elbv2, dep.green_tg, getattr(dep.replacement, "running_count", 0))

    def adopt(self, cluster: str, service_name: str) -> TaskSet:
        """A CODE_DEPLOY service's PRIMARY task set, with its tasks in its target group."""
        return self.ensure_original_task_set(self._ecs._get_service(cluster, service_name))

    def ensure_original_task_set(self, service: Service) -> TaskSet:
        """A CODE_DEPLOY service runs its tasks in a PRIMARY task set (ECS makes it when the
        service is created; moto does not): create it on first use."""
        primary = [ts for ts in service.task_sets if ts.status == "PRIMARY"]
        if primary:
            return primary[0]
        task_set = self._ecs.create_task_set(
            service=service.name,
            cluster_str=service.cluster_name,
            task_definition=str(service.task_definition),
            load_balancers=list(service.load_balancers),
            launch_type=service.launch_type,
        )
        task_set.status = "PRIMARY"
        set_running(task_set, service.desired_count)
        for lb in service.load_balancers:
            register_tasks(self.aws.client("elbv2"), lb["targetGroupArn"], service.desired_count)
        return task_set

    def _route_test(self, dep: EcsDeployment, target_group: str) -> None:
        elbv2 = self.aws.client("elbv2")
        for listener in dep.test_listeners:
            route_listener(elbv2, listener, {target_group: 100})

    def _route_prod(self, dep: EcsDeployment, green_percent: int) -> None:
        elbv2 = self.aws.client("elbv2")
        weights = {dep.blue_tg: 100 - green_percent, dep.green_tg: green_percent}
        for listener in dep.prod_listeners:
            route_listener(elbv2, listener, weights)
        dep.green_weight = green_percent

    def _guard_alarms(self, dep: EcsDeployment) -> None:
        if not dep.alarms:
            return
        alarms = self.aws.client("cloudwatch").describe_alarms(AlarmNames=dep.alarms)[
            "MetricAlarms"
        ]
        firing = [a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"]
        if firing:
            raise _Abort("Failed", "ALARM_ACTIVE", f"alarm(s) in ALARM: {', '.join(firing)}")

    def _remove(self, dep: EcsDeployment, task_set: TaskSet | None) -> None:
        if task_set is None:
            return
        self._ecs.delete_task_set(dep.cluster, dep.service, task_set.task_set_arn)
        for lb in task_set.load_balancers:
            deregister_tasks(self.aws.client("elbv2"), lb["targetGroupArn"])

    def _arn(self, task_set: TaskSet | None) -> str:
        assert task_set is not None
        return str(task_set.task_set_arn)

    def _end(self, dep: EcsDeployment, abort: _Abort) -> None:
        rollback = dep.auto_rollback if abort.rollback is None else abort.rollback
        if rollback and dep.replacement is not None and dep.original is not None:
            if dep.prod_listeners:
                self._route_prod(dep, 0)
            self._route_test(dep, dep.blue_tg)
            self._ecs.update_service_primary_task_set(
                dep.cluster, dep.service, self._arn(dep.original)
            )
            self._remove(dep, dep.replacement)
            rollback_id = "d-" + secrets.token_hex(5).upper()[:9]
            dep.rollback_info = {
                "rollbackDeploymentId": rollback_id,
                "rollbackMessage": f"Traffic rerouted to the original task set: {abort.message}"[
                    :1000
                ],
            }
        for event in dep.events.values():
            if event.status in {"Pending", "InProgress"}:
                event.finish("Skipped" if event.status == "Pending" else "Failed", abort.message)
        dep.info.status = abort.status
        dep.info.complete_time = _now()
        dep.error = {"code": abort.code, "message": abort.message[:1000]}

    # -- the API moto lacks (wired by moto_patches/codedeploy.py) ------------------------
    def put_lifecycle_event_hook_execution_status(
        self, get: Callable[[str], Any]
    ) -> dict[str, Any]:
        deployment_id, execution_id, status = (
            get("deploymentId"),
            get("lifecycleEventHookExecutionId"),
            get("status"),
        )
        if status not in {"Succeeded", "Failed"}:
            raise _error(
                "InvalidLifecycleEventHookExecutionStatusException",
                f"status {status!r} is not Succeeded or Failed",
            )
        with self.lock:
            if deployment_id not in self.deployments:
                raise _error(
                    "DeploymentDoesNotExistException",
                    f"The deployment {deployment_id} does not exist",
                )
            owner = self.executions.get(execution_id)
            if owner is None or owner[0] != deployment_id:
                raise _error(
                    "InvalidLifecycleEventHookExecutionIdException",
                    f"{execution_id} is not a hook execution of {deployment_id}",
                )
            event = self.deployments[deployment_id].events[owner[1]]
            if event.status != "InProgress" or event.execution_id != execution_id:
                raise _error(
                    "LifecycleEventAlreadyCompletedException",
                    f"{owner[1]} is already {event.status}",
                )
            event.finish(status, "" if status == "Succeeded" else "the hook reported Failed")
            self.reports.append(
                Report(deployment_id, execution_id, owner[1], status, at=self.aws.clock.now())
            )
        return {"lifecycleEventHookExecutionId": execution_id}

    def stop_deployment(self, get: Callable[[str], Any]) -> dict[str, Any]:
        deployment_id = get("deploymentId")
        auto_rollback = bool(get("autoRollbackEnabled"))
        with self.lock:
            dep = self.deployments.get(deployment_id)
            if dep is None:
                return self._stop_server_deployment(deployment_id, auto_rollback)
            if dep.info.status in TERMINAL:
                raise _error(
                    "DeploymentAlreadyCompletedException",
                    f"The deployment {deployment_id} is already {dep.info.status}",
                )
            abort = _Abort(
                "Stopped", "MANUAL_STOP", "the deployment was stopped by a user", auto_rollback
            )
        if not self.throw(deployment_id, abort):  # a step is running: stopped right after it
            return {"status": "Pending", "statusMessage": f"Stopping deployment {deployment_id}"}
        return {"status": "Succeeded", "statusMessage": f"Deployment {deployment_id} stopped"}

    def _stop_server_deployment(self, deployment_id: str, auto_rollback: bool) -> dict[str, Any]:
        """StopDeployment of an EC2/on-premises (in-place) deployment, moto's own record:
        a running one ends `Stopped` (the instances not yet updated keep their revision);
        with `autoRollbackEnabled`, CodeDeploy redeploys the group's last successful
        revision in a new deployment (`rollbackInfo`); an ended one is refused."""
        info = self._codedeploy.deployments.get(deployment_id)
        if info is None:
            raise _error(
                "DeploymentDoesNotExistException", f"The deployment {deployment_id} does not exist"
            )
        if info.status in TERMINAL:
            raise _error(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment_id} has already completed: {info.status}",
            )
        info.status = "Stopped"
        info.complete_time = _now()
        overlay: dict[str, Any] = {
            "errorInformation": {
                "code": "MANUAL_STOP",
                "message": "The deployment was stopped by a user",
            }
        }
        previous = self._last_succeeded(info) if auto_rollback else None
        if previous is not None:
            rollback_id = self._codedeploy.create_deployment(
                application_name=info.application_name,
                deployment_group_name=info.deployment_group_name,
                revision=previous.revision,
                description=f"Rollback of {deployment_id}",
            )
            self._codedeploy.deployments[rollback_id].creator = "codeDeployRollback"
            overlay["rollbackInfo"] = {
                "rollbackDeploymentId": rollback_id,
                "rollbackMessage": f"Redeploying the last successful revision "
                f"({previous.deployment_id})",
            }
        self.server_overlays[deployment_id] = overlay
        return {"status": "Succeeded", "statusMessage": f"Deployment {deployment_id} stopped"}

    def _last_succeeded(self, info: DeploymentInfo) -> DeploymentInfo | None:
        done = [
            d
            for d in self._codedeploy.deployments.values()
            if d.application_name == info.application_name
            and d.deployment_group_name == info.deployment_group_name
            and d.status == "Succeeded"
        ]
        return max(done, key=lambda d: d.create_time) if done else None

    def create_deployment_config(self, get: Callable[[str], Any]) -> dict[str, Any]:
        name = get("deploymentConfigName")
        if name in self.configs or name in PREDEFINED:
            raise _error("DeploymentConfigAlreadyExistsException", f"{name} already exists")
        routing = get("trafficRoutingConfig") or {"type": "AllAtOnce"}
        if routing.get("type") not in {"AllAtOnce", "TimeBasedCanary", "TimeBasedLinear"}:
            raise _error(
                "InvalidTrafficRoutingConfigurationException",
                f"unknown type {routing.get('type')!r}",
            )
        config_id = secrets.token_hex(16)
        self.configs[name] = {
            "deploymentConfigId": config_id,
            "deploymentConfigName": name,
            "computePlatform": get("computePlatform") or "Server",
            "trafficRoutingConfig": routing,
            "createTime": _now(),
        }
        return {"deploymentConfigId": config_id}

    def get_deployment_config(self, get: Callable[[str], Any]) -> dict[str, Any]:
        name = get("deploymentConfigName")
        if name in PREDEFINED:
            return {
                "deploymentConfigInfo": {
                    "deploymentConfigName": name,
                    "computePlatform": "ECS",
                    "trafficRoutingConfig": PREDEFINED[name],
                }
            }
        if name not in self.configs:
            raise _error("DeploymentConfigDoesNotExistException", f"{name} does not exist")
        return {"deploymentConfigInfo": self.configs[name]}

    def list_deployment_targets(self, get: Callable[[str], Any]) -> dict[str, Any]:
        dep = self._deployment(get("deploymentId"))
        return {"targetIds": [f"{dep.cluster}:{dep.service}"]}

    def get_deployment_target(self, get: Callable[[str], Any]) -> dict[str, Any]:
        return {"deploymentTarget": self._target(self._deployment(get("deploymentId")))}

    def batch_get_deployment_targets(self, get: Callable[[str], Any]) -> dict[str, Any]:
        return {"deploymentTargets": [self._target(self._deployment(get("deploymentId")))]}

    def _deployment(self, deployment_id: str) -> EcsDeployment:
        dep = self.deployments.get(deployment_id)
        if dep is None:
            raise _error(
                "DeploymentDoesNotExistException", f"The deployment {deployment_id} does not exist"
            )
        return dep

    def _target(self, dep: EcsDeployment) -> dict[str, Any]:
        service = self._ecs._get_service(dep.cluster, dep.service)
        sets = []
        for label, task_set, weight, tg in (
            ("Blue", dep.original, 100 - dep.green_weight, dep.blue_tg),
            ("Green", dep.replacement, dep.green_weight, dep.green_tg),
        ):
            if task_set is not None and task_set in service.task_sets:
                sets.append(
                    {
                        "identifer": task_set.id,
                        "desiredCount": getattr(task_set, "computed_desired_count", 0),
                        "pendingCount": getattr(task_set, "pending_count", 0),
                        "runningCount": getattr(task_set, "running_count", 0),
                        "status": task_set.status,
                        "trafficWeight": float(weight),
                        "targetGroup": {"name": tg.split("/")[-2] if tg else ""},
                        "taskSetLabel": label,
                    }
                )
        status = dep.info.status if dep.info.status in TERMINAL else "InProgress"
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": dep.id,
                "targetId": f"{dep.cluster}:{dep.service}",
                "targetArn": service.arn,
                "lastUpdatedAt": dep.updated,
                "lifecycleEvents": [e.as_dict() for e in dep.events.values()],
                "status": status,
                "taskSetsInfo": sets,
            },
        }

    def overlay(self, deployment_id: str) -> dict[str, Any]:
        """What GetDeployment shows beyond moto's record."""
        dep = self.deployments.get(deployment_id)
        if dep is None:
            return dict(self.server_overlays.get(deployment_id, {}))
        out: dict[str, Any] = {
            "deploymentStatusMessages": [e.message for e in dep.events.values() if e.message]
        }
        if dep.error:
            out["errorInformation"] = dep.error
        if dep.rollback_info:
            out["rollbackInfo"] = dep.rollback_info
        return out


ACTIONS = (
    "put_lifecycle_event_hook_execution_status",
    "stop_deployment",
    "create_deployment_config",
    "get_deployment_config",
    "list_deployment_targets",
    "get_deployment_target",
    "batch_get_deployment_targets",
)


def _appspec(revision: dict[str, Any]) -> dict[str, Any]:
    kind = (revision or {}).get("revisionType")
    content = ((revision or {}).get("appSpecContent") or (revision or {}).get("string") or {}).get(
        "content"
    )
    if kind not in {"AppSpecContent", "String"} or not content:
        raise _error(
            "InvalidRevisionException", "an ECS deployment needs AppSpecContent (or String) content"
        )
    try:
        spec = yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise _error("InvalidRevisionException", f"the AppSpec is not YAML/JSON: {error}") from None
    if not isinstance(spec, dict):
        raise _error("InvalidRevisionException", "the AppSpec must be an object")
    return spec


def appspec_content(
    task_definition: str, hooks: dict[str, str], container: str = "app", port: int = 80
) -> str:
    """AppSpec content for an ECS deployment (what `aws deploy create-deployment` takes)."""
    spec = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": task_definition,
                        "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port},
                    },
                }
            }
        ],
        "Hooks": [{event: function} for event, function in hooks.items()],
    }
    return json.dumps(spec)
