"""moto's CodeDeploy: Server deployments that progress, ECS blue/green deployments.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

from collections.abc import Callable
from typing import Any

from moto.codedeploy import responses as codedeploy_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import ActionResult

from ..services.codedeploy_ecs import ACTIONS
from . import registry


# 9. moto's CodeDeploy creates EC2/on-premises (compute platform `Server`) deployments and
#    leaves them `Created` forever (CodeDeployBackend.get_deployment just returns them).
#    Emulate the agents on the instances: each read moves a Server deployment on
#    (Created -> InProgress -> the outcome in Emulator.codedeploy_server_outcomes,
#    `Succeeded` unless a test set `Failed` for its application/deployment group).
def _patch_codedeploy_server_progress() -> None:
    original = registry.ORIGINALS["CodeDeployBackend.get_deployment"]

    def get_deployment(self: CodeDeployBackend, deployment_id: str) -> Any:
        deployment = original(self, deployment_id)
        if registry.ACTIVE is None or deployment.application.compute_platform != "Server":
            return deployment
        if deployment.status == "Created":
            deployment.status = "InProgress"
        elif deployment.status == "InProgress":
            key = (deployment.application_name, deployment.deployment_group_name)
            deployment.status = registry.ACTIVE.codedeploy_server_outcomes.get(key, "Succeeded")
        return deployment

    CodeDeployBackend.get_deployment = get_deployment  # type: ignore[method-assign]


# 10. moto's CodeDeploy records an ECS deployment and leaves it `Created`; it has no
#     PutLifecycleEventHookExecutionStatus, StopDeployment, Create/GetDeploymentConfig or
#     deployment-target actions (CodeDeployResponse lacks the methods, so boto3 gets
#     NotImplementedError). Hand ECS deployments to the emulator's CodeDeployEmulation
#     (codedeploy.py) when CodeDeployBackend.create_deployment records them, add the
#     missing actions to CodeDeployResponse, and let GetDeployment show the emulation's
#     errorInformation/rollbackInfo (responses._deployment_info returns them empty).
def _patch_codedeploy_ecs_blue_green() -> None:
    create = registry.ORIGINALS["CodeDeployBackend.create_deployment"]
    info = registry.ORIGINALS["codedeploy_responses._deployment_info"]

    def create_deployment(self: CodeDeployBackend, *args: Any, **kwargs: Any) -> str:
        deployment_id: str = create(self, *args, **kwargs)
        if registry.ACTIVE is None or not hasattr(registry.ACTIVE, "codedeploy_emulation"):
            return deployment_id
        return registry.ACTIVE.codedeploy_emulation.created(deployment_id)

    def deployment_info(deployment: Any) -> dict[str, Any]:
        shown: dict[str, Any] = info(deployment)
        if registry.ACTIVE is not None and hasattr(registry.ACTIVE, "codedeploy_emulation"):
            shown.update(registry.ACTIVE.codedeploy_emulation.overlay(deployment.deployment_id))
        return shown

    def action(name: str) -> Callable[[CodeDeployResponse], ActionResult]:
        def method(self: CodeDeployResponse) -> ActionResult:
            if registry.ACTIVE is None or not hasattr(registry.ACTIVE, "codedeploy_emulation"):
                raise NotImplementedError(f"The {name} action has not been implemented")
            return ActionResult(
                getattr(registry.ACTIVE.codedeploy_emulation, name)(self._get_param)
            )

        method.__name__ = name
        return method

    CodeDeployBackend.create_deployment = create_deployment  # type: ignore[method-assign]
    codedeploy_responses._deployment_info = deployment_info
    for name in ACTIONS:
        setattr(CodeDeployResponse, name, action(name))


# 34. moto's GetDeploymentGroup answers `alarmConfiguration` as {} (a TODO in moto) and
#     `autoScalingGroups` as bare names where the API answers {name, hook} objects
#     (boto3 then reads [{}]): answer the alarms and Auto Scaling groups the group was
#     created with, so a plan sees which alarms stop a deployment.
def _patch_deployment_group_info() -> None:
    original = registry.ORIGINALS["codedeploy_responses._deployment_group_info"]

    def deployment_group_info(deployment_group: Any) -> dict[str, Any]:
        shown: dict[str, Any] = original(deployment_group)
        shown["alarmConfiguration"] = deployment_group.alarm_configuration or {}
        shown["autoScalingGroups"] = [
            {"name": name} if isinstance(name, str) else name
            for name in deployment_group.auto_scaling_groups
        ]
        return shown

    codedeploy_responses._deployment_group_info = deployment_group_info


def apply() -> None:
    _patch_codedeploy_server_progress()
    _patch_codedeploy_ecs_blue_green()
    _patch_deployment_group_info()
