"""The demo's ECS part: the example ECS service (examples/ecs-service) released both ways.

- switch 3: `web:2` through CodeDeploy ECS blue/green (stack web-service,
  DeploymentController CODE_DEPLOY): a 10% canary for five minutes, the stack's
  CodeDeployHook_* functions probing the test listener; it goes live;
- switch 4: `web:3` (the next revision, a new image) answers 503 to the hooks' probes:
  the AfterAllowTestTraffic hook fails and CodeDeploy rolls back;
- switch 5: `api:2` through ECS-native blue/green (stack web-native, DeploymentController
  ECS, strategy BLUE_GREEN): ECS shifts the production listener rule and invokes the
  stack's EcsNativeHookFunction at each lifecycle stage; it goes live.

Each switch prints under its own header; `run_switch` and the timeline are the demo's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .core.emulator import Emulator
from .fixtures.ecs_fleet import EcsFleet, build_ecs_fleet, register_release

if TYPE_CHECKING:
    from .demo import Timeline

RunSwitch = Callable[[Emulator, "Timeline", dict[str, Any], str], dict[str, Any]]
Out = Callable[[str], None]


@dataclass
class EcsPart:
    """What the ECS switches ended as, against what the demo says they end as."""

    # each run, the status it must end with, and what its cause must name (if anything)
    runs: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(
            run["record"]["status"] == status and why in _cause(run)
            for run, status, why in self.runs
        )

    def result(self) -> str:
        return (
            "ECS: web:2 went live through CodeDeploy, web:3 was rolled back by its hook,\n"
            "           api:2 went live through ECS-native blue/green"
        )


def ecs_switches(aws: Emulator, timeline: Timeline, out: Out, run_switch: RunSwitch) -> EcsPart:
    """Switches 3, 4 and 5 on the example ECS services, deployed from their template."""
    for emulation in (aws.codedeploy_emulation, aws.ecs_emulation):
        emulation.background = True  # the platforms' deployments run on the demo's clock
    web = build_ecs_fleet(aws, name="web", mode="CODE_DEPLOY")
    api = build_ecs_fleet(aws, name="api", mode="ECS", stack_name="web-native")
    part = EcsPart()

    _fleet(out, aws, web, "CodeDeploy blue/green, stack web-service")
    request = _request(web, "codedeploy")
    out("")
    out("switch 3   release web:2: CodeDeploy canary 10% for 5 minutes, hooks probe test traffic")
    third = run_switch(aws, timeline, request, "web-2")
    _summary(out, third, aws, web)
    part.runs.append((third, "SUCCEEDED", ""))

    out("")
    out("switch 4   release web:3 (the next revision); it answers 503 to the hooks' probes")
    aws.alb_http.respond(web.blue_arn, status=503, body="upstream connect error")
    request.update(taskDefinition=register_release(aws, web.release))
    fourth = run_switch(aws, timeline, request, "web-3")
    _summary(out, fourth, aws, web)
    part.runs.append((fourth, "ROLLED_BACK", "AfterAllowTestTraffic"))

    _fleet(out, aws, api, "ECS-native blue/green, stack web-native")
    out("")
    out("switch 5   release api:2: ECS-native canary 10% for 5 minutes, the stack's lifecycle hook")
    out("           at each stage; ECS shifts the production listener rule")
    fifth = run_switch(aws, timeline, _request(api, "ecs-native"), "api-2")
    _summary(out, fifth, aws, api)
    part.runs.append((fifth, "SUCCEEDED", ""))
    return part


def _cause(run: dict[str, Any]) -> str:
    return str(run["record"].get("outcome", {}).get("cause") or run["cause"] or "")


def _request(fleet: EcsFleet, mode: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "platform": "ECS",
        "mode": mode,
        "cluster": fleet.cluster,
        "service": fleet.service,
        "taskDefinition": fleet.release,
        "container": {"name": "app", "port": 80},
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
        "requestedBy": "demo@example.com",
    }
    if mode == "codedeploy":
        request["codeDeploy"] = {
            "application": fleet.application,
            "deploymentGroup": fleet.deployment_group,
        }
    return request


def _fleet(out: Out, aws: Emulator, fleet: EcsFleet, how: str) -> None:
    out("")
    out(f"fleet      ECS service {fleet.cluster}/{fleet.service} ({how}), ALB {fleet.dns_name}")
    current = fleet.task_definitions[0].rsplit("/", 1)[-1]
    out(f"           runs {current} behind {_serving(aws, fleet)}; release {_short(fleet.release)}")


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _serving(aws: Emulator, fleet: EcsFleet) -> str:
    return ", ".join(f"{name} {weight}%" for name, weight in fleet.serving(aws).items())


def _summary(out: Out, run: dict[str, Any], aws: Emulator, fleet: EcsFleet) -> None:
    record = run["record"]
    out(
        f"  => {record['status']}  ({run['transitions']} state transitions, "
        f"{run['real_seconds']:.1f} s real)"
    )
    if record["status"] != "SUCCEEDED":
        out(f"     cause: {_cause(run)}")
    service = aws.client("ecs").describe_services(cluster=fleet.cluster, services=[fleet.service])[
        "services"
    ][0]
    out(
        f"     now  production -> {_serving(aws, fleet)}; "
        f"service runs {_short(service['taskDefinition'])}"
    )
