"""Whole switches on the emulated AWS: transitions, Lambda time, cost, overhead, growth.

Each run is the real state machine with the real task functions against a fresh fleet
(`fleet.build_ec2_fleet`), at clock scale 0: Wait states and back-offs take no time, so
the wall time of an execution *is* its orchestration overhead (the configured waits are
reported beside it). Every function invocation is recorded with its duration and memory
size, and every AWS call a function makes is counted (a hook on botocore, active only
while a function runs), so cost and calls come from what actually happened.

Prices (us-east-1, list): Step Functions Standard $0.025 per 1,000 state transitions;
Lambda arm64 $0.0000133334 per GB-second (billed per 1 ms) and $0.20 per 1M requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from bluegreen_emulator import Emulator
from bluegreen_emulator.core import identity
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet, managed_tags

PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000


# -- what functions call ---------------------------------------------------------------------
_IN_FUNCTION = threading.local()


ROUTE_WRITES = {"ModifyListener": "ListenerArn", "ModifyRule": "RuleArn"}


@dataclass(frozen=True)
class Moment:
    """Something a function did, on the emulated clock and on the wall clock: an invocation
    starting (`what` = "invoked") or a route's weights written (`what` = the operation,
    `route` = the listener or rule, `weights` = target group ARN -> weight)."""

    function: str
    what: str
    emulated: float  # `Clock.epoch()` of the function's own timeline (epoch seconds)
    wall: float  # time.perf_counter()
    calls: int  # AWS calls of functions so far (this one included, for a write)
    route: str = ""
    weights: dict[str, int] = field(default_factory=dict)


@dataclass
class CallLog:
    """AWS calls made by functions (not by the emulator or the benchmark), in order, and
    the moments the restore measurement needs (invocations, route writes)."""

    calls: list[tuple[str, str]] = field(default_factory=list)  # (function, operation)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    roles: dict[str, str] = field(default_factory=dict)  # role ARN -> function
    moments: list[Moment] = field(default_factory=list)
    epoch: Callable[[], float] = time.time  # the emulator's `Clock.epoch`

    def function(self) -> str | None:
        # a thread a function starts (the alarm function settles each guard on its own)
        # carries the function's role, not the invocation's marker
        return getattr(_IN_FUNCTION, "name", None) or self.roles.get(identity.current() or "")

    def record(self, operation: str) -> None:
        function = self.function()
        if function is not None:
            with self._lock:
                self.calls.append((function, operation))

    def moment(self, function: str, what: str, route: str = "", weights: Any = None) -> None:
        with self._lock:
            self.moments.append(
                Moment(
                    function,
                    what,
                    self.epoch(),
                    time.perf_counter(),
                    len(self.calls),
                    route,
                    dict(weights or {}),
                )
            )

    def route_written(self, operation: str, params: Any) -> None:
        function = self.function()
        if function is None or operation not in ROUTE_WRITES:
            return
        actions = params.get("DefaultActions") or params.get("Actions") or []
        route = str(params.get(ROUTE_WRITES[operation]))
        self.moment(function, operation, route, weights_of(actions))

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[tuple[str, str]]:
        return self.calls[mark:]


@contextmanager
def in_function(name: str) -> Iterator[None]:
    """The calling thread runs function `name`: the AWS calls it makes are that function's."""
    previous = getattr(_IN_FUNCTION, "name", None)
    _IN_FUNCTION.name = name
    try:
        yield
    finally:
        _IN_FUNCTION.name = previous


@contextmanager
def recording(aws: Emulator) -> Iterator[CallLog]:
    """Count the AWS calls of every function the emulator runs, while inside."""
    log = CallLog(epoch=aws.clock.epoch)
    log.roles = {
        spec.role_arn: spec.logical_id for spec in aws.runtime.functions.values() if spec.role_arn
    }
    original_call = BaseClient._make_api_call
    runtime = aws.runtime
    original_invoke_call = runtime._call

    def make_api_call(client: Any, operation: str, params: Any) -> Any:
        log.record(operation)
        answer = original_call(client, operation, params)
        log.route_written(operation, params)
        return answer

    def call(spec: Any, event: Any, request_id: str) -> Any:
        with in_function(spec.logical_id):
            log.moment(spec.logical_id, "invoked")
            return original_invoke_call(spec, event, request_id)

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    runtime._call = call  # type: ignore[method-assign]
    try:
        yield log
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[method-assign]
        runtime._call = original_invoke_call  # type: ignore[method-assign]


# -- one switch ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Invoked:
    function: str
    duration_ms: float
    memory_mb: int

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * math.ceil(self.duration_ms) / 1000


@dataclass(frozen=True)
class SwitchRun:
    label: str
    status: str
    seconds: float
    configured_wait_s: int
    transitions: int
    invocations: tuple[Invoked, ...]
    aws_calls: int

    @property
    def gb_seconds(self) -> float:
        return sum(i.gb_seconds for i in self.invocations)

    @property
    def step_functions_usd(self) -> float:
        return self.transitions * PRICE_PER_TRANSITION

    @property
    def lambda_usd(self) -> float:
        return self.gb_seconds * PRICE_PER_GB_SECOND + len(self.invocations) * PRICE_PER_REQUEST

    @property
    def usd(self) -> float:
        return self.step_functions_usd + self.lambda_usd


def transitions_of(history: list[dict[str, Any]]) -> int:
    """Billed transitions: every state entered, plus every task retry (a new attempt)."""
    kinds = Counter(event["type"] for event in history)
    entered = sum(n for kind, n in kinds.items() if kind.endswith("StateEntered"))
    retries = kinds["TaskScheduled"] - kinds["TaskStateEntered"]
    return entered + max(0, retries)


def configured_waits(request: dict[str, Any]) -> int:
    """Seconds the request asks the machine to wait when everything is healthy: bakes."""
    from bluegreen.switch.plan import plan_steps

    return sum(step["bakeSeconds"] for step in plan_steps(request["strategy"]))


def run_switch(
    aws: Emulator, log: CallLog, label: str, request: dict[str, Any], name: str
) -> SwitchRun:
    first = len(aws.runtime.history)
    mark = log.mark()
    started = time.perf_counter()
    execution = aws.start_execution(aws.output("SwitchStateMachineArn"), request, name=name)
    described = aws.wait_for_execution(execution, timeout=120)
    seconds = time.perf_counter() - started
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=execution, maxResults=1000
    )["events"]
    invoked = tuple(
        Invoked(i.function, i.duration_ms, aws.runtime.find(i.function).memory)
        for i in aws.runtime.history[first:]
    )
    return SwitchRun(
        label=label,
        status=str(described["status"]),
        seconds=seconds,
        configured_wait_s=configured_waits(request),
        transitions=transitions_of(history),
        invocations=invoked,
        aws_calls=len(log.since(mark)),
    )


# -- the scenarios ---------------------------------------------------------------------------
STRATEGIES: dict[str, dict[str, Any]] = {
    "all-at-once": {"type": "all-at-once"},
    "canary 10%": {"type": "canary", "percent": 10, "bakeSeconds": 300},
    "linear 25%": {"type": "linear", "stepPercent": 25, "stepBakeSeconds": 120},
    "linear 10%": {"type": "linear", "stepPercent": 10, "stepBakeSeconds": 60},
    "steps 5/20/50/100": {
        "type": "steps",
        "steps": [
            {"percent": 5, "bakeSeconds": 300},
            {"percent": 20, "bakeSeconds": 300},
            {"percent": 50, "bakeSeconds": 300},
            {"percent": 100, "bakeSeconds": 0},
        ],
    },
}


class Fleets:
    """A fresh fleet per run (own ALB, groups, alarms): runs cannot see each other."""

    def __init__(self, aws: Emulator) -> None:
        self.aws = aws
        self.count = 0
        self.last: Ec2Fleet | None = None

    def build(self, **kwargs: Any) -> Ec2Fleet:
        self.count += 1
        self.last = build_ec2_fleet(self.aws, name=f"bench{self.count}", **kwargs)
        return self.last


def strategies(aws: Emulator, log: CallLog, fleets: Fleets) -> list[SwitchRun]:
    """Each strategy once, with test traffic and probes, after one warm-up switch."""
    run_switch(aws, log, "warm-up", fleets.build().request(), name="warm-up")
    runs = []
    for index, (label, strategy) in enumerate(STRATEGIES.items()):
        request = fleets.build().request(strategy=strategy)
        runs.append(run_switch(aws, log, label, request, name=f"strategy-{index}"))
    return runs


def with_targets(aws: Emulator, log: CallLog, fleets: Fleets, counts: list[int]) -> list[SwitchRun]:
    """A canary whose idle group has N healthy targets (health read at 5 points)."""
    runs = []
    for count in counts:
        fleet = fleets.build(with_http=False)
        _grow_idle_group(aws, fleet, count)
        request = fleet.request(strategy=STRATEGIES["canary 10%"], healthCheck={"minHealthy": 1})
        runs.append(run_switch(aws, log, f"{count} targets", request, name=f"targets-{count}"))
    return runs


def with_routes(aws: Emulator, log: CallLog, fleets: Fleets, counts: list[int]) -> list[SwitchRun]:
    """A canary over N production listeners and N listener rules (2N routes)."""
    runs = []
    for count in counts:
        fleet = fleets.build(with_http=False)
        listeners, rules = _more_routes(aws, fleet, count)
        request = fleet.request(strategy=STRATEGIES["canary 10%"], listeners=listeners, rules=rules)
        runs.append(
            run_switch(
                aws, log, f"{count} listeners + {count} rules", request, name=f"routes-{count}"
            )
        )
    return runs


def _grow_idle_group(aws: Emulator, fleet: Ec2Fleet, count: int) -> None:
    """Register instances in the idle (green) group until it has `count` targets."""
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    extra = count - len(fleet.green_instances)
    if extra <= 0:
        return
    vpc = ec2.describe_vpcs(VpcIds=[fleet.vpc_id])["Vpcs"][0]["CidrBlock"]  # a /16
    upper_half = ".".join(vpc.split(".")[:2]) + ".128.0/17"  # clear of the fleet's subnets
    subnet = ec2.create_subnet(
        VpcId=fleet.vpc_id, CidrBlock=upper_half, AvailabilityZone=f"{aws.region}a"
    )["Subnet"]["SubnetId"]
    for start in range(0, extra, 500):
        batch = min(500, extra - start)
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=batch,
                MaxCount=batch,
                InstanceType="t4g.small",
                SubnetId=subnet,
            )["Instances"]
        ]
        elbv2.register_targets(
            TargetGroupArn=fleet.green_arn, Targets=[{"Id": i, "Port": 80} for i in ids]
        )


def _more_routes(aws: Emulator, fleet: Ec2Fleet, count: int) -> tuple[list[str], list[str]]:
    """The fleet's listener and rule, plus count-1 more of each (ports 81.., /vN/*)."""
    elbv2 = aws.client("elbv2")
    forward = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": fleet.blue_arn, "Weight": 100},
                    {"TargetGroupArn": fleet.green_arn, "Weight": 0},
                ]
            },
        }
    ]
    listeners, rules = [fleet.listener_arn], [fleet.rule_arn]
    for extra in range(1, count):
        listener = elbv2.create_listener(
            LoadBalancerArn=fleet.load_balancer_arn,
            Protocol="HTTP",
            Port=80 + extra,
            DefaultActions=forward,
            Tags=managed_tags(aws),
        )["Listeners"][0]["ListenerArn"]
        listeners.append(listener)
        rules.append(
            elbv2.create_rule(
                ListenerArn=listener,
                Priority=10,
                Conditions=[{"Field": "path-pattern", "Values": [f"/v{extra}/*"]}],
                Actions=forward,
                Tags=managed_tags(aws),
            )["Rules"][0]["RuleArn"]
        )
    return listeners, rules


def weights_of(actions: list[dict[str, Any]]) -> dict[str, int]:
    """{target group ARN: weight} of a listener's or rule's forward action."""
    for action in actions:
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if action.get("Type") == "forward" and groups:
            return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
    return {}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started
