"""Per-function wiring: settings model + lazily built dependencies, once per cold start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import announce, settings
from .aws import Clients
from .checks.reach import ReachPolicy
from .ec2.switch import Ec2Deps
from .ecs.switch import EcsDeps
from .records import Records

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
    """Environment of the switch task functions (see template.yaml Globals)."""

    DEPLOYMENTS_TABLE: str
    EVENT_BUS_NAME: str = "default"
    EVENT_SOURCE: str = "bluegreen"
    LOCK_TTL_SECONDS: int = 7200
    PROBE_ALLOWED_HOSTS: str = ""  # comma-separated (template parameter ProbeAllowedHosts)
    PROBE_ALLOWED_NETWORKS: str = ""  # comma-separated CIDRs (ProbeAllowedNetworks)


class LazyClient:
    """A boto3 client created on its first use: a task pays only for the clients it calls."""

    def __init__(self, clients: Clients, name: str) -> None:
        self._clients = clients
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(getattr(self._clients, self._name), attribute)


def ec2_deps(clients: Clients | None = None) -> Ec2Deps:
    config = settings.load(SwitchSettings)
    clients = clients or Clients()
    return Ec2Deps(
        elbv2=LazyClient(clients, "elbv2"),
        cloudwatch=LazyClient(clients, "cloudwatch"),
        records=Records(
            LazyClient(clients, "dynamodb"), config.DEPLOYMENTS_TABLE, config.LOCK_TTL_SECONDS
        ),
        announcer=announce.Announcer(
            LazyClient(clients, "events"), config.EVENT_SOURCE, config.EVENT_BUS_NAME
        ),
        codedeploy=LazyClient(clients, "codedeploy"),
        reach=ReachPolicy.from_settings(config.PROBE_ALLOWED_HOSTS, config.PROBE_ALLOWED_NETWORKS),
    )


@dataclass(frozen=True)
class EcsSwitchSettings(SwitchSettings):
    """Environment of the ECS switch task functions."""

    HOOK_FUNCTION_SUFFIX: str = ""
    ECS_NATIVE_HOOK_ARN: str = ""
    ECS_HOOK_ROLE_ARN: str = ""


def ecs_deps(clients: Clients | None = None) -> EcsDeps:
    config = settings.load(EcsSwitchSettings)
    clients = clients or Clients()
    dynamodb = LazyClient(clients, "dynamodb")
    return EcsDeps(
        ecs=LazyClient(clients, "ecs"),
        codedeploy=LazyClient(clients, "codedeploy"),
        cloudwatch=LazyClient(clients, "cloudwatch"),
        dynamodb=dynamodb,
        table=config.DEPLOYMENTS_TABLE,
        records=Records(dynamodb, config.DEPLOYMENTS_TABLE, config.LOCK_TTL_SECONDS),
        announcer=announce.Announcer(
            LazyClient(clients, "events"), config.EVENT_SOURCE, config.EVENT_BUS_NAME
        ),
        hook_function_suffix=config.HOOK_FUNCTION_SUFFIX,
        native_hook_arn=config.ECS_NATIVE_HOOK_ARN,
        native_hook_role_arn=config.ECS_HOOK_ROLE_ARN,
    )
