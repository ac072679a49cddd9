"""What the switch's task functions and `settle` need, injected by the handlers (or tests).

One idiom for every function: a settings model read once per cold start
(`bluegreen.wiring`), then this object with lazily created clients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import announce
from .. import clock as wall_clock
from ..checks.http import HttpTransport
from ..checks.reach import ReachPolicy
from ..registry import Registry
from ..store import Deployments
from ..store import hooks as hook_store
from .endings import EndingDeps
from .reaper import ReaperDeps


@dataclass
class SwitchDeps:
    clients: Any  # bluegreen.aws.Clients (or a test double with the same attributes)
    store: Deployments
    announcer: announce.Announcer
    lease_margin_seconds: int = 7200
    clock: Callable[[], float] = wall_clock.now
    reach: ReachPolicy = field(default_factory=ReachPolicy)  # what the stack lets probes reach
    registry: Registry = field(default_factory=Registry)  # what the stack may act on (Plan)
    transport: HttpTransport | None = None  # default: one pinned to the checked address
    table: str = ""
    hook_function_suffix: str = ""
    native_hook_arn: str = ""
    native_hook_role_arn: str = ""

    # the read-only plans use these by name
    @property
    def elbv2(self) -> Any:
        return self.clients.elbv2

    @property
    def cloudwatch(self) -> Any:
        return self.clients.cloudwatch

    @property
    def ecs(self) -> Any:
        return self.clients.ecs

    @property
    def codedeploy(self) -> Any:
        return self.clients.codedeploy

    def endings(self) -> EndingDeps:
        return EndingDeps(
            store=self.store,
            clients=self.clients,
            announcer=lambda: self.announcer,
            verdicts=lambda reference: hook_store.verdicts(
                self.clients.dynamodb, self.table, reference
            ),
            clock=self.clock,
        )

    def reaper(self) -> ReaperDeps:
        """For a task that finds its execution ended: settle at once, never wait (a
        platform still moving is left to the reaper's own retries)."""
        return ReaperDeps(endings=self.endings(), remaining_seconds=lambda: 0.0)

    def renew(self, plan: Mapping[str, Any], ahead_seconds: int) -> int:
        """Renew this switch's lease for what lies ahead (the next wait) plus the margin;
        the ownership check before any write: `OutcomeAlreadyDecided` or `LeaseLost`."""
        until = int(self.clock()) + max(0, int(ahead_seconds)) + self.lease_margin_seconds
        self.store.renew(
            plan["deploymentId"],
            plan["executionArn"],
            plan["locks"],
            plan["request"].get("alarms") or [],
            until,
        )
        return until

    def lease_until(self, ahead_seconds: int) -> int:
        return int(self.clock()) + max(0, int(ahead_seconds)) + self.lease_margin_seconds
