"""The ECS-native (deployment controller ECS, BLUE_GREEN/LINEAR/CANARY) hook contract.

ECS invokes the hook with `{executionId, lifecycleStage, resourceArn, executionDetails,
hookDetails}` and acts on the *return value*: `{"hookStatus": SUCCEEDED | FAILED |
IN_PROGRESS, "callBackDelay": N, "hookDetails": {...}}`. So:

- anything that goes wrong returns FAILED with the reason (never an unanswered error);
- a check that is not ready yet, or a verification window still open, returns
  IN_PROGRESS with `callBackDelay` instead of sleeping; the time already waited travels
  in `hookDetails.bluegreen` and ECS hands it back on the next call;
- during a rollback ECS runs the traffic-shift hooks again: the hook answers SUCCEEDED
  without checking the abandoned revision or changing anything, and a repeated
  invocation (same execution, stage and attempt) gets the stored answer.
"""

from __future__ import annotations

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
from .config import ECS_STAGES
from .errors import MalformedHookEvent, OutOfTime
from .guard import CALL_SECONDS, Answered, CallGuard, Once, deadline_of, reserve_seconds
from .loader import load_ecs_native_config
from .settings import EcsNativeHookSettings

logger = Logger(child=True)
SUCCEEDED, FAILED, IN_PROGRESS = "SUCCEEDED", "FAILED", "IN_PROGRESS"
ROLLING_BACK = {"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
TRAFFIC_SHIFT_WEIGHTS = {
    "TEST_TRAFFIC_SHIFT": "testTrafficWeights",
    "PRODUCTION_TRAFFIC_SHIFT": "productionTrafficWeights",
}
STATE_KEY = "bluegreen"
IDEMPOTENCY_KEY = f"[executionId, lifecycleStage, hookDetails.{STATE_KEY}.attempt]"


@dataclass(frozen=True)
class EcsHookEvent:
    execution_id: str
    stage: str
    resource_arn: str
    service_arn: str
    target_revision_arn: str
    hook_details: dict[str, Any]
    weights: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, event: Any) -> EcsHookEvent:
        if not isinstance(event, dict):
            raise MalformedHookEvent(f"the event must be a JSON object, got {type(event).__name__}")
        details = event.get("executionDetails")
        if not isinstance(details, dict):
            raise MalformedHookEvent("executionDetails is missing or not an object")
        stage = event.get("lifecycleStage")
        if stage not in ECS_STAGES:
            raise MalformedHookEvent(
                f"lifecycleStage must be one of {list(ECS_STAGES)}, got {stage!r}"
            )
        values = {
            "executionId": event.get("executionId"),
            "resourceArn": event.get("resourceArn"),
            "executionDetails.serviceArn": details.get("serviceArn"),
            "executionDetails.targetServiceRevisionArn": details.get("targetServiceRevisionArn"),
        }
        for key, value in values.items():
            if not isinstance(value, str) or not value:
                raise MalformedHookEvent(f"{key} is missing or not a string")
        hook_details = event.get("hookDetails") or {}
        if not isinstance(hook_details, dict):
            raise MalformedHookEvent("hookDetails must be an object")
        return cls(
            execution_id=str(values["executionId"]),
            stage=stage,
            resource_arn=str(values["resourceArn"]),
            service_arn=str(values["executionDetails.serviceArn"]),
            target_revision_arn=str(values["executionDetails.targetServiceRevisionArn"]),
            hook_details=hook_details,
            weights={
                key: details[key]
                for key in TRAFFIC_SHIFT_WEIGHTS.values()
                if isinstance(details.get(key), dict)
            },
        )

    @property
    def target_weight(self) -> float | None:
        """The target revision's weight in this traffic-shift stage's weights, if given."""
        weights = self.weights.get(TRAFFIC_SHIFT_WEIGHTS.get(self.stage, ""), {})
        value = weights.get(self.target_revision_arn)
        return float(value) if isinstance(value, int | float) else None

    @property
    def cluster_and_service(self) -> tuple[str, str]:
        # arn:aws:ecs:region:account:service/<cluster>/<service>
        parts = self.service_arn.split(":", 5)[-1].split("/")
        if len(parts) != 3:
            raise MalformedHookEvent(f"serviceArn {self.service_arn!r} is not a service ARN")
        return parts[1], parts[2]

    @property
    def state(self) -> dict[str, Any]:
        state = self.hook_details.get(STATE_KEY)
        return state if isinstance(state, dict) else {}


@dataclass
class EcsNativeHookDeps:
    clients: Any  # built with HOOK_CLIENT_CONFIG and `guard` installed on every client
    guard: CallGuard
    load_settings: Callable[[], EcsNativeHookSettings]
    load_table: Callable[[], str | None]
    store_for: Callable[[str], BasePersistenceLayer | None]
    transport: HttpTransport | None = None
    answered: Answered = field(default_factory=Answered)  # the sandbox's: app.py's
    clock: Callable[[], float] = wall_clock.now  # wall clock: metric windows, analysis


def answer_ecs_native_hook(event: Any, context: Any, deps: EcsNativeHookDeps) -> dict[str, Any]:
    """Return the hook's answer for this stage (never raises for a domain problem)."""
    try:
        hook = EcsHookEvent.parse(event)
    except MalformedHookEvent as error:
        return _response(FAILED, f"{type(error).__name__}: {error}", {})
    table = deps.load_table()
    once = Once(
        _store(deps, table) if table else None,
        IDEMPOTENCY_KEY,
        context,
        key=lambda _payload: f"{hook.execution_id}:{hook.stage}:{hook.state.get('attempt')}",
        answered=deps.answered,
    )
    return once.run(event, lambda: _answer(hook, context, deps, table))


def _answer(
    hook: EcsHookEvent, context: Any, deps: EcsNativeHookDeps, table: str | None
) -> dict[str, Any]:
    try:
        settings = deps.load_settings()
        deadline = deadline_of(context, reserve_seconds(settings.HOOK_TIME_MARGIN_SECONDS))
        deps.guard.set(deadline)
        answer = _evaluate(hook, settings, deadline, deps)
    except InvalidConfiguration as error:
        answer = _response(FAILED, f"function misconfigured: {error}", hook.hook_details)
    except BlueGreenError as error:
        answer = _response(FAILED, f"{type(error).__name__}: {error}", hook.hook_details)
    except Exception as error:  # the unexpected-error path: the answer is FAILED
        logger.exception("unexpected error while checking")
        answer = _response(FAILED, f"unexpected {type(error).__name__}: {error}", hook.hook_details)
    # The answer is the return value: the reason is recorded first, if a call still fits.
    deps.guard.set(deadline_of(context, CALL_SECONDS + 1))
    if table:
        details = answer["hookDetails"]
        stage = hook.stage + ("#ROLLBACK" if details.get("rollback") else "")
        reason = str(details.get("reason", ""))
        try:
            hook_store.put_verdict(
                deps.clients.dynamodb, table, hook.resource_arn, stage, answer["hookStatus"], reason
            )
        except (ClientError, BotoCoreError, OutOfTime) as error:
            logger.warning("could not record the hook verdict", error=str(error))
    return answer


def _evaluate(
    hook: EcsHookEvent, settings: EcsNativeHookSettings, deadline: Deadline, deps: EcsNativeHookDeps
) -> dict[str, Any]:
    clients = deps.clients
    if deadline.expired():
        raise OutOfTime("no time left to check before the function times out")
    deployment = _deployment(clients.ecs, hook)
    status = deployment.get("status")
    if status in ROLLING_BACK:
        logger.info("rollback in progress: nothing to verify", stage=hook.stage)
        return _response(
            SUCCEEDED,
            f"deployment is {status}: no checks during a rollback",
            {**hook.hook_details, "rollback": True},
        )
    cluster, service = hook.cluster_and_service
    config = load_ecs_native_config(
        clients, settings.HOOK_CONFIG_PARAMETER_PREFIX, hook.hook_details, cluster, service
    )
    names = config.checks_for(hook.stage)
    state = hook.state
    waited = float(state.get("waitedSeconds", 0))
    ctx = CheckContext(
        clients=clients,
        config=config,
        resolve_target=lambda: resolve_ecs_native_target(clients, hook, cluster, service),
        deadline=deadline,
        transport=deps.transport or PinnedTransport(settings.reach()),
        reach=settings.reach(),
        wall_clock=deps.clock,
        waited_seconds=waited,
        waits_for_window=True,
        shift_started=lambda: _epoch(deployment.get("startedAt")),
    )
    results = run_checks(names, ctx)
    outcome, reason = verdict(results)
    logger.info(
        "checks done",
        stage=hook.stage,
        outcome=outcome.value,
        results=[r.as_record() for r in results],
    )
    if outcome is not Outcome.PENDING and waited >= config.max_wait_seconds:
        outcome, reason = apply_inconclusive_rule(
            outcome, reason, results, config.when_inconclusive
        )
    if outcome is Outcome.PASSED:
        return _response(SUCCEEDED, reason, hook.hook_details)
    if outcome is Outcome.FAILED:
        return _response(FAILED, reason, hook.hook_details)
    if waited >= config.max_wait_seconds:
        return _response(
            FAILED, f"gave up after waiting {waited:.0f}s: {reason}", hook.hook_details
        )
    delay = config.callback_delay_seconds
    attempt = int(state.get("attempt", 0)) + 1
    details = {
        **hook.hook_details,
        STATE_KEY: {"attempt": attempt, "waitedSeconds": waited + delay},
    }
    return _response(IN_PROGRESS, reason, details, delay)


def _epoch(when: Any) -> float | None:
    if hasattr(when, "timestamp"):
        return float(when.timestamp())
    return float(when) if isinstance(when, int | float) else None


def _deployment(ecs: Any, hook: EcsHookEvent) -> dict[str, Any]:
    """The service deployment as ECS describes it. If ECS cannot be asked, a traffic-shift
    stage that moves the target revision's traffic to 0% is a rollback: a hook that failed
    then would fail the rollback itself."""
    try:
        found = ecs.describe_service_deployments(serviceDeploymentArns=[hook.resource_arn])
    except ClientError:
        if hook.stage in TRAFFIC_SHIFT_WEIGHTS and hook.target_weight == 0:
            logger.warning("could not read the deployment; its traffic weights say rollback")
            return {"status": "ROLLBACK_IN_PROGRESS"}
        raise
    deployments = found.get("serviceDeployments", [])
    return dict(deployments[0]) if deployments else {}


def resolve_ecs_native_target(
    clients: Any, hook: EcsHookEvent, cluster: str, service: str
) -> ReleaseTarget:
    """The green revision's task definition; the test and production listener rules, the
    hosts they match, and the target groups they forward to (green: the test rule's)."""
    revisions = clients.ecs.describe_service_revisions(
        serviceRevisionArns=[hook.target_revision_arn]
    )
    if not revisions.get("serviceRevisions"):
        raise TargetNotReady(f"service revision {hook.target_revision_arn} does not exist")
    revision = revisions["serviceRevisions"][0]
    balancers = revision.get("loadBalancers", [])
    advanced = [lb.get("advancedConfiguration") or {} for lb in balancers]
    test_rules = [a["testListenerRule"] for a in advanced if a.get("testListenerRule")]
    production_rules = [
        a["productionListenerRule"] for a in advanced if a.get("productionListenerRule")
    ]
    described = (
        clients.elbv2.describe_rules(RuleArns=test_rules + production_rules)["Rules"]
        if test_rules or production_rules
        else []
    )
    rules = {rule["RuleArn"]: rule for rule in described}
    green = [g for g in (_forwards_to(rules.get(r)) for r in test_rules) if g]
    pairs = {lb.get("targetGroupArn") for lb in balancers} | {
        a.get("alternateTargetGroupArn") for a in advanced
    }
    listeners = [_listener_of(rule) for rule in test_rules + production_rules]
    return ReleaseTarget(
        cluster=cluster,
        service=service,
        task_definition=revision.get("taskDefinition"),
        green_target_groups=tuple(green),
        test_listeners=tuple(_listener_of(rule) for rule in test_rules),
        test_host=_first_host(rules.get(r) for r in test_rules),
        production_listeners=tuple(_listener_of(rule) for rule in production_rules),
        production_host=_first_host(rules.get(r) for r in production_rules),
        blue_target_groups=tuple(sorted(g for g in pairs if g and g not in green)),
        load_balancer_arn=load_balancer_of_listener(listeners[0]) if listeners else None,
    )


def _forwards_to(rule: dict[str, Any] | None) -> str | None:
    """The target group a rule sends (most of) its traffic to."""
    forward = [a for a in (rule or {}).get("Actions", []) if a.get("Type") == "forward"]
    groups = (forward[0].get("ForwardConfig") or {}).get("TargetGroups", []) if forward else []
    return str(max(groups, key=lambda g: g.get("Weight", 1))["TargetGroupArn"]) if groups else None


def _first_host(rules: Any) -> str | None:
    for rule in rules:
        host = _host_condition(rule) if rule else None
        if host:
            return host
    return None


def _listener_of(rule_arn: str) -> str:
    # arn:...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>
    return rule_arn.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]


def _host_condition(rule: dict[str, Any]) -> str | None:
    for condition in rule.get("Conditions", []):
        if condition.get("Field") == "host-header":
            values = (
                (condition.get("HostHeaderConfig") or {}).get("Values")
                or condition.get("Values")
                or []
            )
            plain = [v for v in values if "*" not in v and "?" not in v]
            if plain:
                return str(plain[0])
    return None


def _response(
    status: str, reason: str, details: dict[str, Any], delay: int | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "hookStatus": status,
        "hookDetails": {**details, "reason": reason[:1000]},
    }
    if delay is not None:
        answer["callBackDelay"] = delay
    logger.info("hook answer", hook_status=status, reason=reason)
    return answer


def _store(deps: Any, table: str) -> BasePersistenceLayer | None:
    """The idempotency store; if it cannot even be built, answer without it."""
    try:
        return deps.store_for(table)  # type: ignore[no-any-return]
    except Exception:  # the hook must still answer: idempotency is best effort here
        logger.exception("could not set up the idempotency store; answering without it")
        return None
