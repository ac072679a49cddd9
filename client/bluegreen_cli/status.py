"""A status snapshot of one switch: everything the live view shows, as plain data.

`collect` reads it from AWS (the execution and its history, the deployment record, the
load balancer's routes and target health, the guarding alarms); `render.status` turns it
into text; `--json` prints it as is. Sections the caller's credentials cannot read are
listed in `unreadable` instead of failing the whole view (a CI role may only be allowed
to describe the execution).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bluegreen.platforms.alb import forward_weights
from bluegreen.store import Deployments, RecordNotFound

from . import exits
from .connect import Aws, Stack, call
from .exits import CliError
from .progress import (
    Entry,
    Progress,
    Wait,
    clock_scale,
    iso,
    machine_seconds,
    read,
    short_name,
    strategy_text,
    verdicts_by_gate,
)

TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


@dataclass
class Step:
    index: int
    percent: int
    bake_seconds: int
    state: str  # pending | active | passed | failed | rolled back | stopped
    verdicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Route:
    label: str
    arn: str
    weights: dict[str, int]  # target group ARN -> weight


@dataclass
class Group:
    arn: str
    name: str
    role: str  # from | to
    healthy: int
    registered: int
    problems: list[str] = field(default_factory=list)


@dataclass
class Alarm:
    name: str
    state: str
    reason: str = ""


@dataclass
class Snapshot:
    deployment_id: str
    execution_arn: str
    status: str  # the execution's: RUNNING | SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    outcome: str  # the record's: IN_PROGRESS | SUCCEEDED | ROLLED_BACK | FAILED | "" (none)
    state: str  # the state machine state now ("" between states or at the end)
    started_at: str
    stopped_at: str
    observed_at: str
    requested_by: str = ""
    version: str = ""
    strategy: str = ""
    dry_run: bool = False
    from_group: str = ""
    to_group: str = ""
    names: dict[str, str] = field(default_factory=dict)  # target group ARN -> short name
    milestones_done: int = 0
    milestones_total: int = 0
    steps: list[Step] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    approval: str = ""
    answer: dict[str, str] = field(default_factory=dict)  # the approver's: decision, by, comment
    timeline: list[Entry] = field(default_factory=list)
    error: str = ""
    cause: str = ""
    unreadable: list[str] = field(default_factory=list)
    platform: str = "EC2"
    mode: str = ""  # ECS: codedeploy | ecs-native
    service: str = ""  # ECS: cluster/service
    lifecycle: dict[str, str] = field(default_factory=dict)  # ECS: hook or stage -> status
    platform_status: str = ""  # ECS: the platform deployment's status
    entered_at: str = ""  # when the current state was entered
    since: dict[str, str] = field(default_factory=dict)  # phase -> first entered
    timeouts: dict[str, int] = field(default_factory=dict)  # phase -> the request's timeout
    waits: list[Wait] = field(default_factory=list)
    scale_hint: float | None = None  # --clock-scale: real s per state machine s, if told

    @property
    def clock_scale(self) -> float:
        """Real seconds per state-machine second (1 on AWS; the emulator's --scale): as
        told (--clock-scale), else read from the waits that ended."""
        return self.scale_hint if self.scale_hint is not None else clock_scale(self.waits)

    def machine_offset(self, at: str) -> float | None:
        """Seconds from the start to `at` on the state machine's clock."""
        start, when = _parse(self.started_at), _parse(at)
        if start is None or when is None:
            return None
        real = (when - start).total_seconds()
        return machine_seconds(real, self.waits, self.clock_scale)

    @property
    def waiting_for_approval(self) -> bool:
        return self.status == "RUNNING" and self.approval == "WAITING"

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        left = countdown(self)
        data["countdown"] = asdict(left) if left else None
        data["clockScale"] = self.clock_scale
        data["exitCode"] = exit_code(self)
        data["meaning"] = exits.MEANING.get(data["exitCode"], "failed")
        return data


def exit_code(snapshot: Snapshot) -> int:
    """The switch's state as an exit code (see exits.py)."""
    if snapshot.status == "RUNNING":
        return exits.WAITING_FOR_APPROVAL if snapshot.waiting_for_approval else exits.RUNNING
    if snapshot.status == "SUCCEEDED":
        return exits.OK
    if snapshot.outcome == "ROLLED_BACK":
        return exits.ROLLED_BACK
    if snapshot.error == "InvalidInput":
        return exits.BAD_INPUT
    if snapshot.error == "LockHeld":
        return exits.LOCK_HELD
    return exits.FAILED


@dataclass(frozen=True)
class Countdown:
    """What the switch waits for now, on the state machine's clock (seconds)."""

    what: str  # bake | health | approval | revision | platform
    text: str
    elapsed: float
    total: float

    @property
    def left(self) -> float:
        return max(0.0, self.total - self.elapsed)


def countdown(snapshot: Snapshot) -> Countdown | None:
    """The wait in progress, if any: a bake, the idle group's health, an approval, a
    revision, the platform's deployment (ECS), with how long it has left."""
    if snapshot.status != "RUNNING":
        return None
    now = snapshot.machine_offset(snapshot.observed_at)
    if now is None:
        return None
    state = snapshot.state
    if state == "Bake" and snapshot.waits and snapshot.waits[-1].end is None:
        active = next((s for s in snapshot.steps if s.state == "active"), None)
        where = (
            f" of step {active.index + 1}/{len(snapshot.steps)} ({active.percent}%)"
            if active
            else ""
        )
        return _since(
            snapshot, now, snapshot.entered_at, snapshot.waits[-1].seconds, "bake", f"bake{where}"
        )
    phase = {
        "CheckIdleHealth": "health",
        "WaitForIdleHealth": "health",
        "DeployRevision": "revision",
        "WaitForRevision": "revision",
        "CheckRevision": "revision",
        "WaitForApproval": "approval",
        "EcsWait": "platform",
        "EcsObserve": "platform",
        "EcsStartDeployment": "platform",
    }.get(state)
    if phase is None or phase not in snapshot.timeouts:
        return None
    text = {
        "health": f"{_name_of(snapshot, snapshot.to_group)} healthy, or the switch gives up",
        "revision": "the revision on the idle fleet, or the switch gives up",
        "approval": "an answer, or the approval times out",
        "platform": "the platform's deployment, or the switch gives up",
    }[phase]
    return _since(
        snapshot, now, snapshot.since.get(phase, ""), snapshot.timeouts[phase], phase, text
    )


def _since(
    snapshot: Snapshot, now: float, since: str, total: float, what: str, text: str
) -> Countdown | None:
    start = snapshot.machine_offset(since)
    if start is None:
        return None
    return Countdown(what, text, max(0.0, now - start), float(total))


def _name_of(snapshot: Snapshot, arn: str) -> str:
    return snapshot.names.get(arn) or short_name(arn) or "the idle group"


def _parse(text: str) -> datetime | None:
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# -- reading it from AWS ----------------------------------------------------------------------
def execution_arn(stack: Stack, deployment_id: str) -> str:
    machine = stack.state_machine_arn
    return machine.replace(":stateMachine:", ":execution:", 1) + f":{deployment_id}"


def describe(aws: Aws, stack: Stack, deployment_id: str) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    try:
        return dict(
            call(aws, sfn.describe_execution, executionArn=execution_arn(stack, deployment_id))
        )
    except CliError as error:
        if error.aws_code != "ExecutionDoesNotExist":
            raise
        raise CliError(
            f"no switch {deployment_id!r} in {stack.state_machine_arn}",
            "the deployment id is the execution name; list recent ones with `bluegreen history`",
            exits.BAD_INPUT,
        ) from None


def history_events(aws: Aws, arn: str) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = call(aws, sfn.get_execution_history, **kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def record_of(aws: Aws, stack: Stack, deployment_id: str) -> dict[str, Any] | None:
    try:
        return Deployments(aws.client("dynamodb"), stack.table).get(deployment_id)
    except RecordNotFound:
        return None


def collect(
    aws: Aws, stack: Stack, deployment_id: str, scale_hint: float | None = None
) -> Snapshot:
    described = describe(aws, stack, deployment_id)
    unreadable: list[str] = []
    record = _optional(unreadable, "record", lambda: record_of(aws, stack, deployment_id))
    verdicts = verdicts_by_gate((record or {}).get("steps", []))
    progress = read(history_events(aws, described["executionArn"]), verdicts)
    snapshot = snapshot_from(aws, described, progress, record, unreadable)
    snapshot.scale_hint = scale_hint
    return snapshot


def snapshot_from(
    aws: Aws | None,
    described: Mapping[str, Any],
    progress: Progress,
    record: Mapping[str, Any] | None,
    unreadable: list[str],
) -> Snapshot:
    plan = progress.plan or {}
    request = plan.get("request") or progress.request
    from_group = plan.get("from") or (record or {}).get("from", "")
    to_group = plan.get("to") or (record or {}).get("to", "")
    names = {arn: short_name(arn) for arn in request.get("targetGroupArns", []) if arn}
    names.update({arn: short_name(arn) for arn in (from_group, to_group) if arn})
    verdicts = verdicts_by_gate((record or {}).get("steps", []))
    steps = [
        Step(
            index=s["index"],
            percent=s["percent"],
            bake_seconds=s["bakeSeconds"],
            state=progress.step_states.get(s["index"], "pending"),
            verdicts=verdicts.get(s["index"], []),
        )
        for s in plan.get("steps", [])
    ]
    status = str(described["status"])
    if status in TERMINAL:  # a step the execution left unfinished is not "now"
        outcome = str((record or {}).get("status", ""))
        for step in steps:
            if step.state == "active":
                step.state = "rolled back" if outcome == "ROLLED_BACK" else "stopped"
    milestones = progress.all_milestones()
    done = len([m for m in progress.milestones if m in milestones])
    snapshot = Snapshot(
        deployment_id=str(described["name"]),
        execution_arn=str(described["executionArn"]),
        status=status,
        outcome=str((record or {}).get("status", "")),
        state=progress.state if status == "RUNNING" else "",
        started_at=iso(described.get("startDate", "")),
        stopped_at=iso(described.get("stopDate", "")),
        observed_at=datetime.now(UTC).isoformat(),
        requested_by=str(request.get("requestedBy", "")),
        version=str(request.get("version", "")),
        strategy=strategy_text(plan) if plan else "",
        dry_run=bool(plan.get("dryRun")),
        from_group=from_group,
        to_group=to_group,
        names=names,
        milestones_done=done,
        milestones_total=len(milestones),
        steps=steps,
        approval=progress.approval if status == "RUNNING" or progress.approval else "",
        answer=approval_answer(record),
        timeline=progress.timeline,
        error=str(described.get("error") or progress.end_error),
        cause=str(
            described.get("cause")
            or progress.end_cause
            or ((record or {}).get("outcome") or {}).get("cause", "")
        ),
        unreadable=unreadable,
        platform=str(plan.get("platform") or request.get("platform") or "EC2"),
        mode=str(request.get("mode") or ""),
        service=f"{request.get('cluster', '')}/{request.get('service', '')}".strip("/"),
        lifecycle=_lifecycle((record or {}).get("steps", [])),
        platform_status=progress.platform_status
        or _platform_status((record or {}).get("steps", [])),
        entered_at=progress.entered_at if status == "RUNNING" else "",
        since=dict(progress.since),
        timeouts=_timeouts(request),
        waits=list(progress.waits),
    )
    if aws is not None and plan:
        _live(aws, snapshot, plan, request, unreadable)
    return snapshot


def approval_answer(record: Mapping[str, Any] | None) -> dict[str, str]:
    """The record's approval, once someone answered it: decision, by, name, comment, at."""
    kept = (record or {}).get("approval") or {}
    if not isinstance(kept, Mapping) or not kept.get("decision"):
        return {}
    return {key: str(kept.get(key) or "") for key in ("decision", "by", "name", "comment", "at")}


def _timeouts(request: Mapping[str, Any]) -> dict[str, int]:
    found = {
        "health": (request.get("healthCheck") or {}).get("timeoutSeconds"),
        "approval": (request.get("approval") or {}).get("timeoutSeconds"),
        "revision": (request.get("revision") or {}).get("timeoutSeconds"),
        "platform": (request.get("monitor") or {}).get("timeoutSeconds"),
    }
    return {key: int(value) for key, value in found.items() if isinstance(value, int | float)}


def _lifecycle(steps: list[Mapping[str, Any]]) -> dict[str, str]:
    """The platform's lifecycle events (CodeDeploy hooks) or stage (ECS-native), last seen."""
    platform = [s for s in steps if s.get("phase") == "platform"]
    events = (platform[-1].get("events") if platform else None) or {}
    return {str(k): str(v) for k, v in events.items()}


def _platform_status(steps: list[Mapping[str, Any]]) -> str:
    platform = [s for s in steps if s.get("phase") == "platform"]
    return str(platform[-1].get("status", "")) if platform else ""


def _live(
    aws: Aws,
    snapshot: Snapshot,
    plan: Mapping[str, Any],
    request: Mapping[str, Any],
    unreadable: list[str],
) -> None:
    if snapshot.platform == "ECS":
        _ecs_live(aws, snapshot, request, unreadable)
    else:
        routes = plan.get("routes", [])
        snapshot.routes = _optional(unreadable, "routes", lambda: read_routes(aws, routes)) or []
        groups = [
            (arn, role)
            for arn, role in ((snapshot.from_group, "from"), (snapshot.to_group, "to"))
            if ":targetgroup/" in arn
        ]
        snapshot.groups = (
            _optional(
                unreadable,
                "target health",
                lambda: [_group(aws, arn, role) for arn, role in groups],
            )
            or []
        )
    alarms = list(request.get("alarms", []))
    if alarms:
        snapshot.alarms = _optional(unreadable, "alarms", lambda: read_alarms(aws, alarms)) or []


def _ecs_live(
    aws: Aws, snapshot: Snapshot, request: Mapping[str, Any], unreadable: list[str]
) -> None:
    """An ECS release's traffic and target health: the service's target groups (its task
    sets' for CodeDeploy, the alternate one for ECS-native) and the production routes
    (the deployment group's listeners, or the service's production listener rule)."""
    found = _optional(unreadable, "target health", lambda: ecs_targets(aws, request))
    if found is None:
        return
    routes, groups = found
    snapshot.routes = _optional(unreadable, "routes", lambda: read_routes(aws, routes)) or []
    for route in snapshot.routes:  # a group the routes know but no task runs in: idle
        for arn in route.weights:
            groups.setdefault(arn, "idle")
    snapshot.groups = (
        _optional(
            unreadable,
            "target health",
            lambda: [_group(aws, arn, role) for arn, role in groups.items()],
        )
        or []
    )


def ecs_targets(
    aws: Aws, request: Mapping[str, Any]
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(production routes, target group ARN -> live | new | idle) of an ECS service."""
    described = call(
        aws,
        aws.client("ecs").describe_services,
        cluster=request.get("cluster", ""),
        services=[request.get("service", "")],
    )
    services = described.get("services", [])
    if not services:
        return [], {}
    service = services[0]
    groups: dict[str, str] = {}
    routes: list[dict[str, str]] = []
    for balancer in service.get("loadBalancers", []):
        groups.setdefault(balancer.get("targetGroupArn", ""), "live")
        advanced = balancer.get("advancedConfiguration") or {}
        if advanced.get("alternateTargetGroupArn"):
            groups.setdefault(advanced["alternateTargetGroupArn"], "idle")
        if advanced.get("productionListenerRule"):
            routes.append({"kind": "rule", "arn": advanced["productionListenerRule"]})
    for task_set in service.get("taskSets", []):
        role = "live" if task_set.get("status") == "PRIMARY" else "new"
        for balancer in task_set.get("loadBalancers", []):
            groups[balancer.get("targetGroupArn", "")] = role
    code_deploy = request.get("codeDeploy") or {}
    if code_deploy.get("application") and not routes:
        group = call(
            aws,
            aws.client("codedeploy").get_deployment_group,
            applicationName=code_deploy["application"],
            deploymentGroupName=code_deploy.get("deploymentGroup", ""),
        )["deploymentGroupInfo"]
        pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList", [])
        for pair in pairs:
            for arn in (pair.get("prodTrafficRoute") or {}).get("listenerArns", []):
                routes.append({"kind": "listener", "arn": arn})
    return routes, {arn: role for arn, role in groups.items() if arn}


def read_routes(aws: Aws, routes: list[Mapping[str, str]]) -> list[Route]:
    """Every route's live weights, labelled `<load balancer> :<port> [<rule condition>]`."""
    elbv2 = aws.client("elbv2")
    listener_arns = [r["arn"] for r in routes if r["kind"] == "listener"]
    rule_arns = [r["arn"] for r in routes if r["kind"] == "rule"]
    found: dict[str, Route] = {}
    ports: dict[str, int] = {}
    if listener_arns:
        for listener in call(aws, elbv2.describe_listeners, ListenerArns=listener_arns)[
            "Listeners"
        ]:
            ports[listener["ListenerArn"]] = listener["Port"]
            found[listener["ListenerArn"]] = Route(
                label=f"{_lb_name(listener['ListenerArn'])} :{listener['Port']}",
                arn=listener["ListenerArn"],
                weights=forward_weights(listener["DefaultActions"]),
            )
    if rule_arns:
        for rule in call(aws, elbv2.describe_rules, RuleArns=rule_arns)["Rules"]:
            found[rule["RuleArn"]] = Route(
                label=f"{_lb_name(rule['RuleArn'])} {_condition(rule)}",
                arn=rule["RuleArn"],
                weights=forward_weights(rule["Actions"]),
            )
    return [found[r["arn"]] for r in routes if r["arn"] in found]


def _group(aws: Aws, arn: str, role: str) -> Group:
    described = call(aws, aws.client("elbv2").describe_target_health, TargetGroupArn=arn)
    healthy = 0
    problems = []
    for target in described["TargetHealthDescriptions"]:
        health = target["TargetHealth"]
        if health["State"] == "healthy":
            healthy += 1
        else:
            reason = health.get("Reason") or ""
            problems.append(f"{target['Target']['Id']} {health['State']} {reason}".strip())
    return Group(
        arn=arn,
        name=short_name(arn),
        role=role,
        healthy=healthy,
        registered=len(described["TargetHealthDescriptions"]),
        problems=problems,
    )


def read_alarms(aws: Aws, names: list[str]) -> list[Alarm]:
    cloudwatch = aws.client("cloudwatch")
    found: dict[str, Alarm] = {}
    for start in range(0, len(names), 100):
        page = call(aws, cloudwatch.describe_alarms, AlarmNames=names[start : start + 100])
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            found[alarm["AlarmName"]] = Alarm(
                alarm["AlarmName"], alarm["StateValue"], alarm.get("StateReason", "")
            )
    return [found.get(name, Alarm(name, "MISSING", "no such alarm")) for name in names]


def _optional(unreadable: list[str], what: str, read_it: Any) -> Any:
    """Run one read; on an access error note the section as unreadable and go on."""
    try:
        return read_it()
    except CliError as error:
        if not error.aws_code.startswith(("AccessDenied", "Unauthorized")):
            raise
        unreadable.append(what)
        return None


def _lb_name(arn: str) -> str:
    # ...:listener/app/<name>/<lb id>/<listener id>, ...:listener-rule/app/<name>/...
    parts = arn.split(":", 5)[-1].split("/")
    return parts[2] if len(parts) > 2 else arn


def _condition(rule: Mapping[str, Any]) -> str:
    texts = []
    for condition in rule.get("Conditions", []):
        values = condition.get("Values") or []
        for key in ("PathPatternConfig", "HostHeaderConfig"):
            values = values or condition.get(key, {}).get("Values", [])
        texts.append(",".join(values) or condition.get("Field", "?"))
    return " ".join(texts) or f"rule {rule.get('Priority', '?')}"


def to_json(snapshot: Snapshot) -> str:
    return json.dumps(snapshot.as_dict(), sort_keys=True)
