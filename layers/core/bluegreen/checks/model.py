"""What a check receives and what it answers.

A check is a function `(CheckContext) -> CheckResult`. It never reports anything to
CodeDeploy or ECS itself: the hook contracts (`bluegreen.hooks`) and the switch's gates
turn results into a verdict. One vocabulary serves every check, with a reason a person can
act on:

- PASSED: the check holds (the analysis' `pass`);
- FAILED: the check found something wrong (`fail`);
- INCONCLUSIVE: the check cannot say either way, e.g. a metric with no data in its window,
  or a canary that served too few requests to compare (`inconclusive`); never a pass, and
  the caller decides what it means (roll back, or wait for more data where it can);
- PENDING: "not yet" where the contract can wait (a task set still starting, a
  verification window still open).

`bluegreen.checks.verdict` folds results: FAILED over PENDING over INCONCLUSIVE over PASSED.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import clock as wall_clock
from ..errors import BlueGreenError
from .http import HttpTransport, PinnedTransport
from .reach import ReachPolicy


class Outcome(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class CheckResult:
    check: str
    outcome: Outcome
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, check: str, reason: str, **details: Any) -> CheckResult:
        return cls(check, Outcome.PASSED, reason, details)

    @classmethod
    def failed(cls, check: str, reason: str, **details: Any) -> CheckResult:
        return cls(check, Outcome.FAILED, reason, details)

    @classmethod
    def pending(cls, check: str, reason: str, **details: Any) -> CheckResult:
        return cls(check, Outcome.PENDING, reason, details)

    @classmethod
    def inconclusive(cls, check: str, reason: str, **details: Any) -> CheckResult:
        return cls(check, Outcome.INCONCLUSIVE, reason, details)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "outcome": self.outcome.value, "reason": self.reason}

    def as_record(self) -> dict[str, Any]:
        """`as_dict` with the figures the check measured (JSON-ready), for a record."""
        return {**self.as_dict(), "details": self.details}


def deciding(results: list[CheckResult]) -> tuple[Outcome, list[CheckResult]]:
    """The folded outcome of `results` and the results that decide it: FAILED if any
    failed; else PENDING if any can still change by waiting (with the inconclusive ones,
    which more data may settle); else INCONCLUSIVE if any could not decide; else PASSED
    (all of them). An inconclusive result is never folded into a pass."""

    def having(outcome: Outcome) -> list[CheckResult]:
        return [r for r in results if r.outcome is outcome]

    if having(Outcome.FAILED):
        return Outcome.FAILED, having(Outcome.FAILED)
    if having(Outcome.PENDING):
        return Outcome.PENDING, having(Outcome.PENDING) + having(Outcome.INCONCLUSIVE)
    if having(Outcome.INCONCLUSIVE):
        return Outcome.INCONCLUSIVE, having(Outcome.INCONCLUSIVE)
    return Outcome.PASSED, list(results)


class TargetNotReady(BlueGreenError):
    """What a check needs does not exist yet (e.g. no replacement task set before Install)."""


class CheckFailed(BlueGreenError):
    """A check found something definitively wrong; the message says what."""


@dataclass(frozen=True)
class Deadline:
    """A point in (monotonic) time the checks must finish by."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0


@dataclass(frozen=True)
class ReleaseTarget:
    """What is being released, as the hook contract found it.

    `task_set_arn` is set for CodeDeploy (the replacement task set); for ECS-native the
    green revision is identified by its task definition. `test_listeners` and
    `production_listeners` are listener ARNs; `test_host` and `production_host` the host
    the listener rule matches, if any. `blue_target_groups` are the service's other target
    groups (the baseline the comparative analysis judges green against), behind
    `load_balancer_arn`.
    """

    cluster: str
    service: str
    task_definition: str | None = None
    task_set_arn: str | None = None
    green_target_groups: tuple[str, ...] = ()
    test_listeners: tuple[str, ...] = ()
    test_host: str | None = None
    production_listeners: tuple[str, ...] = ()
    production_host: str | None = None
    blue_target_groups: tuple[str, ...] = ()
    load_balancer_arn: str | None = None


@dataclass
class CheckContext:
    """Everything a check may use: clients, configuration, the target, the time left.

    `target` is resolved lazily (a BeforeInstall hook has no replacement task set) and
    cached; `waited_seconds` is how long the hook has already waited (across ECS-native
    re-invocations, or in its verification wait); `shift_started` says, where the platform
    does, when production traffic began to move to green (epoch seconds, `wall_clock`'s).
    """

    clients: Any
    config: Any  # bluegreen.hooks.config.HookConfig (kept untyped to avoid an import cycle)
    resolve_target: Callable[[], ReleaseTarget]
    deadline: Deadline
    transport: HttpTransport = field(default_factory=PinnedTransport)
    reach: ReachPolicy = field(default_factory=ReachPolicy)  # the stack's, never a request's
    wall_clock: Callable[[], float] = wall_clock.now
    waited_seconds: float = 0.0
    waits_for_window: bool = False
    shift_started: Callable[[], float | None] = lambda: None
    _target: ReleaseTarget | None = None

    @property
    def target(self) -> ReleaseTarget:
        if self._target is None:
            self._target = self.resolve_target()
        return self._target
