"""Emulation of ECS-native blue/green service deployments, as AWS documents them.

moto 5.2 updates a service's task definition and nothing more; it has no service
deployments, service revisions, lifecycle hooks or `StopServiceDeployment`. For a
service with deployment controller `ECS` and `deploymentConfiguration.strategy`
`BLUE_GREEN`, `LINEAR` or `CANARY`, an `UpdateService` that changes the task definition
starts a service deployment here (moto_patches/ecs.py wires it):

    RECONCILE_SERVICE -> PRE_SCALE_UP -> SCALE_UP (green tasks in the alternate target
    group) -> POST_SCALE_UP -> TEST_TRAFFIC_SHIFT (test rule -> green) ->
    POST_TEST_TRAFFIC_SHIFT -> PRE_PRODUCTION_TRAFFIC_SHIFT -> PRODUCTION_TRAFFIC_SHIFT
    (production rule weights: all at once, linear steps or canary, each step baked) ->
    POST_PRODUCTION_TRAFFIC_SHIFT -> BAKE_TIME -> CLEAN_UP -> SUCCESSFUL

At each stage the lifecycle hooks configured for it are invoked with the payload ECS
sends; their *return value* decides: SUCCEEDED goes on, FAILED (or an error, or no
hookStatus) rolls back, IN_PROGRESS invokes the hook again after `callBackDelay`
(default 30 s, emulated) with the returned `hookDetails`. A guarded alarm in ALARM
(`deploymentConfiguration.alarms`) or `StopServiceDeployment(stopType=ROLLBACK)` also
rolls back: traffic goes back to the source revision and ECS runs the
TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT hooks again, as AWS does.
`DescribeServiceDeployments`, `ListServiceDeployments` and `DescribeServiceRevisions`
answer from here.

Driven like the CodeDeploy emulation: `advance()`, `run_until_done()`, or `background`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError
from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends

from ..core import clock as clocks
from ..core.flow import Flow, FlowDriver, Step, Wait
from .elb import deregister_tasks, register_tasks, route_rule

if TYPE_CHECKING:
    from ..core.host import Host

STRATEGIES = {"BLUE_GREEN", "LINEAR", "CANARY"}
ROLLBACK_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
TERMINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
DEFAULT_CALLBACK_DELAY = 30


def _now() -> datetime:
    """The deployment's emulated now, as a date (its flow's timeline: core/flow.py)."""
    return clocks.date_now()


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)


@dataclass
class ServiceRevision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    target_group: str
    load_balancers: list[dict[str, Any]]
    created: datetime = field(default_factory=_now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "loadBalancers": [
                {**lb, "targetGroupArn": self.target_group} for lb in self.load_balancers
            ],
            "createdAt": self.created,
        }


@dataclass
class HookCall:
    stage: str
    execution_id: str
    function: str
    status: str | None
    details: dict[str, Any]
    rollback: bool


class _Rollback(Exception):  # control flow inside a service deployment flow
    def __init__(self, reason: str, stop_type: str = "ROLLBACK") -> None:
        super().__init__(reason)
        self.reason, self.stop_type = reason, stop_type


@dataclass
class ServiceDeployment:
    arn: str
    cluster: str
    service: str
    service_arn: str
    cluster_arn: str
    source: ServiceRevision
    target: ServiceRevision
    configuration: dict[str, Any]
    prod_rule: str | None
    test_rule: str | None
    status: str = "PENDING"
    status_reason: str = ""
    stage: str = "RECONCILE_SERVICE"
    created: datetime = field(default_factory=_now)
    started: datetime | None = None
    finished: datetime | None = None
    stopped: datetime | None = None
    updated: datetime = field(default_factory=_now)
    rollback: dict[str, Any] = field(default_factory=dict)
    green_weight: int = 0
    test_on_green: bool = False
    hook_calls: list[HookCall] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created,
            "updatedAt": self.updated,
            "sourceServiceRevisions": [
                {
                    "arn": self.source.arn,
                    "requestedTaskCount": 0,
                    "runningTaskCount": 0,
                    "pendingTaskCount": 0,
                }
            ],
            "targetServiceRevision": {"arn": self.target.arn},
            "status": self.status,
            "statusReason": self.status_reason,
            "lifecycleStage": self.stage,
            "deploymentConfiguration": self.configuration,
        }
        for key, value in (
            ("startedAt", self.started),
            ("finishedAt", self.finished),
            ("stoppedAt", self.stopped),
        ):
            if value is not None:
                out[key] = value
        if self.rollback:
            out["rollback"] = self.rollback
        return out

    def brief(self) -> dict[str, Any]:
        full = self.as_dict()
        keys = (
            "serviceDeploymentArn",
            "serviceArn",
            "clusterArn",
            "startedAt",
            "createdAt",
            "finishedAt",
            "status",
            "statusReason",
        )
        return {
            **{k: full[k] for k in keys if k in full},
            "targetServiceRevisionArn": self.target.arn,
        }


class EcsNativeEmulation(FlowDriver):
    """ECS-native blue/green deployments of the emulated account's services."""

    def __init__(self, host: Host) -> None:
        super().__init__(host.clock)
        self.aws = host
        self.revisions: dict[str, ServiceRevision] = {}
        self.current: dict[str, ServiceRevision] = {}  # service ARN -> revision serving
        self.deployments: dict[str, ServiceDeployment] = {}
        self.configurations: dict[
            str, dict[str, Any]
        ] = {}  # service ARN -> deploymentConfiguration
        self.hook_calls: list[HookCall] = []
        self.max_hook_attempts = 200
        # ids to hand out next, per kind ("deployment", "revision"), before
        # random ones: how a staged account (staging.py) gets the ids its events files name
        self.preset_ids: dict[str, list[str]] = {}

    def _next_id(self, kind: str, random_id: Callable[[], str]) -> str:
        with self.lock:
            queue = self.preset_ids.get(kind)
            return queue.pop(0) if queue else random_id()

    @property
    def _ecs(self) -> EC2ContainerServiceBackend:
        return ecs_backends[self.aws.account_id][self.aws.region]

    def task_definition_in(self, target_group: str) -> str | None:
        """The task definition of the revision whose tasks are in `target_group`."""
        for deployment in reversed(list(self.deployments.values())):
            if deployment.status in {"IN_PROGRESS", "ROLLBACK_IN_PROGRESS"}:
                for revision in (deployment.target, deployment.source):
                    if revision.target_group == target_group:
                        return revision.task_definition
        for revision in self.current.values():
            if revision.target_group == target_group:
                return revision.task_definition
        return None

    # -- services (wired by moto_patches/ecs.py) -----------------------------------------
    def service_created(self, service: Service, configuration: dict[str, Any] | None) -> None:
        if configuration:
            self.configurations[service.arn] = configuration
        if service.deployment_controller.get("type", "ECS") == "ECS" and service.task_definition:
            self.adopt(service.cluster_name, service.name)

    def adopt(self, cluster: str, service_name: str) -> ServiceRevision:
        """The service's first revision: its tasks run and are registered in its target group."""
        service = self._ecs._get_service(cluster, service_name)
        if service.arn in self.current:
            return self.current[service.arn]
        revision = self._revision(service, str(service.task_definition), _primary_group(service))
        self.current[service.arn] = revision
        service.running_count, service.pending_count = service.desired_count, 0
        for deployment in service.deployments:
            deployment.update(
                runningCount=service.desired_count, pendingCount=0, rolloutState="COMPLETED"
            )
        if revision.target_group:  # a service without a load balancer has none
            register_tasks(self.aws.client("elbv2"), revision.target_group, service.desired_count)
        return revision

    def service_updated(
        self,
        service: Service,
        previous_task_definition: str | None,
        configuration: dict[str, Any] | None,
    ) -> None:
        if configuration:
            self.configurations[service.arn] = configuration
        config = self.configurations.get(service.arn, {})
        if (
            service.deployment_controller.get("type", "ECS") != "ECS"
            or config.get("strategy") not in STRATEGIES
        ):
            return
        target_td = self._ecs.describe_task_definition(str(service.task_definition)).arn
        source = self.current.get(service.arn) or self.adopt(service.cluster_name, service.name)
        if any(
            d.service_arn == service.arn and d.status not in TERMINAL
            for d in self.deployments.values()
        ):
            service.task_definition = previous_task_definition  # refused: nothing changes
            raise _error("InvalidParameterException", "a service deployment is already in progress")
        if target_td == source.task_definition:
            return
        lb = (service.load_balancers or [{}])[0]
        advanced = lb.get("advancedConfiguration") or {}
        green_group = (
            advanced.get("alternateTargetGroupArn")
            if source.target_group == lb.get("targetGroupArn")
            else lb.get("targetGroupArn")
        )
        target = self._revision(service, target_td, str(green_group))
        deployment_id = self._next_id("deployment", lambda: secrets.token_hex(8))
        deployment = ServiceDeployment(
            arn=f"arn:aws:ecs:{self.aws.region}:{self.aws.account_id}:service-deployment/{service.cluster_name}/{service.name}/{deployment_id}",
            cluster=service.cluster_name,
            service=service.name,
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            source=source,
            target=target,
            configuration=config,
            prod_rule=advanced.get("productionListenerRule"),
            test_rule=advanced.get("testListenerRule"),
        )
        service.task_definition = source.task_definition  # still serving the source until done
        self.deployments[deployment.arn] = deployment
        self.start_flow(deployment.arn, self._flow(deployment))

    def _revision(
        self, service: Service, task_definition: str, target_group: str
    ) -> ServiceRevision:
        revision_id = self._next_id("revision", lambda: str(secrets.randbelow(10**16)))
        revision = ServiceRevision(
            arn=f"arn:aws:ecs:{self.aws.region}:{self.aws.account_id}:service-revision/{service.cluster_name}/{service.name}/{revision_id}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            task_definition=task_definition,
            target_group=target_group,
            load_balancers=[dict(lb) for lb in service.load_balancers],
        )
        self.revisions[revision.arn] = revision
        return revision

    # -- the deployment flow ----------------------------------------------------------------
    def _flow(self, dep: ServiceDeployment) -> Flow:
        try:
            dep.status, dep.started = "IN_PROGRESS", _now()
            yield "PENDING -> IN_PROGRESS"
            yield from self._forward(dep)
        except _Rollback as rollback:
            if rollback.stop_type == "ABORT":
                self._stop(dep, rollback.reason)
            else:
                yield from self._roll_back(dep, rollback.reason)
            yield dep.status
            return
        dep.status, dep.finished, dep.updated = "SUCCESSFUL", _now(), _now()
        yield "SUCCESSFUL"

    def _forward(self, dep: ServiceDeployment) -> Iterator[Step]:
        yield from self._stage(dep, "RECONCILE_SERVICE")
        yield from self._stage(dep, "PRE_SCALE_UP")
        self._scale_up(dep)
        yield "SCALE_UP: green tasks running"
        yield from self._stage(dep, "POST_SCALE_UP")
        self._route_test(dep, green=True)
        yield from self._stage(dep, "TEST_TRAFFIC_SHIFT")
        yield from self._stage(dep, "POST_TEST_TRAFFIC_SHIFT")
        yield from self._stage(dep, "PRE_PRODUCTION_TRAFFIC_SHIFT")
        for percent, bake in self._shift_plan(dep.configuration):
            self._guard_alarms(dep)
            self._route_prod(dep, percent)
            yield from self._stage(dep, "PRODUCTION_TRAFFIC_SHIFT")
            if bake:
                yield Wait(bake, f"bake at green {percent}%")
        yield from self._stage(dep, "POST_PRODUCTION_TRAFFIC_SHIFT")
        dep.stage = "BAKE_TIME"
        bake = float(dep.configuration.get("bakeTimeInMinutes", 0)) * 60
        if bake:
            yield Wait(bake, "bake time")
        self._guard_alarms(dep)
        dep.stage = "CLEAN_UP"
        self._clean_up(dep, keep=dep.target, drop=dep.source)
        yield "CLEAN_UP: source revision removed"

    def _stage(self, dep: ServiceDeployment, stage: str, rollback: bool = False) -> Iterator[Step]:
        dep.stage, dep.updated = stage, _now()
        yield stage + (" (rollback)" if rollback else "")
        for hook in dep.configuration.get("lifecycleHooks") or []:
            if stage in (hook.get("lifecycleStages") or []):
                yield from self._call_hook(dep, stage, hook, rollback)

    def _call_hook(
        self, dep: ServiceDeployment, stage: str, hook: dict[str, Any], rollback: bool
    ) -> Iterator[Step]:
        function = str(hook.get("hookTargetArn"))
        details: dict[str, Any] = dict(hook.get("hookDetails") or {})
        execution_id = secrets.token_hex(16)
        for _attempt in range(self.max_hook_attempts):
            event = {
                "executionId": execution_id,
                "lifecycleStage": stage,
                "resourceArn": dep.arn,
                "executionDetails": {
                    "serviceArn": dep.service_arn,
                    "targetServiceRevisionArn": dep.target.arn,
                    "testTrafficWeights": self._weights(dep, test=True),
                    "productionTrafficWeights": self._weights(dep, test=False),
                },
                "hookDetails": details,
            }
            status, answer = self._invoke(function, event)
            call = HookCall(stage, execution_id, function, status, answer, rollback)
            dep.hook_calls.append(call)
            self.hook_calls.append(call)
            yield f"{stage}: hook answered {status}"
            if status == "SUCCEEDED":
                return
            if status != "IN_PROGRESS":
                reason = f"lifecycle hook at {stage} answered {status}: {_reason(answer)}"
                if rollback:
                    dep.status_reason = reason
                    raise _RollbackFailed(reason)
                raise _Rollback(reason)
            returned = answer.get("hookDetails")
            details = returned if isinstance(returned, dict) else details
            delay = answer.get("callBackDelay", DEFAULT_CALLBACK_DELAY)
            yield Wait(float(delay), f"{stage}: hook IN_PROGRESS, called again in {delay}s")
        raise _Rollback(
            f"lifecycle hook at {stage} still IN_PROGRESS after {self.max_hook_attempts} calls"
        )

    def _invoke(self, function: str, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            spec = self.aws.runtime.find(function)
        except KeyError:
            return "ERROR", {"reason": f"function {function} not found"}
        # ECS invokes the hook at the deployment's now and waits for its answer
        result = self.aws.runtime.invoke(spec.name, event)
        answer = result.json() if result.payload else None
        if result.error_type is not None or not isinstance(answer, dict):
            return "ERROR", {"reason": f"the hook failed: {result.error_type}"}
        status = answer.get("hookStatus")
        if status not in {"SUCCEEDED", "FAILED", "IN_PROGRESS"}:
            return "ERROR", {"reason": f"no valid hookStatus in {answer!r}"[:300]}
        return str(status), answer

    def _roll_back(self, dep: ServiceDeployment, reason: str) -> Iterator[Step]:
        dep.status, dep.status_reason, dep.updated = "ROLLBACK_IN_PROGRESS", reason, _now()
        dep.rollback = {
            "reason": reason[:1000],
            "startedAt": _now(),
            "serviceRevisionArn": dep.source.arn,
        }
        yield f"ROLLBACK_IN_PROGRESS: {reason}"
        try:
            self._route_test(dep, green=False)
            yield from self._stage(dep, "TEST_TRAFFIC_SHIFT", rollback=True)
            self._route_prod(dep, 0)
            yield from self._stage(dep, "PRODUCTION_TRAFFIC_SHIFT", rollback=True)
        except _RollbackFailed:
            dep.status, dep.finished = "ROLLBACK_FAILED", _now()
            return
        dep.stage = "CLEAN_UP"
        self._clean_up(dep, keep=dep.source, drop=dep.target)
        dep.status, dep.finished, dep.updated = "ROLLBACK_SUCCESSFUL", _now(), _now()

    def _stop(self, dep: ServiceDeployment, reason: str) -> None:
        dep.status, dep.status_reason, dep.stopped = "STOPPED", reason, _now()

    # -- ECS and ELB changes ------------------------------------------------------------------
    def _service(self, dep: ServiceDeployment) -> Service:
        return self._ecs._get_service(dep.cluster, dep.service)

    def _scale_up(self, dep: ServiceDeployment) -> None:
        dep.stage = "SCALE_UP"
        service = self._service(dep)
        service.deployments.append(
            {
                "id": f"ecs-svc/{secrets.randbelow(32**12)}",
                "status": "ACTIVE",
                "taskDefinition": dep.target.task_definition,
                "desiredCount": service.desired_count,
                "pendingCount": 0,
                "runningCount": service.desired_count,
                "failedTasks": 0,
                "createdAt": _now(),
                "updatedAt": _now(),
                "launchType": service.launch_type,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"Service deployment {dep.arn} in progress.",
            }
        )
        register_tasks(self.aws.client("elbv2"), dep.target.target_group, service.desired_count)

    def _route_test(self, dep: ServiceDeployment, green: bool) -> None:
        if dep.test_rule:
            weights = {
                dep.source.target_group: 0 if green else 100,
                dep.target.target_group: 100 if green else 0,
            }
            route_rule(self.aws.client("elbv2"), dep.test_rule, weights)
        dep.test_on_green = green

    def _route_prod(self, dep: ServiceDeployment, green_percent: int) -> None:
        if dep.prod_rule:
            weights = {
                dep.source.target_group: 100 - green_percent,
                dep.target.target_group: green_percent,
            }
            route_rule(self.aws.client("elbv2"), dep.prod_rule, weights)
        dep.green_weight = green_percent

    def _weights(self, dep: ServiceDeployment, test: bool) -> dict[str, int]:
        green = (100 if dep.test_on_green else 0) if test else dep.green_weight
        return {dep.source.arn: 100 - green, dep.target.arn: green}

    def _clean_up(
        self, dep: ServiceDeployment, keep: ServiceRevision, drop: ServiceRevision
    ) -> None:
        service = self._service(dep)
        service.deployments[:] = [
            d for d in service.deployments if d.get("taskDefinition") != drop.task_definition
        ]
        for entry in service.deployments:
            entry.update(
                status="PRIMARY",
                rolloutState="COMPLETED",
                rolloutStateReason=f"Service deployment {dep.arn} completed.",
            )
        service.task_definition = keep.task_definition
        self.current[service.arn] = keep
        deregister_tasks(self.aws.client("elbv2"), drop.target_group)

    def _guard_alarms(self, dep: ServiceDeployment) -> None:
        alarms = dep.configuration.get("alarms") or {}
        names = alarms.get("alarmNames") or []
        if not (alarms.get("enable") and alarms.get("rollback") and names):
            return
        described = self.aws.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        firing = [a["AlarmName"] for a in described if a["StateValue"] == "ALARM"]
        if firing:
            raise _Rollback(f"alarm(s) in ALARM: {', '.join(firing)}")

    @staticmethod
    def _shift_plan(config: dict[str, Any]) -> list[tuple[int, float]]:
        strategy = config.get("strategy")
        if strategy == "CANARY":
            canary = config.get("canaryConfiguration") or {}
            percent = int(float(canary.get("canaryPercent", 10)))
            return [(percent, float(canary.get("canaryBakeTimeInMinutes", 0)) * 60), (100, 0.0)]
        if strategy == "LINEAR":
            linear = config.get("linearConfiguration") or {}
            step = max(1, int(float(linear.get("stepPercent", 10))))
            bake = float(linear.get("stepBakeTimeInMinutes", 0)) * 60
            return [*((p, bake) for p in range(step, 100, step)), (100, 0.0)]
        return [(100, 0.0)]

    # -- the API moto lacks (wired by moto_patches/ecs.py) -------------------------------
    def describe_service_deployments(self, get: Callable[[str], Any]) -> dict[str, Any]:
        found, failures = [], []
        for arn in get("serviceDeploymentArns") or []:
            if arn in self.deployments:
                found.append(self.deployments[arn].as_dict())
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        return {"serviceDeployments": found, "failures": failures}

    def list_service_deployments(self, get: Callable[[str], Any]) -> dict[str, Any]:
        service, cluster = get("service"), (get("cluster") or "default").split("/")[-1]
        statuses = get("status") or []
        matching = [
            d.brief()
            for d in self.deployments.values()
            if d.cluster == cluster
            and service in {d.service, d.service_arn}
            and (not statuses or d.status in statuses)
        ]
        return {"serviceDeployments": list(reversed(matching))}

    def describe_service_revisions(self, get: Callable[[str], Any]) -> dict[str, Any]:
        found, failures = [], []
        for arn in get("serviceRevisionArns") or []:
            if arn in self.revisions:
                found.append(self.revisions[arn].as_dict())
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        return {"serviceRevisions": found, "failures": failures}

    def stop_service_deployment(self, get: Callable[[str], Any]) -> dict[str, Any]:
        arn, stop_type = get("serviceDeploymentArn"), get("stopType") or "ROLLBACK"
        with self.lock:
            dep = self.deployments.get(arn)
            if dep is None:
                raise _error("ServiceDeploymentNotFoundException", f"{arn} does not exist")
            if dep.status in TERMINAL or dep.status.startswith("ROLLBACK"):
                raise _error("ConflictException", f"the service deployment is {dep.status}")
            dep.status = "ROLLBACK_REQUESTED" if stop_type == "ROLLBACK" else "STOP_REQUESTED"
        # delivered now, or right after the step that is running (ECS acts asynchronously)
        self.throw(arn, _Rollback("stopped by StopServiceDeployment", stop_type))
        return {"serviceDeploymentArn": arn}


class _RollbackFailed(Exception):
    """A hook failed while rolling back."""


ACTIONS = (
    "describe_service_deployments",
    "list_service_deployments",
    "describe_service_revisions",
    "stop_service_deployment",
)


def _primary_group(service: Service) -> str:
    return str((service.load_balancers or [{}])[0].get("targetGroupArn", ""))


def _reason(answer: dict[str, Any]) -> str:
    details = answer.get("hookDetails")
    source = details if isinstance(details, dict) else answer
    return str(source.get("reason", ""))
