"""The CodeDeploy ECS lifecycle hook contract.

CodeDeploy invokes `CodeDeployHook_<Event>` with `{"DeploymentId", "LifecycleEventHookExecutionId"}`
and waits (up to an hour) for `PutLifecycleEventHookExecutionStatus`. So, on every path:

- the status defaults to `Failed` and is reported in `finally`;
- the checks get the function's remaining time minus a margin (`OutOfTime` -> Failed);
- a failure to report is raised (`HookReportFailed`), so Lambda retries the invocation;
- a repeated `LifecycleEventHookExecutionId` neither re-runs the checks nor reports again.

Only an event without the two ids cannot be answered: it is refused (`MalformedHookEvent`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from botocore.exceptions import BotoCoreError, ClientError

from .. import clock as wall_clock
from ..checks import CheckContext, Outcome, apply_inconclusive_rule, run_checks, verdict
from ..checks.http import HttpTransport, PinnedTransport
from ..checks.model import Deadline, ReleaseTarget, TargetNotReady
from ..checks.reach import load_balancer_of_listener
from ..errors import BlueGreenError, InvalidConfiguration
from ..store import hooks as hook_store
from .config import AFTER_PRODUCTION_SHIFT, HookConfig
from .errors import HookReportFailed, MalformedHookEvent, NotAnEcsDeployment, OutOfTime
from .guard import CALL_SECONDS, Answered, CallGuard, Once, deadline_of, reserve_seconds
from .loader import load_codedeploy_config
from .settings import CodeDeployHookSettings

logger = Logger(child=True)
SUCCEEDED, FAILED = "Succeeded", "Failed"


@dataclass(frozen=True)
class CodeDeployHookEvent:
    deployment_id: str
    execution_id: str

    @classmethod
    def parse(cls, event: Any) -> CodeDeployHookEvent:
        if not isinstance(event, dict):
            raise MalformedHookEvent(f"the event must be a JSON object, got {type(event).__name__}")
        values = []
        for key in ("DeploymentId", "LifecycleEventHookExecutionId"):
            value = event.get(key)
            if not isinstance(value, str) or not value.strip():
                raise MalformedHookEvent(
                    f"{key} is missing or not a string: nothing can be reported"
                )
            values.append(value)
        return cls(*values)


@dataclass
class Reporter:
    """Reports one status; refuses to report twice from the same invocation."""

    codedeploy: Any
    hook: CodeDeployHookEvent
    reported: str | None = None

    def report(self, status: str, reason: str) -> None:
        if self.reported is not None:
            raise HookReportFailed(f"already reported {self.reported} in this invocation")
        self.reported = status
        logger.info("reporting hook status", status=status, reason=reason)
        try:
            self.codedeploy.put_lifecycle_event_hook_execution_status(
                deploymentId=self.hook.deployment_id,
                lifecycleEventHookExecutionId=self.hook.execution_id,
                status=status,
            )
        except ClientError as error:
            if (
                error.response.get("Error", {}).get("Code")
                == "LifecycleEventAlreadyCompletedException"
            ):
                logger.warning("CodeDeploy already has a status for this hook execution")
                return
            raise HookReportFailed(f"could not report {status}: {error}") from error


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up per call: the sleep of the process the layer runs in


@dataclass
class CodeDeployHookDeps:
    clients: Any  # built with HOOK_CLIENT_CONFIG and `guard` installed on every client
    guard: CallGuard
    load_settings: Callable[[], CodeDeployHookSettings]
    load_table: Callable[[], str | None]  # DEPLOYMENTS_TABLE alone: dedupe needs only it
    store_for: Callable[[str], BasePersistenceLayer | None]
    transport: HttpTransport | None = None
    answered: Answered = field(default_factory=Answered)  # the sandbox's: app.py's
    sleep: Callable[[float], None] = _sleep
    clock: Callable[[], float] = wall_clock.now  # wall clock: verification window, analysis


def answer_codedeploy_hook(event: Any, context: Any, deps: CodeDeployHookDeps) -> dict[str, Any]:
    """Evaluate the configured checks for this function's lifecycle event and report once,
    first; the verdict's reason is recorded after, in the time left."""
    hook = CodeDeployHookEvent.parse(event)
    table = deps.load_table()
    once = Once(
        _store(deps, table) if table else None,
        "LifecycleEventHookExecutionId",
        context,
        key=lambda payload: str(payload["LifecycleEventHookExecutionId"]),
        answered=deps.answered,
    )
    return once.run(event, lambda: _answer(hook, context, deps, table))


def _answer(
    hook: CodeDeployHookEvent, context: Any, deps: CodeDeployHookDeps, table: str | None
) -> dict[str, Any]:
    reporter = Reporter(deps.clients.codedeploy, hook)
    status, reason, event_name = FAILED, "the hook ended before reaching a verdict", ""
    try:
        settings = deps.load_settings()
        event_name = settings.LIFECYCLE_EVENT
        deadline = deadline_of(context, reserve_seconds(settings.HOOK_TIME_MARGIN_SECONDS))
        deps.guard.set(deadline)
        outcome, reason = _check(hook, settings, deadline, deps)
        status = SUCCEEDED if outcome is Outcome.PASSED else FAILED
    except InvalidConfiguration as error:
        reason = f"function misconfigured: {error}"
    except BlueGreenError as error:
        reason = f"{type(error).__name__}: {error}"
    except Exception as error:  # the unexpected-error path: the verdict is Failed
        logger.exception("unexpected error while checking")
        reason = f"unexpected {type(error).__name__}: {error}"
    finally:
        deps.guard.set(None)  # the report is never refused for time: it is why we are here
        reporter.report(status, reason)
    deps.guard.set(deadline_of(context, CALL_SECONDS + 1))  # after: only what fits
    if table and event_name:
        _record_verdict(deps, table, hook.deployment_id, event_name, status, reason)
    return {"status": status, "reason": reason}


def _record_verdict(
    deps: Any, table: str, deployment: str, event: str, status: str, reason: str
) -> None:
    """Keep the reason for the switch's record; best effort, bounded by the time left."""
    try:
        hook_store.put_verdict(deps.clients.dynamodb, table, deployment, event, status, reason)
    except (ClientError, BotoCoreError, OutOfTime) as error:
        logger.warning("could not record the hook verdict", error=str(error))


def _check(
    hook: CodeDeployHookEvent,
    settings: CodeDeployHookSettings,
    deadline: Deadline,
    deps: CodeDeployHookDeps,
) -> tuple[Outcome, str]:
    clients = deps.clients
    if deadline.expired():
        raise OutOfTime("no time left to check before the function times out")
    deployment = clients.codedeploy.get_deployment(deploymentId=hook.deployment_id)[
        "deploymentInfo"
    ]
    if deployment.get("computePlatform") != "ECS":
        raise NotAnEcsDeployment(
            f"{hook.deployment_id} is a {deployment.get('computePlatform')} deployment"
        )
    group = clients.codedeploy.get_deployment_group(
        applicationName=deployment["applicationName"],
        deploymentGroupName=deployment["deploymentGroupName"],
    )["deploymentGroupInfo"]
    config = load_codedeploy_config(
        clients,
        settings.DEPLOYMENTS_TABLE,
        settings.HOOK_CONFIG_PARAMETER_PREFIX,
        hook.deployment_id,
        deployment["applicationName"],
        deployment["deploymentGroupName"],
    )
    names = config.checks_for(settings.LIFECYCLE_EVENT)
    logger.info(
        "running checks",
        lifecycle_event=settings.LIFECYCLE_EVENT,
        checks=names,
        config=config.source,
    )
    waited = _verification_wait(settings.LIFECYCLE_EVENT, config, deadline, deps)
    ctx = CheckContext(
        clients=clients,
        config=config,
        resolve_target=lambda: resolve_codedeploy_target(clients.ecs, deployment, group),
        deadline=deadline,
        transport=deps.transport or PinnedTransport(settings.reach()),
        reach=settings.reach(),
        wall_clock=deps.clock,
        waited_seconds=waited,
        shift_started=lambda: traffic_shift_started(clients.codedeploy, hook.deployment_id),
    )
    while True:
        results = run_checks(names, ctx)
        outcome, reason = verdict(results)
        logger.info("checks done", outcome=outcome.value, results=[r.as_record() for r in results])
        if outcome is not Outcome.PENDING:
            outcome, reason = apply_inconclusive_rule(
                outcome, reason, results, config.when_inconclusive
            )
            return outcome, reason + _short_window(config, waited)
        if deadline.remaining() <= config.poll_seconds:
            return Outcome.FAILED, f"still not ready when the time ran out: {reason}"
        deps.sleep(config.poll_seconds)


def _verification_wait(
    event: str, config: HookConfig, deadline: Deadline, deps: CodeDeployHookDeps
) -> float:
    """After production traffic moved, wait out the verification window before judging,
    as far as the invocation's time allows (the checks keep two calls' worth). The wait is
    counted by what was slept (a sleep lasts at least as long as asked), so it holds on
    any clock the function's sleep and wall clock run on."""
    if event not in AFTER_PRODUCTION_SHIFT or config.window_seconds <= 0:
        return 0.0
    waited = 0.0
    while waited < config.window_seconds:
        room = deadline.remaining() - 2 * CALL_SECONDS
        if room <= 0:
            break
        step = min(config.poll_seconds, config.window_seconds - waited, room)
        deps.sleep(step)
        waited += step
    return waited


def _short_window(config: HookConfig, waited: float) -> str:
    if not config.window_seconds or waited >= config.window_seconds:
        return ""
    return (
        f" (verified over {waited:.0f}s of the {config.window_seconds}s window: "
        "the function's timeout allows no more)"
    )


def traffic_shift_started(codedeploy: Any, deployment_id: str) -> float | None:
    """When CodeDeploy began to move production traffic (the AllowTraffic lifecycle event's
    start), epoch seconds; None if the deployment target does not say."""
    targets = codedeploy.list_deployment_targets(deploymentId=deployment_id).get("targetIds") or []
    if not targets:
        return None
    target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=targets[0])
    events = (target.get("deploymentTarget") or {}).get("ecsTarget", {}).get("lifecycleEvents", [])
    for event in events:
        if event.get("lifecycleEventName") == "AllowTraffic" and event.get("startTime"):
            started = event["startTime"]
            return float(started.timestamp()) if hasattr(started, "timestamp") else float(started)
    return None


def resolve_codedeploy_target(
    ecs: Any, deployment: dict[str, Any], group: dict[str, Any]
) -> ReleaseTarget:
    """The ECS service, its replacement task set, its green and blue target groups, the
    test and production listeners."""
    services = group.get("ecsServices") or []
    if not services:
        raise TargetNotReady("the deployment group names no ECS service")
    cluster, service = services[0]["clusterName"], services[0]["serviceName"]
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}]
    test_listeners = tuple((pairs[0].get("testTrafficRoute") or {}).get("listenerArns") or [])
    production = tuple((pairs[0].get("prodTrafficRoute") or {}).get("listenerArns") or [])
    task_sets = ecs.describe_task_sets(cluster=cluster, service=service).get("taskSets", [])
    if len(task_sets) < 2:
        raise TargetNotReady(f"service {service} has no replacement task set yet")
    replacement = max(task_sets, key=lambda ts: ts.get("createdAt") or 0)
    wanted = appspec_task_definition(deployment.get("revision") or {})
    if wanted and replacement.get("taskDefinition") != wanted:
        raise TargetNotReady(
            f"the newest task set runs {replacement.get('taskDefinition')}, "
            f"the AppSpec deploys {wanted}"
        )
    green = tuple(lb["targetGroupArn"] for lb in replacement.get("loadBalancers", []))
    blue = tuple(
        lb["targetGroupArn"]
        for task_set in task_sets
        if task_set is not replacement
        for lb in task_set.get("loadBalancers", [])
        if lb["targetGroupArn"] not in green
    )
    return ReleaseTarget(
        cluster=cluster,
        service=service,
        task_definition=replacement.get("taskDefinition"),
        task_set_arn=replacement["taskSetArn"],
        green_target_groups=green,
        test_listeners=test_listeners,
        production_listeners=production,
        blue_target_groups=tuple(dict.fromkeys(blue)),
        load_balancer_arn=load_balancer_of_listener((production or test_listeners or ("",))[0]),
    )


def appspec_task_definition(revision: dict[str, Any]) -> str | None:
    """The TaskDefinition of the AppSpec's TargetService (JSON or YAML content)."""
    content = (revision.get("appSpecContent") or revision.get("string") or {}).get("content")
    if not content:
        return None
    try:
        spec = json.loads(content)
        return str(spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"])
    except (ValueError, KeyError, IndexError, TypeError):
        match = re.search(r"TaskDefinition\s*:\s*[\"']?([^\"'\s,}]+)", content)
        return match.group(1) if match else None


def _store(deps: Any, table: str) -> BasePersistenceLayer | None:
    """The idempotency store; if it cannot even be built, answer without it."""
    try:
        return deps.store_for(table)  # type: ignore[no-any-return]
    except Exception:  # the hook must still answer: idempotency is best effort here
        logger.exception("could not set up the idempotency store; answering without it")
        return None
