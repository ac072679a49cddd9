"""Environment models of the hook functions (read once per cold start, inside the
handler's guarded path, so a bad environment still gets a Failed answer)."""

from __future__ import annotations

from dataclasses import dataclass

from ..checks.reach import ReachPolicy
from ..errors import InvalidConfiguration
from .config import CODEDEPLOY_EVENTS


@dataclass(frozen=True)
class HookTableSettings:
    """The one variable answering once needs (read apart, so a hook whose other settings
    are wrong still reports once per execution)."""

    DEPLOYMENTS_TABLE: str = ""


@dataclass(frozen=True)
class CodeDeployHookSettings:
    LIFECYCLE_EVENT: str
    DEPLOYMENTS_TABLE: str
    HOOK_CONFIG_PARAMETER_PREFIX: str = "/bluegreen/hooks"
    HOOK_TIME_MARGIN_SECONDS: int = 2
    PROBE_ALLOWED_HOSTS: str = ""  # comma-separated (template parameter ProbeAllowedHosts)
    PROBE_ALLOWED_NETWORKS: str = ""  # comma-separated CIDRs (ProbeAllowedNetworks)

    def reach(self) -> ReachPolicy:
        return ReachPolicy.from_settings(self.PROBE_ALLOWED_HOSTS, self.PROBE_ALLOWED_NETWORKS)

    def __post_init__(self) -> None:
        if self.LIFECYCLE_EVENT not in CODEDEPLOY_EVENTS:
            raise InvalidConfiguration(
                "LIFECYCLE_EVENT",
                f"must be one of {list(CODEDEPLOY_EVENTS)}, got {self.LIFECYCLE_EVENT!r}",
            )


@dataclass(frozen=True)
class EcsNativeHookSettings:
    DEPLOYMENTS_TABLE: str
    HOOK_CONFIG_PARAMETER_PREFIX: str = "/bluegreen/hooks"
    HOOK_TIME_MARGIN_SECONDS: int = 2
    PROBE_ALLOWED_HOSTS: str = ""  # comma-separated (template parameter ProbeAllowedHosts)
    PROBE_ALLOWED_NETWORKS: str = ""  # comma-separated CIDRs (ProbeAllowedNetworks)

    def reach(self) -> ReachPolicy:
        return ReachPolicy.from_settings(self.PROBE_ALLOWED_HOSTS, self.PROBE_ALLOWED_NETWORKS)
