"""Comparative analysis: green judged against blue over the same window, from the ALB's
per-target-group metrics (and custom metrics with a dimension telling the colours apart).

`comparative_analysis(cloudwatch, colours, start, end, config)` trims the window to whole
periods, reads every figure of both colours with one paginated GetMetricData sequence,
judges each signal (`judge`) and folds them: FAILED if any signal failed, INCONCLUSIVE if
any could not decide, PASSED only if every signal passed. The result's `details` hold the
window, the configuration's test level and rule, and per signal the figures of both
colours, the sample sizes, the test, its statistic and p-value, the tolerance and the
confidence bound. Nothing here reads the clock or the environment: the caller gives the
window (see docs/analysis.md for what to give).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidInput
from .analysis_config import DEFAULT_ANALYSIS, AnalysisConfig, CustomMetric
from .judge import Counts, SignalVerdict, judge_error_rate, judge_levels
from .metrics import (
    ALB_NAMESPACE,
    Series,
    alb_dimensions,
    load_balancer_dimension,
    read_series,
    stat_query,
    target_group_dimension,
    whole_periods,
)
from .model import CheckContext, CheckResult, Outcome

ANALYSIS = "comparativeAnalysis"
MAX_PERIODS = 720  # a window longer than this many periods wants a longer periodSeconds
COLOURS = ("green", "blue")


@dataclass(frozen=True)
class Colours:
    """What is compared: two target groups behind one Application Load Balancer."""

    load_balancer_arn: str
    green_target_group_arn: str
    blue_target_group_arn: str

    def dimensions(self) -> dict[str, list[dict[str, str]]]:
        load_balancer = load_balancer_dimension(self.load_balancer_arn)
        green = target_group_dimension(self.green_target_group_arn, "greenTargetGroupArn")
        blue = target_group_dimension(self.blue_target_group_arn, "blueTargetGroupArn")
        if green == blue:
            raise InvalidInput(
                "greenTargetGroupArn", "is the blue target group: nothing to compare"
            )
        return {
            "green": alb_dimensions(green, load_balancer),
            "blue": alb_dimensions(blue, load_balancer),
        }


def comparative_analysis(
    cloudwatch: Any,
    colours: Colours,
    start: datetime,
    end: datetime,
    config: AnalysisConfig = DEFAULT_ANALYSIS,
) -> CheckResult:
    """Judge green against blue over [start, end) (trimmed to whole periods)."""
    period = config.period_seconds
    first, last = whole_periods(start, end, period)
    periods = int((last - first).total_seconds()) // period
    details: dict[str, Any] = {
        "window": {
            "start": first.isoformat(),
            "end": last.isoformat(),
            "periodSeconds": period,
            "periods": periods,
        },
        "greenTargetGroupArn": colours.green_target_group_arn,
        "blueTargetGroupArn": colours.blue_target_group_arn,
        "loadBalancerArn": colours.load_balancer_arn,
        "alpha": config.alpha,
        "inconclusiveRule": config.inconclusive_rule,
    }
    queries = _queries(colours, config)
    if periods > MAX_PERIODS:
        raise InvalidInput(
            "window", f"{periods} periods of {period}s; at most {MAX_PERIODS} (use a longer period)"
        )
    if periods == 0:
        return CheckResult.inconclusive(
            ANALYSIS,
            f"the window {start.isoformat()} to {end.isoformat()} holds no whole {period}s "
            "period yet: nothing to compare",
            **details,
            signals=[],
        )
    series = read_series(cloudwatch, queries, first, last)
    verdicts = _judge(series, config)
    outcome, reason = _fold(verdicts)
    return CheckResult(
        ANALYSIS, outcome, reason, {**details, "signals": [v.as_dict() for v in verdicts]}
    )


# -- what is read ------------------------------------------------------------------------
def _queries(colours: Colours, config: AnalysisConfig) -> list[dict[str, Any]]:
    dims = colours.dimensions()
    period = config.period_seconds
    queries = []
    for colour in COLOURS:

        def alb(query: str, metric: str, stat: str, colour: str = colour) -> dict[str, Any]:
            return stat_query(f"{colour}{query}", ALB_NAMESPACE, metric, dims[colour], period, stat)

        queries.append(alb("Requests", "RequestCount", "Sum"))
        if config.error_rate:
            queries.append(alb("Errors", "HTTPCode_Target_5XX_Count", "Sum"))
            if config.error_rate.count_connection_errors:
                queries.append(alb("ConnectionErrors", "TargetConnectionErrorCount", "Sum"))
        if config.latency:
            for index, stat in enumerate(config.latency.stats):
                queries.append(alb(f"Latency{index}", "TargetResponseTime", stat))
        for index, metric in enumerate(config.metrics):
            value = metric.green_value if colour == "green" else metric.blue_value
            queries.append(
                stat_query(
                    f"custom{index}{colour.title()}",
                    metric.namespace,
                    metric.metric_name,
                    metric.dimensions_for(value),
                    period,
                    metric.stat,
                )
            )
    return queries


# -- how it is judged --------------------------------------------------------------------
def _judge(series: dict[str, Series], config: AnalysisConfig) -> list[SignalVerdict]:
    verdicts = []
    if config.error_rate:
        rule = config.error_rate

        def counts(colour: str) -> Counts:
            errors = sum(series[f"{colour}Errors"].values())
            if rule.count_connection_errors:
                errors += sum(series[f"{colour}ConnectionErrors"].values())
            return Counts(round(sum(series[f"{colour}Requests"].values())), round(errors))

        verdicts.append(
            judge_error_rate(
                counts("green"), counts("blue"), rule, config.alpha, config.inconclusive_rule
            )
        )
    if config.latency:
        verdicts += _latency(series, config)
    for index, metric in enumerate(config.metrics):
        verdicts.append(_custom(series, index, metric, config))
    return verdicts


def _latency(series: dict[str, Series], config: AnalysisConfig) -> list[SignalVerdict]:
    latency = config.latency
    assert latency is not None
    busy = latency.min_requests_per_period

    def served(colour: str, when: int) -> bool:
        return series[f"{colour}Requests"].get(when, 0.0) >= busy

    verdicts = []
    for index, stat in enumerate(latency.stats):
        green, blue = series[f"greenLatency{index}"], series[f"blueLatency{index}"]
        both = sorted(set(green) & set(blue))
        kept = [t for t in both if served("green", t) and served("blue", t)]
        verdict = judge_levels(
            f"latency{stat.upper()}",
            f"{stat} latency",
            [(green[t], blue[t]) for t in kept],
            latency.level_rule(),
            config.alpha,
            config.inconclusive_rule,
            unit="s",
        )
        dropped = len(both) - len(kept)
        verdicts.append(_note_dropped(verdict, dropped, busy))
    return verdicts


def _note_dropped(verdict: SignalVerdict, dropped: int, busy: int) -> SignalVerdict:
    extra = {**verdict.extra, "periodsBelowMinRequests": dropped}
    reason = verdict.reason
    if dropped and verdict.outcome is Outcome.INCONCLUSIVE:
        reason += f" ({dropped} period(s) left out: a colour served fewer than {busy} requests)"
    return dataclasses.replace(verdict, reason=reason, extra=extra)


def _custom(
    series: dict[str, Series], index: int, metric: CustomMetric, config: AnalysisConfig
) -> SignalVerdict:
    green, blue = series[f"custom{index}Green"], series[f"custom{index}Blue"]
    both = sorted(set(green) & set(blue))
    return judge_levels(
        metric.id,
        f"{metric.id} ({metric.metric_name} {metric.stat})",
        [(green[t], blue[t]) for t in both],
        metric.rule,
        config.alpha,
        config.inconclusive_rule,
    )


def _fold(verdicts: list[SignalVerdict]) -> tuple[Outcome, str]:
    def having(outcome: Outcome) -> Callable[[SignalVerdict], bool]:
        return lambda v: v.outcome is outcome

    for outcome in (Outcome.FAILED, Outcome.INCONCLUSIVE):
        chosen = list(filter(having(outcome), verdicts))
        if chosen:
            return outcome, "; ".join(v.reason for v in chosen)
    return Outcome.PASSED, "; ".join(v.reason for v in verdicts)


# -- the hooks' check ------------------------------------------------------------------------
def release_analysis(ctx: CheckContext) -> CheckResult:
    """The hooks' `comparativeAnalysis`: the release's green target group against the
    service's other (blue) one, from when production traffic began to move to now.

    Where the contract can wait (ECS-native), nothing is read until the verification
    window has passed: one judgement of the whole window, not a peek at each callback."""
    config = ctx.config.analysis or DEFAULT_ANALYSIS
    window = ctx.config.window_seconds
    if ctx.waits_for_window and ctx.waited_seconds < window:
        return CheckResult.pending(
            ANALYSIS,
            f"judged once the verification window passed: {ctx.waited_seconds:.0f}s of {window}s",
        )
    target = ctx.target
    if not (target.green_target_groups and target.blue_target_groups and target.load_balancer_arn):
        return CheckResult.failed(
            ANALYSIS,
            "cannot compare: the release's green and blue target groups behind one load "
            "balancer were not found",
            green=list(target.green_target_groups),
            blue=list(target.blue_target_groups),
        )
    end = ctx.wall_clock()
    start = ctx.shift_started() or (end - max(window, ctx.waited_seconds))
    colours = Colours(
        target.load_balancer_arn, target.green_target_groups[0], target.blue_target_groups[0]
    )
    return comparative_analysis(
        ctx.clients.cloudwatch,
        colours,
        datetime.fromtimestamp(start, UTC),
        datetime.fromtimestamp(end, UTC),
        config,
    )
