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
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from botocore.exceptions import ClientError

from ..checks import CheckContext, Outcome, run_checks, verdict
from ..checks.http import HttpTransport, PinnedTransport
from ..checks.model import Deadline, ReleaseTarget, TargetNotReady
from ..errors import BlueGreenError, InvalidConfiguration
from .errors import HookReportFailed, MalformedHookEvent, NotAnEcsDeployment
from .guard import Once, within
from .loader import load_codedeploy_config
from .settings import CodeDeployHookSettings
from .verdicts import VerdictLog

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


@dataclass
class CodeDeployHookDeps:
    clients: Any
    load_settings: Callable[[], CodeDeployHookSettings]
    store_for: Callable[[CodeDeployHookSettings], BasePersistenceLayer | None]
    transport: HttpTransport | None = None
    sleep: Callable[[float], None] = time.sleep


def answer_codedeploy_hook(event: Any, context: Any, deps: CodeDeployHookDeps) -> dict[str, Any]:
    """Evaluate the configured checks for this function's lifecycle event and report once."""
    hook = CodeDeployHookEvent.parse(event)
    reporter = Reporter(deps.clients.codedeploy, hook)
    try:
        settings = deps.load_settings()
    except InvalidConfiguration as error:
        problem = f"function misconfigured: {error}"
        return _answer(reporter, lambda: (Outcome.FAILED, problem))
    once = Once(_store(deps, settings), "LifecycleEventHookExecutionId", context)
    verdicts = VerdictLog(
        deps.clients.dynamodb,
        settings.DEPLOYMENTS_TABLE,
        hook.deployment_id,
        settings.LIFECYCLE_EVENT,
    )
    return once.run(
        event,
        lambda: _answer(reporter, lambda: _evaluate(hook, settings, context, deps), verdicts),
    )


def _answer(
    reporter: Reporter,
    evaluate: Callable[[], tuple[Outcome, str]],
    verdicts: VerdictLog | None = None,
) -> dict[str, Any]:
    status, reason = FAILED, "the hook ended before reaching a verdict"
    try:
        outcome, reason = evaluate()
        status = SUCCEEDED if outcome is Outcome.PASSED else FAILED
    except BlueGreenError as error:
        reason = f"{type(error).__name__}: {error}"
    except Exception as error:  # the unexpected-error path: the verdict is Failed
        logger.exception("unexpected error while checking")
        reason = f"unexpected {type(error).__name__}: {error}"
    finally:
        # The verdict is written just before the answer, so whoever sees CodeDeploy end the
        # deployment can also read why; the write is best effort and cannot prevent the
        # answer (it never raises a client error, and the report runs in `finally`).
        try:
            if verdicts is not None:
                verdicts.write(status, reason)
        finally:
            reporter.report(status, reason)
    return {"status": status, "reason": reason}


def _evaluate(
    hook: CodeDeployHookEvent,
    settings: CodeDeployHookSettings,
    context: Any,
    deps: CodeDeployHookDeps,
) -> tuple[Outcome, str]:
    budget = context.get_remaining_time_in_millis() / 1000 - settings.HOOK_TIME_MARGIN_SECONDS
    deadline = Deadline.after(budget)
    return within(budget, lambda: _check(hook, settings, deadline, deps))


def _check(
    hook: CodeDeployHookEvent,
    settings: CodeDeployHookSettings,
    deadline: Deadline,
    deps: CodeDeployHookDeps,
) -> tuple[Outcome, str]:
    clients = deps.clients
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
    ctx = CheckContext(
        clients=clients,
        config=config,
        resolve_target=lambda: resolve_codedeploy_target(clients.ecs, deployment, group),
        deadline=deadline,
        transport=deps.transport or PinnedTransport(settings.reach()),
        reach=settings.reach(),
    )
    while True:
        results = run_checks(names, ctx)
        outcome, reason = verdict(results)
        logger.info("checks done", outcome=outcome.value, results=[r.as_dict() for r in results])
        if outcome is not Outcome.PENDING:
            return outcome, reason
        if deadline.remaining() <= config.poll_seconds:
            return Outcome.FAILED, f"still not ready when the time ran out: {reason}"
        deps.sleep(config.poll_seconds)


def resolve_codedeploy_target(
    ecs: Any, deployment: dict[str, Any], group: dict[str, Any]
) -> ReleaseTarget:
    """The ECS service, its replacement task set, the green target group and test listener."""
    services = group.get("ecsServices") or []
    if not services:
        raise TargetNotReady("the deployment group names no ECS service")
    cluster, service = services[0]["clusterName"], services[0]["serviceName"]
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}]
    test_listeners = tuple((pairs[0].get("testTrafficRoute") or {}).get("listenerArns") or [])
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
    return ReleaseTarget(
        cluster=cluster,
        service=service,
        task_definition=replacement.get("taskDefinition"),
        task_set_arn=replacement["taskSetArn"],
        green_target_groups=tuple(
            lb["targetGroupArn"] for lb in replacement.get("loadBalancers", [])
        ),
        test_listeners=test_listeners,
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


def _store(deps: Any, settings: Any) -> BasePersistenceLayer | None:
    """The idempotency store; if it cannot even be built, answer without it."""
    try:
        return deps.store_for(settings)  # type: ignore[no-any-return]
    except Exception:  # the hook must still answer: idempotency is best effort here
        logger.exception("could not set up the idempotency store; answering without it")
        return None
