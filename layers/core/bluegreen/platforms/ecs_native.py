"""The ECS-native blue/green adapter (deployment controller ECS, strategy BLUE_GREEN,
CANARY or LINEAR).

The switch updates the service with the new task definition and a deployment
configuration carrying this stack's lifecycle hook; ECS moves the traffic. Restoring is
`StopServiceDeployment(stopType=ROLLBACK)`; observing reads the service's task
definition and its production listener rule(s) back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..contracts import Observation, Plan, Snapshot
from ..errors import BlueGreenError
from .ecs_common import describe_service, ecs_snapshot, observe_service

KIND = "ecs-native"
STAGES = (
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
DONE = {"SUCCESSFUL"}
ENDED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
IN_FLIGHT = ["PENDING", "IN_PROGRESS"]


class NoServiceDeployment(BlueGreenError):
    """ECS accepted the update but lists no service deployment."""


@dataclass
class EcsNativeAdapter:
    ecs: Any
    elbv2: Any
    hook_arn: str = ""
    hook_role_arn: str = ""
    kind: str = KIND

    def snapshot(self, plan: Plan) -> Snapshot:
        return ecs_snapshot(plan)

    # -- the platform's deployment --------------------------------------------------------
    def start_deployment(self, plan: Plan, task_definition: str) -> str:
        request = plan["request"]
        hook: dict[str, Any] = {
            "hookTargetArn": self.hook_arn,
            "roleArn": request["ecsNative"]["hookRoleArn"] or self.hook_role_arn,
            "lifecycleStages": request["ecsNative"]["stages"] or list(STAGES),
        }
        if request["hooks"] is not None:
            hook["hookDetails"] = {"hookConfig": request["hooks"]}
        configuration = {**request["deploymentConfiguration"], "lifecycleHooks": [hook]}
        if request["alarms"]:
            configuration["alarms"] = {
                "alarmNames": request["alarms"],
                "enable": True,
                "rollback": True,
            }
        self.ecs.update_service(
            cluster=plan["clusterArn"],  # type: ignore[typeddict-item]
            service=plan["serviceArn"],  # type: ignore[typeddict-item]
            taskDefinition=task_definition,
            deploymentConfiguration=configuration,
        )
        listed = self.ecs.list_service_deployments(
            cluster=plan["clusterArn"],  # type: ignore[typeddict-item]
            service=plan["serviceArn"],  # type: ignore[typeddict-item]
        )
        arns = [d["serviceDeploymentArn"] for d in listed.get("serviceDeployments", [])]
        if not arns:
            raise NoServiceDeployment("ECS accepted the update but lists no service deployment")
        return str(arns[0])

    def poll_deployment(self, reference: str) -> dict[str, Any]:
        described = self.ecs.describe_service_deployments(serviceDeploymentArns=[reference])
        deployment = described["serviceDeployments"][0]
        status = str(deployment["status"])
        return {
            "status": status,
            "done": status in DONE,
            "ended": status in ENDED,
            "events": {"stage": deployment.get("lifecycleStage", "")},
            "reason": deployment.get("statusReason", ""),
        }

    # -- adapter ---------------------------------------------------------------------------
    def _reference(self, snapshot: Snapshot) -> str | None:
        """The service deployment to stop or follow: the one recorded, else one in
        flight on the service (started by a task whose ending was decided before it
        could record it: nothing a restore needs may live only in the table)."""
        if snapshot.get("reference"):
            return str(snapshot["reference"])
        listed = self.ecs.list_service_deployments(
            cluster=snapshot["cluster"], service=snapshot["service"], status=IN_FLIGHT
        ).get("serviceDeployments", [])
        return str(listed[0]["serviceDeploymentArn"]) if listed else None

    def restore(self, snapshot: Snapshot) -> str:
        reference = self._reference(snapshot)
        if not reference:
            return "no service deployment started: nothing moved"
        try:
            self.ecs.stop_service_deployment(serviceDeploymentArn=reference, stopType="ROLLBACK")
        except self.ecs.exceptions.ConflictException:  # completed, or already stopping
            return f"service deployment {reference} could not be stopped (already ended)"
        return f"StopServiceDeployment({reference}, ROLLBACK) requested"

    def complete(self, plan: Plan, snapshot: Snapshot) -> str:
        return "ECS finished the service deployment"

    def observe(self, plan: Plan, snapshot: Snapshot) -> Observation:
        reference = self._reference(snapshot)
        status = None
        if reference:
            found = self.ecs.describe_service_deployments(serviceDeploymentArns=[reference])
            deployments = found.get("serviceDeployments", [])
            status = str(deployments[0]["status"]) if deployments else None
        service = describe_service(self.ecs, snapshot["cluster"], snapshot["service"])
        rules = [
            str(rule)
            for lb in service.get("loadBalancers") or []
            if (rule := (lb.get("advancedConfiguration") or {}).get("productionListenerRule"))
        ]
        return observe_service(
            self.elbv2,
            service,
            [],
            rules,
            before=str(snapshot.get("taskDefinition")),
            platform_status=status,
            still_moving=status is not None and status not in ENDED,
        )
