"""The comparative analysis' configuration: one validated model, its defaults, its parser.

`parse_analysis_config(raw, where)` checks every field of a JSON object and answers an
`AnalysisConfig`; a wrong or unknown field is an `InvalidInput` naming its full path
(`<where>.latency.minPeriods`) and the reason, so a typo never switches a signal off.
The schema, the defaults and why they are what they are: docs/analysis.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from .judge import DIRECTIONS, INCONCLUSIVE_RULES, ErrorRateRule, LevelRule

SIGNALS = ("errorRate", "latency")
PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,3})?)$")
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
METRIC_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")
MAX_CUSTOM_METRICS = 2  # each custom metric is a signal every gate entry records
MAX_PERCENTILES = 3
MAX_DIMENSIONS = 3  # shared dimensions per custom metric (the request travels in every state)


@dataclass(frozen=True)
class LatencyRule:
    """TargetResponseTime percentiles, per period, green against blue."""

    stats: tuple[str, ...] = ("p50", "p99")
    relative_tolerance: float = 0.2
    absolute_tolerance: float = 0.010  # seconds
    min_periods: int = 6
    min_requests_per_period: int = 100  # a period counts only if each colour served this many

    def level_rule(self) -> LevelRule:
        return LevelRule(self.relative_tolerance, self.absolute_tolerance, self.min_periods)


@dataclass(frozen=True)
class CustomMetric:
    """A metric of the caller's, with a dimension whose value tells the colours apart."""

    id: str
    namespace: str
    metric_name: str
    stat: str
    colour_dimension: str
    green_value: str
    blue_value: str
    dimensions: tuple[tuple[str, str], ...] = ()
    rule: LevelRule = field(default_factory=LevelRule)

    def dimensions_for(self, colour_value: str) -> list[dict[str, str]]:
        shared = [{"Name": k, "Value": v} for k, v in self.dimensions]
        return [*shared, {"Name": self.colour_dimension, "Value": colour_value}]


@dataclass(frozen=True)
class AnalysisConfig:
    period_seconds: int = 60
    alpha: float = 0.025
    inconclusive_rule: str = "bound"
    error_rate: ErrorRateRule | None = field(default_factory=ErrorRateRule)
    latency: LatencyRule | None = field(default_factory=LatencyRule)
    metrics: tuple[CustomMetric, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The configuration in its JSON shape (`parse_analysis_config` reads it back)."""
        doc: dict[str, Any] = {
            "periodSeconds": self.period_seconds,
            "alpha": self.alpha,
            "inconclusiveRule": self.inconclusive_rule,
            "signals": [
                s for s, on in zip(SIGNALS, (self.error_rate, self.latency), strict=True) if on
            ],
        }
        if self.error_rate:
            rule = self.error_rate
            doc["errorRate"] = {
                "relativeTolerance": rule.relative_tolerance,
                "absoluteTolerance": rule.absolute_tolerance,
                "minRequests": rule.min_requests,
                "countConnectionErrors": rule.count_connection_errors,
            }
        if self.latency:
            latency = self.latency
            doc["latency"] = {
                "stats": list(latency.stats),
                "relativeTolerance": latency.relative_tolerance,
                "absoluteToleranceSeconds": latency.absolute_tolerance,
                "minPeriods": latency.min_periods,
                "minRequestsPerPeriod": latency.min_requests_per_period,
            }
        if self.metrics:
            doc["metrics"] = [_custom_as_dict(m) for m in self.metrics]
        return doc


DEFAULT_ANALYSIS = AnalysisConfig()

_TOP = {"periodSeconds", "alpha", "inconclusiveRule", "signals", "errorRate", "latency", "metrics"}
_ERROR_RATE = {"relativeTolerance", "absoluteTolerance", "minRequests", "countConnectionErrors"}
_LATENCY = {
    "stats", "relativeTolerance", "absoluteToleranceSeconds", "minPeriods",
    "minRequestsPerPeriod",
}  # fmt: skip
_CUSTOM = {
    "id", "namespace", "metricName", "stat", "dimensions", "colour", "direction",
    "relativeTolerance", "absoluteTolerance", "minPeriods",
}  # fmt: skip


def parse_analysis_config(raw: Any, where: str = "analysis") -> AnalysisConfig:
    """Validate a configuration object (None: the defaults)."""
    if raw is None:
        return DEFAULT_ANALYSIS
    doc = _object(raw, where, _TOP)
    period = _integer(doc, "periodSeconds", where, 60, 60, 3600)
    if period % 60:
        raise InvalidInput(f"{where}.periodSeconds", "must be a multiple of 60 (ALB metrics)")
    alpha = _number(doc, "alpha", where, 0.025, 0.001, 0.2)
    inconclusive_rule = _choice(doc, "inconclusiveRule", where, "bound", INCONCLUSIVE_RULES)
    signals = _signals(doc, where)
    error_rate = _error_rate(doc, where) if "errorRate" in signals else None
    latency = _latency(doc, where, alpha) if "latency" in signals else None
    metrics = _metrics(doc, where, alpha)
    if error_rate is None and latency is None and not metrics:
        raise InvalidInput(f"{where}.signals", "the analysis must judge at least one signal")
    return AnalysisConfig(period, alpha, inconclusive_rule, error_rate, latency, metrics)


def _signals(doc: Mapping[str, Any], where: str) -> tuple[str, ...]:
    raw = doc.get("signals", list(SIGNALS))
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise InvalidInput(f"{where}.signals", f"must be a list of {', '.join(SIGNALS)}")
    for index, name in enumerate(raw):
        if name not in SIGNALS:
            raise InvalidInput(f"{where}.signals[{index}]", f"must be one of {', '.join(SIGNALS)}")
    for section in SIGNALS:
        if section in doc and section not in raw:
            raise InvalidInput(f"{where}.{section}", "is configured but not listed in signals")
    return tuple(raw)


def _error_rate(doc: Mapping[str, Any], where: str) -> ErrorRateRule:
    path = f"{where}.errorRate"
    section = _object(doc.get("errorRate", {}), path, _ERROR_RATE)
    return ErrorRateRule(
        relative_tolerance=_number(section, "relativeTolerance", path, 0.5, 0.0, 100.0),
        absolute_tolerance=_number(section, "absoluteTolerance", path, 0.001, 0.0, 1.0),
        min_requests=_integer(section, "minRequests", path, 500, 1, 10**9),
        count_connection_errors=_boolean(section, "countConnectionErrors", path, True),
    )


def _latency(doc: Mapping[str, Any], where: str, alpha: float) -> LatencyRule:
    path = f"{where}.latency"
    section = _object(doc.get("latency", {}), path, _LATENCY)
    raw_stats = section.get("stats", ["p50", "p99"])
    if not isinstance(raw_stats, list) or not 1 <= len(raw_stats) <= MAX_PERCENTILES:
        raise InvalidInput(
            f"{path}.stats", f"must list 1 to {MAX_PERCENTILES} percentiles (like p50, p99)"
        )
    for index, stat in enumerate(raw_stats):
        if not isinstance(stat, str) or not PERCENTILE.match(stat):
            raise InvalidInput(
                f"{path}.stats[{index}]", f"must be a percentile like p99, got {stat!r}"
            )
    if len(set(raw_stats)) != len(raw_stats):
        raise InvalidInput(f"{path}.stats", "lists the same percentile twice")
    return LatencyRule(
        stats=tuple(raw_stats),
        relative_tolerance=_number(section, "relativeTolerance", path, 0.2, 0.0, 100.0),
        absolute_tolerance=_number(section, "absoluteToleranceSeconds", path, 0.010, 0.0, 60.0),
        min_periods=_min_periods(section, path, alpha),
        min_requests_per_period=_integer(section, "minRequestsPerPeriod", path, 100, 1, 10**9),
    )


def _min_periods(section: Mapping[str, Any], path: str, alpha: float) -> int:
    # With n pairs the signed-rank test's smallest p-value is 2^-n: fewer pairs than that
    # could never fail a regression nor pass a release, whatever the data.
    needed = fewest_periods(alpha)
    periods = _integer(section, "minPeriods", path, max(6, needed), 1, 1440)
    if periods < needed:
        raise InvalidInput(
            f"{path}.minPeriods",
            f"must be at least {needed} for alpha {alpha:g}: with fewer periods the "
            "signed-rank test can never reach significance",
        )
    return periods


def fewest_periods(alpha: float) -> int:
    """The fewest pairs with which the one-sided signed-rank test can reach `alpha`."""
    return math.ceil(math.log2(1 / alpha) - 1e-12)


def _metrics(doc: Mapping[str, Any], where: str, alpha: float) -> tuple[CustomMetric, ...]:
    raw = doc.get("metrics", [])
    if not isinstance(raw, list) or len(raw) > MAX_CUSTOM_METRICS:
        raise InvalidInput(f"{where}.metrics", f"must be a list of at most {MAX_CUSTOM_METRICS}")
    metrics = tuple(_custom(item, f"{where}.metrics[{i}]", alpha) for i, item in enumerate(raw))
    ids = [m.id for m in metrics]
    for index, metric_id in enumerate(ids):
        if ids.index(metric_id) != index:
            raise InvalidInput(f"{where}.metrics[{index}].id", f"{metric_id!r} is used twice")
    return metrics


def _custom(raw: Any, path: str, alpha: float) -> CustomMetric:
    item = _object(raw, path, _CUSTOM)
    for key in ("id", "namespace", "metricName", "stat", "colour"):
        if key not in item:
            raise InvalidInput(f"{path}.{key}", "is required")
    metric_id = _text(item, "id", path)
    if not METRIC_ID.match(metric_id):
        raise InvalidInput(f"{path}.id", "must be letters, digits, - or _ (starting with a letter)")
    stat = _text(item, "stat", path)
    if stat not in STATISTICS and not PERCENTILE.match(stat):
        raise InvalidInput(f"{path}.stat", f"must be one of {', '.join(STATISTICS)} or pNN")
    colour = _object(item["colour"], f"{path}.colour", {"dimension", "green", "blue"})
    for key in ("dimension", "green", "blue"):
        if key not in colour:
            raise InvalidInput(f"{path}.colour.{key}", "is required")
    dimension = _text(colour, "dimension", f"{path}.colour")
    green, blue = _text(colour, "green", f"{path}.colour"), _text(colour, "blue", f"{path}.colour")
    if green == blue:
        raise InvalidInput(f"{path}.colour", "green and blue must be different values")
    dimensions = _dimensions(item.get("dimensions", {}), f"{path}.dimensions", dimension)
    return CustomMetric(
        id=metric_id,
        namespace=_text(item, "namespace", path),
        metric_name=_text(item, "metricName", path),
        stat=stat,
        colour_dimension=dimension,
        green_value=green,
        blue_value=blue,
        dimensions=dimensions,
        rule=LevelRule(
            relative_tolerance=_number(item, "relativeTolerance", path, 0.2, 0.0, 100.0),
            absolute_tolerance=_number(item, "absoluteTolerance", path, 0.0, 0.0, 1e12),
            min_periods=_min_periods(item, path, alpha),
            direction=_choice(item, "direction", path, "increase", DIRECTIONS),
        ),
    )


def _dimensions(raw: Any, path: str, colour_dimension: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping) or len(raw) > MAX_DIMENSIONS:
        raise InvalidInput(path, f"must map at most {MAX_DIMENSIONS} dimension names to values")
    for name, value in raw.items():
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{path}.{name}", "must be a non-empty string")
    if colour_dimension in raw:
        raise InvalidInput(
            f"{path}.{colour_dimension}", "is the colour dimension; give it only in colour"
        )
    return tuple(sorted(raw.items()))


def _custom_as_dict(metric: CustomMetric) -> dict[str, Any]:
    return {
        "id": metric.id,
        "namespace": metric.namespace,
        "metricName": metric.metric_name,
        "stat": metric.stat,
        "dimensions": dict(metric.dimensions),
        "colour": {
            "dimension": metric.colour_dimension,
            "green": metric.green_value,
            "blue": metric.blue_value,
        },
        "direction": metric.rule.direction,
        "relativeTolerance": metric.rule.relative_tolerance,
        "absoluteTolerance": metric.rule.absolute_tolerance,
        "minPeriods": metric.rule.min_periods,
    }


# -- field readers: each names the full path of what it refuses ------------------------------
def _object(raw: Any, path: str, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(path, f"must be an object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidInput(f"{path}.{unknown[0]}", "is not a field here (typo?)")
    return raw


def _number(
    doc: Mapping[str, Any], key: str, path: str, default: float, low: float, high: float
) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(
            f"{path}.{key}", f"must be a number from {low:g} to {high:g}, got {value!r}"
        )
    return float(value)


def _integer(doc: Mapping[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{path}.{key}", f"must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


def _boolean(doc: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{path}.{key}", f"must be true or false, got {value!r}")
    return value


def _choice(
    doc: Mapping[str, Any], key: str, path: str, default: str, choices: tuple[str, ...]
) -> str:
    value = doc.get(key, default)
    if value not in choices:
        raise InvalidInput(f"{path}.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _text(doc: Mapping[str, Any], key: str, path: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value or len(value) > 255:
        raise InvalidInput(f"{path}.{key}", "must be a non-empty string of at most 255 characters")
    return value
