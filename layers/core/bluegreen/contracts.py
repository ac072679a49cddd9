"""The shapes that travel between the parts: request, plan, snapshot, observation,
record, settle input and outcome. `dict[str, Any]` is only for the JSON boundary; inside
the layer these names say what a value is. TypedDicts cost nothing at cold start.

The platform is chosen once, in the plan (`Plan["adapter"]`), and every later task,
the alarm function, the reaper and the CLI dispatch on it through
`bluegreen.platforms.adapter_for`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Platform = Literal["EC2", "ECS"]
AdapterKind = Literal["alb", "codedeploy-ecs", "ecs-native"]
Status = Literal["IN_PROGRESS", "SETTLING", "SUCCEEDED", "ROLLED_BACK", "FAILED"]
Intent = Literal["SUCCEEDED", "ROLLED_BACK"]
# Which side production serves, as read back from the platform
Serving = Literal["from", "to", "split", "moving", "unknown"]


class Route(TypedDict):
    kind: Literal["listener", "rule"]
    arn: str


class SavedRoute(Route):
    actions: list[dict[str, Any]]  # as Modify* accepts them


class ObservedRoute(Route):
    weights: dict[str, int]  # target group ARN -> weight, as read back


class Step(TypedDict):
    index: int
    percent: int
    bakeSeconds: int
    weights: dict[str, int]
    last: bool


class Snapshot(TypedDict):
    """Everything a restore needs, taken before the first change. It travels in the
    execution state (Begin returns it), in the record and in each alarm guard."""

    adapter: AdapterKind
    routes: list[SavedRoute]  # production routes (EC2); [] for ECS
    test: NotRequired[list[SavedRoute] | None]  # EC2 test listener
    cluster: NotRequired[str]  # ECS
    service: NotRequired[str]  # ECS
    taskDefinition: NotRequired[str]  # ECS: what the service ran before
    codeDeploy: NotRequired[dict[str, str] | None]  # ECS CodeDeploy application/group
    reference: NotRequired[str | None]  # ECS: the platform deployment, once started
    revision: NotRequired[str | None]  # EC2: an in-place CodeDeploy deployment in flight


_Colours = TypedDict("_Colours", {"from": str, "to": str})


class Plan(_Colours):
    """What the Plan task returns: read-only, validated; every later task trusts it.
    `from`/`to`: the live and idle target groups (EC2) or task definitions (ECS)."""

    platform: Platform
    adapter: AdapterKind
    deploymentId: str
    executionArn: str
    request: dict[str, Any]
    locks: list[str]
    dryRun: bool
    # EC2
    routes: NotRequired[list[Route]]
    steps: NotRequired[list[Step]]
    hasTestTraffic: NotRequired[bool]
    needsApproval: NotRequired[bool]
    hasRevision: NotRequired[bool]
    current: NotRequired[list[dict[str, Any]]]
    fleetChecks: NotRequired[dict[str, Any]]  # the idle group's settings (ec2/fleet.py)
    # ECS
    mode: NotRequired[str]
    serviceArn: NotRequired[str]
    clusterArn: NotRequired[str]


class Begun(TypedDict):
    """What Begin returns into the execution state."""

    snapshot: Snapshot
    startedAt: float
    leaseUntil: int


class Observation(TypedDict):
    """Traffic as read back from the platform at the end of a settle."""

    serving: Serving
    detail: str
    routes: list[ObservedRoute]
    test: NotRequired[list[ObservedRoute]]
    taskDefinition: NotRequired[str | None]  # ECS: what the service runs as primary
    platformStatus: NotRequired[str | None]  # ECS: the platform deployment's status


class Actor(TypedDict):
    """Who asks for an ending: the execution itself, an alarm, the reaper, an operator."""

    kind: Literal["execution", "alarm", "reaper", "operator"]
    executionArn: NotRequired[str]
    alarm: NotRequired[str]
    claimKey: NotRequired[str]
    by: NotRequired[str]


class Settling(TypedDict):
    """The claim on a record's ending: whoever claimed first decided the intent."""

    intent: Intent
    actor: Actor
    at: str
    failedAt: str
    error: str
    cause: str


class Outcome(TypedDict):
    status: Status
    intent: Intent
    failedAt: str
    error: str
    cause: str
    observed: Observation
    actor: Actor
    timeToRollbackMs: NotRequired[float | None]


class Record(TypedDict, total=False):
    """A deployment record as `bluegreen.store` decodes it."""

    deploymentId: str
    executionArn: str
    platform: Platform
    adapter: AdapterKind
    status: Status
    requestedBy: str
    version: str
    description: str
    strategy: dict[str, Any]
    plannedSteps: list[int]
    locks: list[str]
    alarms: list[str]
    startedAt: str
    endedAt: str
    steps: list[dict[str, Any]]
    snapshot: Snapshot
    settling: Settling
    outcome: Outcome
    approval: dict[str, Any]
    platformDeployment: dict[str, Any]
    leaseUntil: int


class Verdict(TypedDict):
    """One check's answer, as the record keeps it."""

    check: str
    ok: bool
    detail: str
