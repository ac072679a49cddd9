"""moto's ECS: ECS-native blue/green service deployments.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import threading
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.responses import EC2ContainerServiceResponse

from ..services.ecs_native import ACTIONS
from . import registry


# 12. moto's ECS ignores `deploymentConfiguration` on CreateService, treats UpdateService
#     as an instant change, and has no service deployments or revisions
#     (DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
#     StopServiceDeployment are missing from EC2ContainerServiceResponse). For services
#     using the ECS deployment controller with a BLUE_GREEN/LINEAR/CANARY strategy, hand
#     create/update to the emulator's EcsNativeEmulation (ecs_native.py), which runs the
#     service deployment and its lifecycle hooks, and answer the missing actions there.
#     An update is one change, as on AWS: DescribeServices and the service-deployment
#     actions never see moto's new task definition before the deployment that holds it.
#     A service created with the CODE_DEPLOY controller gets its original (PRIMARY) task
#     set, its tasks registered in its target group, as ECS makes it at creation
#     (CodeDeployEmulation.adopt).
def _patch_ecs_native_blue_green() -> None:
    create = registry.ORIGINALS["EC2ContainerServiceResponse.create_service"]
    update = registry.ORIGINALS["EC2ContainerServiceResponse.update_service"]

    def create_service(self: EC2ContainerServiceResponse) -> Any:
        result = create(self)
        if _emulation() is not None:
            service = self.ecs_backend._get_service(
                self._get_param("cluster", "default"), self._get_param("serviceName")
            )
            _emulation().service_created(service, self._get_param("deploymentConfiguration"))
            _start_original_task_set(service)
        return result

    def update_service(self: EC2ContainerServiceResponse) -> Any:
        if _emulation() is None:
            return update(self)
        cluster = self._get_param("cluster", "default")
        service = self.ecs_backend._get_service(cluster, self._get_param("service").split("/")[-1])
        with _SERVICES:  # one change, as on AWS: nobody reads the half-applied update
            previous = service.task_definition
            result = update(self)
            configuration = self._get_param("deploymentConfiguration")
            _emulation().service_updated(service, previous, configuration)
        return result

    EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]
    EC2ContainerServiceResponse.update_service = update_service  # type: ignore[method-assign]
    for name in ACTIONS:
        setattr(EC2ContainerServiceResponse, name, _action(name))


def _emulation() -> Any:
    return None if registry.ACTIVE is None else getattr(registry.ACTIVE, "ecs_emulation", None)


def _action(name: str) -> Callable[[EC2ContainerServiceResponse], ActionResult]:
    def method(self: EC2ContainerServiceResponse) -> ActionResult:
        if _emulation() is None:
            raise NotImplementedError(f"The {name} action has not been implemented")
        if name == "stop_service_deployment":  # it may run hooks: not under the lock
            return ActionResult(_emulation().stop_service_deployment(self._get_param))
        with _SERVICES:
            return ActionResult(getattr(_emulation(), name)(self._get_param))

    method.__name__ = name
    return method


_SERVICES = threading.RLock()


def _patch_describe_services_whole() -> None:
    describe = registry.ORIGINALS["EC2ContainerServiceResponse.describe_services"]

    def describe_services(self: EC2ContainerServiceResponse) -> Any:
        with _SERVICES:
            return describe(self)

    EC2ContainerServiceResponse.describe_services = describe_services  # type: ignore[method-assign]


def _start_original_task_set(service: Any) -> None:
    if service.deployment_controller.get("type") == "CODE_DEPLOY":
        registry.ACTIVE.codedeploy_emulation.adopt(service.cluster_name, service.name)


def apply() -> None:
    _patch_ecs_native_blue_green()
    _patch_describe_services_whole()
