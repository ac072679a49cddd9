"""Per-function wiring: a settings model read once per cold start, and the dependencies
built from it with lazily created clients (a task pays only for the clients it calls)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import announce, settings
from .aws import Clients
from .checks.reach import ReachPolicy
from .registry import Registry
from .store import Deployments
from .switch.deps import SwitchDeps
from .switch.reaper import ReaperDeps

T = TypeVar("T")


class Lazy(Generic[T]):
    """Build a value on first use and keep it (a handler module keeps one per cold start)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None

    def __call__(self) -> T:
        if self._value is None:
            self._value = self._factory()
        return self._value


@dataclass(frozen=True)
class SwitchSettings:
    """Environment of the switch task functions, settle and the reaper (template Globals
    and each function's own variables)."""

    DEPLOYMENTS_TABLE: str
    EVENT_BUS_NAME: str = "default"
    EVENT_SOURCE: str = "bluegreen"
    LOCK_TTL_SECONDS: int = 7200
    HOOK_FUNCTION_SUFFIX: str = ""
    ECS_NATIVE_HOOK_ARN: str = ""
    ECS_HOOK_ROLE_ARN: str = ""
    PROBE_ALLOWED_HOSTS: str = ""  # comma-separated (template parameter ProbeAllowedHosts)
    PROBE_ALLOWED_NETWORKS: str = ""  # comma-separated CIDRs (ProbeAllowedNetworks)
    # The registry (Plan's): the stack's name as the bluegreen:managed tag value, and the
    # template parameters ManagedLoadBalancerNames, ManagedEcsServices,
    # ManagedCodeDeployApplications, ManagedArtifactBuckets, PassableTaskRoles
    MANAGED_TAG_VALUE: str = ""
    MANAGED_LOAD_BALANCER_NAMES: str = ""
    MANAGED_ECS_SERVICES: str = ""
    MANAGED_CODEDEPLOY_APPLICATIONS: str = ""
    MANAGED_ARTIFACT_BUCKETS: str = ""
    PASSABLE_TASK_ROLES: str = ""


class LazyClient:
    """A boto3 client created on its first attribute access."""

    def __init__(self, clients: Clients, name: str) -> None:
        self._clients = clients
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(getattr(self._clients, self._name), attribute)


def switch_deps(clients: Clients | None = None) -> SwitchDeps:
    config = settings.load(SwitchSettings)
    clients = clients or Clients()
    return SwitchDeps(
        clients=clients,
        store=Deployments(LazyClient(clients, "dynamodb"), config.DEPLOYMENTS_TABLE),
        announcer=announce.Announcer(
            LazyClient(clients, "events"), config.EVENT_SOURCE, config.EVENT_BUS_NAME
        ),
        lease_margin_seconds=config.LOCK_TTL_SECONDS,
        reach=ReachPolicy.from_settings(config.PROBE_ALLOWED_HOSTS, config.PROBE_ALLOWED_NETWORKS),
        registry=Registry.from_settings(
            tag_value=config.MANAGED_TAG_VALUE,
            load_balancers=config.MANAGED_LOAD_BALANCER_NAMES,
            ecs_services=config.MANAGED_ECS_SERVICES,
            codedeploy_applications=config.MANAGED_CODEDEPLOY_APPLICATIONS,
            artifact_buckets=config.MANAGED_ARTIFACT_BUCKETS,
            task_roles=config.PASSABLE_TASK_ROLES,
            hook_role=config.ECS_HOOK_ROLE_ARN,
        ),
        table=config.DEPLOYMENTS_TABLE,
        hook_function_suffix=config.HOOK_FUNCTION_SUFFIX,
        native_hook_arn=config.ECS_NATIVE_HOOK_ARN,
        native_hook_role_arn=config.ECS_HOOK_ROLE_ARN,
    )


def reaper_deps(deps: SwitchDeps, context: Any) -> ReaperDeps:
    """Per invocation: the reaper waits at most what the invocation has left."""
    return ReaperDeps(
        endings=deps.endings(),
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
    )
