"""Checks shared by the CodeDeploy and the ECS-native hook contracts.

`run_checks(names, ctx)` runs the named checks in order and returns their results;
`verdict(results)` folds them into one outcome with a reason.

The same engine judges a switch's gates with checks that take explicit inputs rather than
a hook context: `comparative_analysis` (green against blue in the same window, see
`analysis`) and `metric_threshold` (an absolute threshold whose "no data" is
INCONCLUSIVE, see `thresholds`). Every check answers a `CheckResult` in one vocabulary
(`Outcome`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .alarms import alarms_hold, preflight
from .analysis import Colours, comparative_analysis
from .analysis_config import AnalysisConfig, parse_analysis_config
from .ecs import task_set_steady
from .model import CheckContext, CheckResult, Outcome, TargetNotReady
from .probes import http_probes
from .targets import target_health
from .thresholds import metric_threshold

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
    """One outcome for all results: FAILED if any failed; else PENDING if any can still
    change by waiting (the reason also names the inconclusive ones, which more data may
    settle); else INCONCLUSIVE if any could not decide; else PASSED. An inconclusive
    result is never folded into a pass."""
    failed = _with(results, Outcome.FAILED)
    if failed:
        return Outcome.FAILED, _reasons(failed)
    pending = _with(results, Outcome.PENDING)
    inconclusive = _with(results, Outcome.INCONCLUSIVE)
    if pending:
        return Outcome.PENDING, _reasons(pending + inconclusive)
    if inconclusive:
        return Outcome.INCONCLUSIVE, _reasons(inconclusive)
    if not results:
        return Outcome.PASSED, "no checks configured for this event"
    return Outcome.PASSED, _reasons(results)


def _with(results: list[CheckResult], outcome: Outcome) -> list[CheckResult]:
    return [r for r in results if r.outcome is outcome]


def _reasons(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.check}: {r.reason}" for r in results)


__all__ = [
    "CHECKS",
    "AnalysisConfig",
    "CheckContext",
    "CheckResult",
    "Colours",
    "Outcome",
    "comparative_analysis",
    "metric_threshold",
    "parse_analysis_config",
    "run_checks",
    "verdict",
]
