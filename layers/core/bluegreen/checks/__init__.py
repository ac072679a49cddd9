"""Checks shared by the CodeDeploy and the ECS-native hook contracts.

`run_checks(names, ctx)` runs the named checks in order and returns their results;
`verdict(results)` folds them into one outcome with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .alarms import alarms_hold, preflight
from .ecs import task_set_steady
from .model import CheckContext, CheckResult, Outcome, TargetNotReady
from .probes import http_probes
from .targets import target_health

Check = Callable[[CheckContext], CheckResult]

CHECKS: dict[str, Check] = {
    "preflight": preflight,
    "taskSetSteady": task_set_steady,
    "targetHealth": target_health,
    "httpProbes": http_probes,
    "alarmsHold": alarms_hold,
}


def run_checks(names: Iterable[str], ctx: CheckContext) -> list[CheckResult]:
    """Run each check; a check whose target does not exist yet fails with the reason."""
    results = []
    for name in names:
        try:
            results.append(CHECKS[name](ctx))
        except TargetNotReady as missing:
            results.append(CheckResult.failed(name, str(missing)))
    return results


def verdict(results: list[CheckResult]) -> tuple[Outcome, str]:
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    if failed:
        return Outcome.FAILED, "; ".join(f"{r.check}: {r.reason}" for r in failed)
    pending = [r for r in results if r.outcome is Outcome.PENDING]
    if pending:
        return Outcome.PENDING, "; ".join(f"{r.check}: {r.reason}" for r in pending)
    if not results:
        return Outcome.PASSED, "no checks configured for this event"
    return Outcome.PASSED, "; ".join(f"{r.check}: {r.reason}" for r in results)


__all__ = ["CHECKS", "CheckContext", "CheckResult", "Outcome", "run_checks", "verdict"]
