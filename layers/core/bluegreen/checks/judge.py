"""One signal's verdict, green against blue: the decision rules on top of `stats`.

A signal is judged with a one-sided test at level `alpha` and a practical tolerance (the
excess of green over blue that nobody would roll back for: the larger of a fraction of
blue's value and an absolute floor):

- **fail** when green is significantly worse than blue (p < alpha) *and* its observed
  excess is beyond the tolerance: statistically and practically significant;
- **pass** only with enough samples *and*, under the default inconclusive rule `bound`,
  when the (1 - alpha) upper confidence bound of green's excess is within the tolerance:
  the data show that any regression is one we tolerate. Under the rule `samples`, enough
  samples and no failure pass (the classic canary judge: no significant degradation);
- **inconclusive** otherwise: too few samples, or (rule `bound`) data that cannot yet
  rule out a regression beyond the tolerance.

A fail needs no minimum sample: the tests are exact (or conservative) at any size, so a
canary failing half of forty requests fails; a pass always needs the minimum.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import stats
from .model import Outcome

INCONCLUSIVE_RULES = ("bound", "samples")
DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True)
class ErrorRateRule:
    relative_tolerance: float = 0.5  # green may exceed blue's ratio by half of it...
    absolute_tolerance: float = 0.001  # ...or by 0.1 percentage point, whichever is larger
    min_requests: int = 500  # per colour, before anything can pass
    count_connection_errors: bool = True  # TargetConnectionErrorCount counts as an error


@dataclass(frozen=True)
class LevelRule:
    """How a per-period level (a latency percentile, a custom metric) is judged."""

    relative_tolerance: float = 0.2
    absolute_tolerance: float = 0.0
    min_periods: int = 6  # periods with data for both colours, before anything can pass
    direction: str = "increase"  # which way is worse


@dataclass(frozen=True)
class Counts:
    requests: int
    errors: int


@dataclass(frozen=True)
class SignalVerdict:
    """A signal's outcome with every figure behind it (JSON-ready through `as_dict`)."""

    signal: str
    outcome: Outcome
    reason: str
    test: str
    green: dict[str, Any]
    blue: dict[str, Any]
    samples: dict[str, int]
    statistic: float | None = None
    p_value: float | None = None
    tolerance: float | None = None  # the excess green is allowed
    excess: float | None = None  # green's observed (or estimated) excess over blue
    upper_bound: float | None = None  # (1 - alpha) upper confidence bound of the excess
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "test": self.test,
            "statistic": self.statistic,
            "pValue": self.p_value,
            "green": self.green,
            "blue": self.blue,
            "samples": self.samples,
            "tolerance": self.tolerance,
            "excess": self.excess,
            "upperBound": self.upper_bound,
            **self.extra,
        }


# -- error rate ---------------------------------------------------------------------------
FISHER = "Fisher exact test (one-sided)"


def judge_error_rate(
    green: Counts, blue: Counts, rule: ErrorRateRule, alpha: float, inconclusive_rule: str = "bound"
) -> SignalVerdict:
    """Green's error ratio against blue's over the same window."""
    g, b = _proportion(green), _proportion(blue)
    green_figures, blue_figures = _rate_figures(g), _rate_figures(b)
    samples = {"green": g[1], "blue": b[1]}
    text = f"green 5xx {_rate_text(g)} vs blue {_rate_text(b)}"
    if not g[1] or not b[1]:
        idle = "green" if not g[1] else "blue"
        return SignalVerdict(
            "errorRate",
            Outcome.INCONCLUSIVE,
            f"{text}: no request reached {idle} in the window, nothing to compare",
            FISHER,
            green=green_figures,
            blue=blue_figures,
            samples=samples,
        )
    rate_g, rate_b = g[0] / g[1], b[0] / b[1]
    p_value = stats.fisher_greater(g[0], g[1], b[0], b[1])
    _, upper = stats.newcombe_interval(g[0], g[1], b[0], b[1], stats.normal_quantile(1 - alpha))
    allowed = max(rule.relative_tolerance * rate_b, rule.absolute_tolerance)
    excess = rate_g - rate_b
    evidence = f"p{_p_text(p_value)}, {FISHER}"
    bound = f"up to {_pp(upper)} at {_confidence(alpha)}, {_pp(allowed)} allowed"
    why = _decide(
        worse=p_value < alpha and excess > allowed,
        enough=min(g[1], b[1]) >= rule.min_requests,
        shown=upper <= allowed,
        inconclusive_rule=inconclusive_rule,
    )
    reason = {
        "worse": f"worse beyond tolerance ({_pp(excess)}, {_pp(allowed)} allowed)",
        "shown": f"within tolerance ({bound})",
        "few": f"too few requests to pass (need {rule.min_requests} per colour)",
        "unshown": f"cannot rule out a regression yet ({bound})",
    }[why]
    expected = (g[0] + b[0]) * g[1] / (g[1] + b[1])
    return SignalVerdict(
        "errorRate",
        _OUTCOMES[why],
        f"{text}: {reason}, {evidence}",
        FISHER,
        samples=samples,
        statistic=float(g[0]),
        p_value=p_value,
        tolerance=allowed,
        excess=excess,
        upper_bound=upper,
        extra={"expectedGreenErrorsIfEqual": expected},
        green=green_figures,
        blue=blue_figures,
    )


def _proportion(counts: Counts) -> tuple[int, int]:
    """(errors, requests) as whole numbers; more errors than requests (connection errors
    counted apart) makes every request an error rather than a ratio above one."""
    errors = max(0, round(counts.errors))
    return errors, max(round(counts.requests), errors)


def _rate_figures(counts: tuple[int, int]) -> dict[str, Any]:
    errors, requests = counts
    return {
        "requests": requests,
        "errors": errors,
        "ratio": errors / requests if requests else None,
    }


def _rate_text(counts: tuple[int, int]) -> str:
    errors, requests = counts
    ratio = _percent(errors / requests) if requests else "-"
    return f"{ratio} ({errors}/{requests})"


# -- levels (latency percentiles, custom metrics) ---------------------------------------------
SIGNED_RANK = "Wilcoxon signed-rank test on per-period pairs (one-sided)"


def judge_levels(
    signal: str,
    label: str,
    pairs: Sequence[tuple[float, float]],
    rule: LevelRule,
    alpha: float,
    inconclusive_rule: str = "bound",
    unit: str = "",
) -> SignalVerdict:
    """Per-period (green, blue) values over the same periods: is green worse?"""
    n = len(pairs)
    samples = {"periods": n}
    if not n:
        return SignalVerdict(
            signal,
            Outcome.INCONCLUSIVE,
            f"{label}: no period with data for both colours, nothing to compare",
            SIGNED_RANK,
            green={"median": None},
            blue={"median": None},
            samples=samples,
        )
    sign = 1.0 if rule.direction == "increase" else -1.0
    green_median = statistics.median(g for g, _ in pairs)
    blue_median = statistics.median(b for _, b in pairs)
    differences = [sign * (g - b) for g, b in pairs]
    test = stats.signed_rank_greater(differences)
    shift = stats.hodges_lehmann(differences)
    upper = stats.shift_upper_bound(differences, alpha)
    allowed = max(rule.relative_tolerance * abs(blue_median), rule.absolute_tolerance)
    text = (
        f"{label} green {_value(green_median, unit)} vs blue {_value(blue_median, unit)} "
        f"(medians of {n} period{'s' if n != 1 else ''})"
    )
    word = "worse" if rule.direction == "increase" else "lower"
    bound = (
        f"at most {_value(upper, unit, signed=True)} at {_confidence(alpha)}"
        if upper is not None
        else f"too few periods to bound at {_confidence(alpha)}"
    )
    why = _decide(
        worse=test.p_value < alpha and shift > allowed,
        enough=n >= rule.min_periods,
        shown=upper is not None and upper <= allowed,
        inconclusive_rule=inconclusive_rule,
    )
    allowance = f"{_value(allowed, unit)} allowed"
    reason = {
        "worse": f"{word} by {_value(shift, unit)} (Hodges-Lehmann), {allowance}",
        "shown": f"within tolerance ({bound}, {allowance})",
        "few": f"too few periods to pass (need {rule.min_periods})",
        "unshown": f"cannot rule out a regression yet ({bound}, {allowance})",
    }[why]
    return SignalVerdict(
        signal,
        _OUTCOMES[why],
        f"{text}: {reason}, p{_p_text(test.p_value)}, {SIGNED_RANK}",
        SIGNED_RANK,
        green={"median": green_median, "values": [g for g, _ in pairs]},
        blue={"median": blue_median, "values": [b for _, b in pairs]},
        samples=samples,
        statistic=test.statistic,
        p_value=test.p_value,
        tolerance=allowed,
        excess=shift,
        upper_bound=upper,
        extra={"direction": rule.direction, "method": test.method},
    )


# -- the shared rule ------------------------------------------------------------------------
_OUTCOMES = {
    "worse": Outcome.FAILED,
    "few": Outcome.INCONCLUSIVE,
    "shown": Outcome.PASSED,
    "unshown": Outcome.INCONCLUSIVE,
}


def _decide(*, worse: bool, enough: bool, shown: bool, inconclusive_rule: str) -> str:
    """Which case of the three-way rule in the module docstring holds (see `_OUTCOMES`)."""
    if worse:
        return "worse"
    if not enough:
        return "few"
    if inconclusive_rule == "samples" or shown:
        return "shown"
    return "unshown"


# -- how figures read ---------------------------------------------------------------------
def _significant(value: float, digits: int = 2) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def _percent(rate: float) -> str:
    return f"{_significant(rate * 100)}%"


def _pp(difference: float) -> str:
    sign = "+" if difference >= 0 else "-"
    return f"{sign}{_significant(abs(difference) * 100)} pp"


def _p_text(p_value: float) -> str:
    return "<0.001" if p_value < 0.001 else f"={_significant(p_value)}"


def _confidence(alpha: float) -> str:
    return f"{_significant((1 - alpha) * 100, 3).rstrip('0').rstrip('.')}%"


def _value(value: float, unit: str, signed: bool = False) -> str:
    sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
    magnitude = abs(value)
    if unit == "s":
        if magnitude >= 1:
            return f"{sign}{_significant(magnitude, 3)} s"
        return f"{sign}{_significant(magnitude * 1000, 3)} ms"
    return f"{sign}{magnitude:.4g}{unit}"
