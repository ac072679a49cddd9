"""The check engine: one for the EC2 switch's gates, the CodeDeploy hooks and the
ECS-native hook.

Every check answers a `CheckResult` in one vocabulary (`Outcome`) with the figures
behind it. The hooks name their checks (`CHECKS`) and run them on a `CheckContext`:
`run_checks(names, ctx)`, then `verdict(results)` folds them into one outcome with a
reason. The EC2 switch calls the same pieces with explicit inputs: `targets.group_health`,
`alarms.alarms_check`, `thresholds.metric_threshold` (an absolute threshold whose "no
data" is INCONCLUSIVE), `probes.run_probes` and `comparative_analysis` (green against blue
in the same window, see `analysis`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .alarms import alarms_hold, preflight
from .analysis import ANALYSIS, Colours, comparative_analysis, release_analysis
from .analysis_config import AnalysisConfig, parse_analysis_config
from .ecs import task_set_steady
from .model import CheckContext, CheckResult, Outcome, TargetNotReady, deciding
from .probes import http_probes, production_probes
from .targets import target_health
from .thresholds import metric_threshold

Check = Callable[[CheckContext], CheckResult]

CHECKS: dict[str, Check] = {
    "preflight": preflight,
    "taskSetSteady": task_set_steady,
    "targetHealth": target_health,
    "httpProbes": http_probes,
    "alarmsHold": alarms_hold,
    "productionProbes": production_probes,
    "comparativeAnalysis": release_analysis,
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
    """One outcome for all results, with the reasons of those that decide it (see
    `model.deciding`); no checks at all is PASSED, saying so."""
    if not results:
        return Outcome.PASSED, "no checks configured for this event"
    outcome, why = deciding(results)
    return outcome, "; ".join(f"{r.check}: {r.reason}" for r in why)


def apply_inconclusive_rule(
    outcome: Outcome, reason: str, results: list[CheckResult], then: str
) -> tuple[Outcome, str]:
    """What an undecided comparative analysis means once nothing can wait any longer: with
    `then` "pass", a verdict left INCONCLUSIVE only by the analysis passes, and says so;
    anything else (a metric with no data, `then` "fail") stays as it is."""
    undecided = [r for r in results if r.outcome is Outcome.INCONCLUSIVE]
    if outcome is not Outcome.INCONCLUSIVE or then != "pass":
        return outcome, reason
    if any(r.check != ANALYSIS for r in undecided):
        return outcome, reason
    return Outcome.PASSED, f"{reason} (passed by rule: whenInconclusive.then is pass)"


__all__ = [
    "apply_inconclusive_rule",
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
