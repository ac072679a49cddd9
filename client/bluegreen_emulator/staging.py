"""A staged account: every events/*.json file names something that exists and waits for it.

    python -m bluegreen_emulator serve --stage-events     # make server ARGS=--stage-events

`stage_events(emulator)` deploys, next to the stack and the example fleets, what each
shipped events file is about, with the ids the file names (read from the file, so the
files are the one place the ids live):

- `codedeploy-<Event>.json`: an ECS service `cd-<event>` released by CodeDeploy, whose
  deployment (the file's `DeploymentId`) waits at that lifecycle event with the file's
  `LifecycleEventHookExecutionId`. Its AppSpec names that event's hook function; the
  invocation CodeDeploy would make there is the one you make (`sam local invoke`), so
  CodeDeploy itself invokes nothing. The deployment stands still at its event: the
  emulated CodeDeploy records the status the hook reports and moves no further.
- `ecs-native-<stage>.json`: an ECS-native service (the file's `resourceArn`), whose
  service deployment (source and target revisions as the file names them) stands at
  that lifecycle stage.
- `alarm-state-change-guarded.json`: a canary switch of the EC2 fleet `shop` held in its
  bake at 90/10, guarded by the file's alarm; `-ok` and `-unrelated` name an alarm going
  back to OK and one nothing guards.
- `switch_request_ecs_*.json`: the services they name (`web`, released by CodeDeploy;
  `api`, ECS-native) and their releases.

`EXPECTED` is the table of what each function answers to each file and where the
emulator shows it; `Staged.judge` checks one invocation against it (the answer *and* the
emulator's record), for the tests and for `make local-invoke`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .core import clock as clocks
from .core.emulator import PROJECT_ROOT, Emulator
from .fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from .fixtures.ecs_fleet import EcsFleet, build_ecs_fleet
from .services.codedeploy_ecs import appspec_content

EVENTS = PROJECT_ROOT / "events"
CANARY_NAME = "staged-canary"
CANARY_BAKE_SECONDS = 86400  # held until the guarded alarm (or a stop) ends it
CANARY = {"blue": 90, "green": 10}
RESTORED = {"blue": 100, "green": 0}
NO_ROLLBACK = "nothing rolled back"


@dataclass(frozen=True)
class Expect:
    """What `function` answers to an events file, and what the emulator shows after."""

    function: str  # the template's logical id
    answer: str  # CodeDeploy status reported, ECS hookStatus, or the alarm's outcome
    fleet: str = ""  # the staged service or fleet the file is about


CODEDEPLOY_FLEETS = {
    "BeforeInstall": "cd-before-install",
    "AfterInstall": "cd-after-install",
    "AfterAllowTestTraffic": "cd-test-traffic",
    "BeforeAllowTraffic": "cd-before-traffic",
    "AfterAllowTraffic": "cd-after-traffic",
}
ECS_NATIVE_FILES = {  # file -> (service, stage it stands at, hookStatus expected)
    "ecs-native-reconcile.json": ("native-reconcile", "RECONCILE_SERVICE", "SUCCEEDED"),
    "ecs-native-scale-up.json": ("native-scale-up", "POST_SCALE_UP", "SUCCEEDED"),
    "ecs-native-test-traffic.json": ("native-test", "POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
    "ecs-native-production-traffic-shift.json": (
        "native-prod-shift",
        "PRODUCTION_TRAFFIC_SHIFT",
        "SUCCEEDED",
    ),
    # the verification window (60 s) is still open: ECS is asked to call again
    "ecs-native-production-traffic.json": (
        "native-post-prod",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "IN_PROGRESS",
    ),
}
EXPECTED: dict[str, Expect] = {
    **{
        f"codedeploy-{event}.json": Expect(f"{event}HookFunction", "Succeeded", fleet)
        for event, fleet in CODEDEPLOY_FLEETS.items()
    },
    **{
        name: Expect("EcsNativeHookFunction", status, service)
        for name, (service, _stage, status) in ECS_NATIVE_FILES.items()
    },
    "alarm-state-change-guarded.json": Expect("AlarmRollbackFunction", "ROLLED_BACK", "shop"),
    "alarm-state-change-ok.json": Expect("AlarmRollbackFunction", NO_ROLLBACK, "shop"),
    "alarm-state-change-unrelated.json": Expect("AlarmRollbackFunction", NO_ROLLBACK, "shop"),
    # state machine input: the first state (PlanFunction) plans it, read-only
    "switch_request_ecs_codedeploy.json": Expect("PlanFunction", "codedeploy-ecs", "web"),
    "switch_request_ecs_native.json": Expect("PlanFunction", "ecs-native", "api"),
}
# the files whose hook probes its fleet's test listener (:8080) by default
PROBED = {"codedeploy-AfterAllowTestTraffic.json": 8080, "ecs-native-test-traffic.json": 8080}
# A Lambda container reaches the host at Docker's default bridge gateway: a probe from
# `sam local invoke` reaches the emulated ALB there (bluegreen_localinvoke), so the
# staged stack lets probes reach it as well as loopback (in-process probes).
DOCKER_GATEWAY = "172.17.0.1"
STAGED_PARAMETERS = {"ProbeAllowedNetworks": f"127.0.0.1/32,{DOCKER_GATEWAY}/32"}
# switch_request.json names the EC2 fleet by ARNs, which moto makes up at random: it is
# the schema's example (tests/unit/test_request.py), not staged.
NOT_STAGED = {"switch_request.json": "its listener and target group ARNs are examples"}


ENV_FILE = PROJECT_ROOT / "env.json"


def env_vars(aws: Emulator) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` content: each function's variables as the emulated
    stack deployed them (SAM passes only the variables the template declares)."""
    functions = {spec.logical_id: spec for spec in aws.runtime.functions.values()}
    return {name: dict(sorted(functions[name].environment.items())) for name in sorted(functions)}


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def state_machine_payload(name: str) -> dict[str, Any]:
    """A switch request file as the state machine's first state receives it."""
    stem = name.removesuffix(".json").replace("_", "-")
    return {
        "input": load(name),
        "deploymentId": f"staged-{stem}",
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:staged:{stem}",
    }


def event_payload(name: str) -> Any:
    """What the function receives for an events file (`sam local invoke -e`)."""
    if EXPECTED[name].function == "PlanFunction":
        return state_machine_payload(name)
    return load(name)


@dataclass
class Staged:
    """The staged account: what `stage_events` built, and the checks of `EXPECTED`."""

    aws: Emulator
    shop: Ec2Fleet
    services: dict[str, EcsFleet] = field(default_factory=dict)
    canary_execution: str = ""
    released: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> str:
        """What is staged, for the person running `serve --stage-events`."""
        lines = ["Staged for events/*.json (sam local invoke <function> -e events/<file>):"]
        for name, expect in EXPECTED.items():
            lines.append(f"  {name:42} {expect.function:34} -> {expect.answer}")
        lines += [f"  {name:42} not staged: {why}" for name, why in NOT_STAGED.items()]
        lines.append(f"  canary {self.canary_execution} bakes {self.shop_weights()}")
        return "\n".join(lines)

    def close(self) -> None:
        """Let the held canary's bake go (the emulator is stopping)."""
        self.released.set()

    # -- what the emulator shows --------------------------------------------------------
    def shop_weights(self) -> dict[str, int]:
        elbv2 = self.aws.client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[self.shop.listener_arn])["Listeners"][0]
        colour = {self.shop.blue_arn: "blue", self.shop.green_arn: "green"}
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        return {colour[g["TargetGroupArn"]]: int(g["Weight"]) for g in groups}

    def canary_record(self) -> str:
        table = self.aws.output("DeploymentsTableName")
        item = (
            self.aws.client("dynamodb")
            .get_item(
                TableName=table,
                Key={"pk": {"S": f"DEPLOY#{CANARY_NAME}"}, "sk": {"S": "RECORD"}},
            )
            .get("Item")
        )
        return str(item["status"]["S"]) if item else "missing"

    def canary_status(self) -> str:
        sfn = self.aws.client("stepfunctions")
        return str(sfn.describe_execution(executionArn=self.canary_execution)["status"])

    def observe(self) -> dict[str, Any]:
        """The state every expectation reads, before and after an invocation."""
        return {
            "weights": self.shop_weights(),
            "record": self.canary_record(),
            "execution": self.canary_status(),
        }

    # -- the verdict on one invocation ------------------------------------------------------
    def judge(
        self, name: str, answer: Any, before: dict[str, Any], after: dict[str, Any]
    ) -> tuple[bool, str]:
        """Whether the function's answer to `name` (its payload, or None) is the
        expected one and the emulator shows its effect; with what was seen."""
        expect = EXPECTED[name]
        if not isinstance(answer, dict):
            return False, f"no JSON object answered: {answer!r}"[:300]
        if "errorType" in answer:
            return False, f"{answer['errorType']}: {answer.get('errorMessage')}"[:300]
        if expect.function.endswith("HookFunction") and expect.function != "EcsNativeHookFunction":
            return self._codedeploy(name, answer)
        if expect.function == "EcsNativeHookFunction":
            status = answer.get("hookStatus")
            reason = (answer.get("hookDetails") or {}).get("reason", "")
            why = "" if status == expect.answer else f": {reason}"[:240]
            return status == expect.answer, f"hookStatus {status}{why}"
        if expect.function == "AlarmRollbackFunction":
            return self._alarm(expect, answer, before, after)
        planned = answer.get("adapter")
        return planned == expect.answer, f"planned for {planned}"

    def _codedeploy(self, name: str, answer: dict[str, Any]) -> tuple[bool, str]:
        event = load(name)
        emulation = self.aws.codedeploy_emulation
        reported = [
            r.status
            for r in emulation.reports
            if r.deployment_id == event["DeploymentId"]
            and r.execution_id == event["LifecycleEventHookExecutionId"]
        ]
        deployment = emulation.deployments[event["DeploymentId"]]
        lifecycle = name.removeprefix("codedeploy-").removesuffix(".json")
        recorded = deployment.events[lifecycle].status
        ok = answer.get("status") == "Succeeded" and reported == ["Succeeded"]
        detail = f"answered {answer.get('status')}; CodeDeploy recorded {lifecycle} {recorded}"
        if not ok:
            detail += f": {answer.get('reason', '')}"[:240]
        return ok and recorded == "Succeeded", detail

    def _alarm(
        self, expect: Expect, answer: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
    ) -> tuple[bool, str]:
        rolled = [d for d in answer.get("deployments", []) if d.get("result") == "ROLLED_BACK"]
        if expect.answer == NO_ROLLBACK:
            detail = f"rolled back {len(rolled)}; shop serves {after['weights']}"
            return not rolled and after == before, detail
        ids = [d.get("deploymentId") for d in rolled]
        detail = (
            f"rolled back {ids}; shop serves {after['weights']} "
            f"(was {before['weights']}); record {after['record']}"
        )
        ok = (
            ids == [CANARY_NAME]
            and before["weights"] == CANARY
            and after["weights"] == RESTORED
            and after["record"] == "ROLLED_BACK"
        )
        return ok, detail


# -- staging ---------------------------------------------------------------------------------
def stage_events(aws: Emulator, shop: Ec2Fleet | None = None) -> Staged:
    """Stage every events file (see the module docstring) in a started emulator
    (`Emulator(parameters=STAGED_PARAMETERS)`, what env.json says) whose CodeDeploy and
    ECS emulations do not run in the background yet. `shop`: the example fleets (`shop`,
    `web`, `api`) are deployed already, this is the EC2 one."""
    if shop is None:
        shop = build_ec2_fleet(aws)
        build_ecs_fleet(aws, name="web", mode="CODE_DEPLOY")
        build_ecs_fleet(aws, name="api", mode="ECS", stack_name="web-native")
    staged = Staged(aws, shop)
    for event, name in CODEDEPLOY_FLEETS.items():
        staged.services[name] = _codedeploy_waiting(
            aws, name, event, load(f"codedeploy-{event}.json")
        )
    for file, (service, stage, _status) in ECS_NATIVE_FILES.items():
        staged.services[service] = _ecs_native_at(aws, service, stage, load(file))
    _hold_canary(staged)
    return staged


@contextmanager
def _no_hook_invocations(aws: Emulator) -> Iterator[None]:
    """CodeDeploy's invocation of the hook is left to the person (sam local invoke)."""
    emulation = aws.codedeploy_emulation
    emulation._invoke_async = lambda function, payload: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        del emulation._invoke_async


def _codedeploy_waiting(aws: Emulator, name: str, event: str, ids: dict[str, str]) -> EcsFleet:
    fleet = build_ecs_fleet(aws, name=name, mode="CODE_DEPLOY")
    emulation = aws.codedeploy_emulation
    hook = aws.function(f"{event}HookFunction").arn
    with _no_hook_invocations(aws):
        emulation.preset_ids["deployment"] = [ids["DeploymentId"]]
        emulation.preset_ids["execution"] = [ids["LifecycleEventHookExecutionId"]]
        deployment_id = aws.client("codedeploy").create_deployment(
            applicationName=fleet.application,
            deploymentGroupName=fleet.deployment_group,
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": appspec_content(fleet.release, {event: hook})},
            },
        )["deploymentId"]
        waiting = emulation.deployments[deployment_id].events[event]
        _until(lambda: waiting.execution_id is not None, lambda: emulation.advance(deployment_id))
    if (deployment_id, waiting.execution_id) != (
        ids["DeploymentId"],
        ids["LifecycleEventHookExecutionId"],
    ):
        raise RuntimeError(f"{name}: staged with other ids than codedeploy-{event}.json names")
    return fleet


def _ecs_native_at(aws: Emulator, name: str, stage: str, event: dict[str, Any]) -> EcsFleet:
    details = event["executionDetails"]
    source, target = (arn.rsplit("/", 1)[1] for arn in details["testTrafficWeights"])
    emulation = aws.ecs_emulation
    emulation.preset_ids["revision"] = [source]
    fleet = build_ecs_fleet(aws, name=name, mode="ECS")
    emulation.preset_ids["revision"] = [target]
    emulation.preset_ids["deployment"] = [event["resourceArn"].rsplit("/", 1)[1]]
    aws.client("ecs").update_service(
        cluster=fleet.cluster, service=fleet.service, taskDefinition=fleet.release
    )
    arn = event["resourceArn"]
    deployment = emulation.deployments[arn]
    _until(
        lambda: (deployment.status, deployment.stage) == ("IN_PROGRESS", stage),
        lambda: emulation.advance(arn),
    )
    if details["targetServiceRevisionArn"] != deployment.target.arn:
        raise RuntimeError(f"{name}: staged with another target revision than the file names")
    return fleet


def _until(done: Callable[[], bool], step: Callable[[], object], steps: int = 100) -> None:
    for _ in range(steps):
        if done():
            return
        step()
    raise RuntimeError(f"not reached after {steps} steps")


def _hold_canary(staged: Staged) -> None:
    """Start a 10% canary of `shop` guarded by its green alarms and hold it in its bake."""
    aws = staged.aws
    machine = aws.output("SwitchStateMachineArn")
    staged.canary_execution = f"{machine.replace(':stateMachine:', ':execution:')}:{CANARY_NAME}"
    original = aws.clock.wait
    baking = threading.Event()

    def wait(event: threading.Event, emulated_seconds: float) -> None:
        timeline = clocks.current()
        if timeline is None or timeline.name != staged.canary_execution:
            original(event, emulated_seconds)
        elif emulated_seconds == CANARY_BAKE_SECONDS:
            baking.set()
            while not (event.wait(0.2) or staged.released.is_set()):
                pass

    aws.clock.wait = wait  # type: ignore[method-assign]
    request = staged.shop.request(
        strategy={"type": "canary", "percent": 10, "bakeSeconds": CANARY_BAKE_SECONDS},
        requestedBy="staging@example.com",
    )
    aws.start_execution(machine, request, name=CANARY_NAME)
    deadline = time.monotonic() + 60
    while not baking.wait(0.1):
        if (
            time.monotonic() > deadline
            or aws.client("stepfunctions").describe_execution(executionArn=staged.canary_execution)[
                "status"
            ]
            != "RUNNING"
        ):
            raise RuntimeError("the staged canary never reached its bake")
    if staged.shop_weights() != CANARY:
        raise RuntimeError(f"the staged canary bakes at {staged.shop_weights()}, not {CANARY}")
