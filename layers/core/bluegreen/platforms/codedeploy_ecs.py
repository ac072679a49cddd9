"""The CodeDeploy ECS blue/green adapter (deployment controller CODE_DEPLOY).

The switch creates one CodeDeploy deployment whose AppSpec hooks are this stack's
`CodeDeployHook_<Event>` functions and whose deployment config matches the strategy;
CodeDeploy moves the traffic. Restoring is `StopDeployment(autoRollbackEnabled=True)`,
which makes CodeDeploy reroute traffic to the original task set whatever the group's
own auto-rollback setting; observing reads the production listeners the deployment
group names and the service's PRIMARY task set back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..contracts import Observation, Plan, Snapshot
from .ecs_common import describe_service, ecs_snapshot, observe_service

KIND = "codedeploy-ecs"
HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
DONE = {"Succeeded"}
ENDED = {"Succeeded", "Failed", "Stopped"}
IN_FLIGHT = ["Created", "Queued", "InProgress", "Baking", "Ready"]


@dataclass
class CodeDeployEcsAdapter:
    ecs: Any
    codedeploy: Any
    elbv2: Any
    kind: str = KIND

    def snapshot(self, plan: Plan) -> Snapshot:
        return ecs_snapshot(plan)

    # -- the platform's deployment --------------------------------------------------------
    def start_deployment(
        self,
        plan: Plan,
        task_definition: str,
        hook_suffix: str,
        store_hook_config: Callable[[str], None],
    ) -> str:
        request = plan["request"]
        config = request["deploymentConfig"]
        if config["custom"]:
            self._ensure_config(config)
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition,
                            "LoadBalancerInfo": {
                                "ContainerName": request["container"]["name"],
                                "ContainerPort": request["container"]["port"],
                            },
                        },
                    }
                }
            ],
            "Hooks": [{event: f"CodeDeployHook_{event}{hook_suffix}"} for event in HOOK_EVENTS],
        }
        created = self.codedeploy.create_deployment(
            applicationName=request["codeDeploy"]["application"],
            deploymentGroupName=request["codeDeploy"]["deploymentGroup"],
            deploymentConfigName=config["name"],
            description=f"bluegreen switch {plan['deploymentId']}",
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": json.dumps(appspec)},
            },
        )
        reference = str(created["deploymentId"])
        store_hook_config(reference)  # at once: the first hook runs as Install starts
        return reference

    def _ensure_config(self, config: Mapping[str, Any]) -> None:
        try:
            self.codedeploy.get_deployment_config(deploymentConfigName=config["name"])
        except self.codedeploy.exceptions.DeploymentConfigDoesNotExistException:
            try:
                self.codedeploy.create_deployment_config(
                    deploymentConfigName=config["name"],
                    computePlatform="ECS",
                    trafficRoutingConfig=config["custom"],
                )
            except self.codedeploy.exceptions.DeploymentConfigAlreadyExistsException:
                return  # created concurrently by another switch: same name, same routing

    def poll_deployment(self, reference: str) -> dict[str, Any]:
        info = self.codedeploy.get_deployment(deploymentId=reference)["deploymentInfo"]
        status = str(info["status"])
        return {
            "status": status,
            "done": status in DONE,
            "ended": status in ENDED,
            "events": self._lifecycle_events(reference),
            "reason": info.get("errorInformation", {}).get("message", ""),
        }

    def _lifecycle_events(self, reference: str) -> dict[str, str]:
        targets = self.codedeploy.list_deployment_targets(deploymentId=reference).get(
            "targetIds", []
        )
        if not targets:
            return {}
        described = self.codedeploy.batch_get_deployment_targets(
            deploymentId=reference, targetIds=targets[:25]
        )
        events: dict[str, str] = {}
        for target in described.get("deploymentTargets", []):
            for event in target.get("ecsTarget", {}).get("lifecycleEvents", []):
                events.setdefault(event["lifecycleEventName"], event["status"])
        return events

    # -- adapter ---------------------------------------------------------------------------
    def _reference(self, snapshot: Snapshot) -> str | None:
        """The deployment to stop or follow: the one recorded, else one in flight on
        the deployment group (created by a task whose ending was decided before it
        could record it: nothing a restore needs may live only in the table)."""
        if snapshot.get("reference"):
            return str(snapshot["reference"])
        group = snapshot.get("codeDeploy") or {}
        if not group:
            return None
        listed = self.codedeploy.list_deployments(
            applicationName=group["application"],
            deploymentGroupName=group["deploymentGroup"],
            includeOnlyStatuses=IN_FLIGHT,
        ).get("deployments", [])
        return str(listed[0]) if listed else None

    def restore(self, snapshot: Snapshot) -> str:
        reference = self._reference(snapshot)
        if not reference:
            return "no CodeDeploy deployment started: nothing moved"
        try:
            self.codedeploy.stop_deployment(deploymentId=reference, autoRollbackEnabled=True)
        except self.codedeploy.exceptions.DeploymentAlreadyCompletedException:
            return f"CodeDeploy deployment {reference} had already ended"
        return f"StopDeployment({reference}, autoRollbackEnabled) requested"

    def complete(self, plan: Plan, snapshot: Snapshot) -> str:
        return "CodeDeploy finished the deployment"

    def observe(self, plan: Plan, snapshot: Snapshot) -> Observation:
        reference = self._reference(snapshot)
        status = None
        if reference:
            status = str(
                self.codedeploy.get_deployment(deploymentId=reference)["deploymentInfo"]["status"]
            )
        group = (snapshot.get("codeDeploy") or {}).copy()
        info = self.codedeploy.get_deployment_group(
            applicationName=group["application"], deploymentGroupName=group["deploymentGroup"]
        )["deploymentGroupInfo"]
        pairs = (info.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}]
        listeners = list((pairs[0].get("prodTrafficRoute") or {}).get("listenerArns") or [])
        service = describe_service(self.ecs, snapshot["cluster"], snapshot["service"])
        return observe_service(
            self.elbv2,
            service,
            listeners,
            [],
            before=str(snapshot.get("taskDefinition")),
            platform_status=status,
            still_moving=status is not None and status not in ENDED,
        )


def auto_rollback_problem(group: Mapping[str, Any]) -> str | None:
    """Why a deployment group would leave a failed release serving, or None.

    Without automatic rollback on DEPLOYMENT_FAILURE (and on DEPLOYMENT_STOP_ON_ALARM
    when the group has alarms), a hook failing after traffic moved leaves production on
    the failed release: the switch refuses such a group before anything changes."""
    config = group.get("autoRollbackConfiguration") or {}
    if not config.get("enabled"):
        return "autoRollbackConfiguration.enabled is false"
    events = set(config.get("events") or [])
    if "DEPLOYMENT_FAILURE" not in events:
        return "autoRollbackConfiguration.events lacks DEPLOYMENT_FAILURE"
    alarms = group.get("alarmConfiguration") or {}
    if alarms.get("enabled") and "DEPLOYMENT_STOP_ON_ALARM" not in events:
        return "autoRollbackConfiguration.events lacks DEPLOYMENT_STOP_ON_ALARM"
    return None
