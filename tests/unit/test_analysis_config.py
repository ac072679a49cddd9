"""The analysis configuration: its defaults, and every wrong field refused by its full path."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.checks.analysis_config import (
    DEFAULT_ANALYSIS,
    AnalysisConfig,
    fewest_periods,
    parse_analysis_config,
)
from bluegreen.checks.judge import ErrorRateRule
from bluegreen.errors import InvalidInput

pytestmark = pytest.mark.unit

CUSTOM = {
    "id": "checkout",
    "namespace": "Shop",
    "metricName": "CheckoutLatency",
    "stat": "p90",
    "colour": {"dimension": "Release", "green": "v2", "blue": "v1"},
}


def test_no_configuration_means_the_documented_defaults() -> None:
    config = parse_analysis_config(None)
    assert config == DEFAULT_ANALYSIS == parse_analysis_config({})
    assert (config.period_seconds, config.alpha, config.inconclusive_rule) == (60, 0.025, "bound")
    assert config.error_rate == ErrorRateRule(0.5, 0.001, 500, True)
    assert config.latency is not None
    assert config.latency.stats == ("p50", "p99")
    assert (config.latency.relative_tolerance, config.latency.absolute_tolerance) == (0.2, 0.01)
    assert (config.latency.min_periods, config.latency.min_requests_per_period) == (6, 100)


def test_a_configuration_reads_back_from_its_json_shape() -> None:
    # Given a configuration touching every field
    raw = {
        "periodSeconds": 120,
        "alpha": 0.01,
        "inconclusiveRule": "samples",
        "signals": ["latency"],
        "latency": {
            "stats": ["p90", "p99.9"],
            "relativeTolerance": 0.1,
            "absoluteToleranceSeconds": 0.005,
            "minPeriods": 8,
            "minRequestsPerPeriod": 1000,
        },
        "metrics": [{**CUSTOM, "dimensions": {"Service": "web"}, "direction": "decrease"}],
    }

    # When parsed and written back, Then nothing is lost
    config = parse_analysis_config(raw)
    assert config.error_rate is None
    assert parse_analysis_config(config.as_dict()) == config
    assert config.metrics[0].dimensions_for("v2") == [
        {"Name": "Service", "Value": "web"},
        {"Name": "Release", "Value": "v2"},
    ]


def test_min_periods_defaults_to_what_alpha_needs() -> None:
    # With n pairs the smallest signed-rank p-value is 2^-n
    assert [fewest_periods(a) for a in (0.05, 0.025, 0.01, 0.001)] == [5, 6, 7, 10]
    config = parse_analysis_config({"alpha": 0.001})
    assert config.latency is not None and config.latency.min_periods == 10


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ("strict", "analysis", "must be an object, got str"),
        ({"alpah": 0.05}, "analysis.alpah", "is not a field here (typo?)"),
        ({"alpha": 0.5}, "analysis.alpha", "must be a number from 0.001 to 0.2, got 0.5"),
        ({"alpha": True}, "analysis.alpha", "must be a number from 0.001 to 0.2, got True"),
        ({"periodSeconds": 90}, "analysis.periodSeconds", "must be a multiple of 60"),
        (
            {"inconclusiveRule": "never"},
            "analysis.inconclusiveRule",
            "must be one of bound, samples",
        ),
        ({"signals": ["errors"]}, "analysis.signals[0]", "must be one of errorRate, latency"),
        ({"signals": []}, "analysis.signals", "must judge at least one signal"),
        (
            {"signals": ["latency"], "errorRate": {}},
            "analysis.errorRate",
            "is configured but not listed in signals",
        ),
        (
            {"errorRate": {"minRequests": 0}},
            "analysis.errorRate.minRequests",
            "must be a whole number from 1",
        ),
        (
            {"errorRate": {"relativeTolerence": 1}},
            "analysis.errorRate.relativeTolerence",
            "is not a field here",
        ),
        ({"latency": {"stats": ["p100"]}}, "analysis.latency.stats[0]", "must be a percentile"),
        ({"latency": {"stats": ["p99", "p99"]}}, "analysis.latency.stats", "the same percentile"),
        (
            {"latency": {"stats": ["p50", "p90", "p99", "p99.9"]}},
            "analysis.latency.stats",
            "must list 1 to 3 percentiles",
        ),
        (
            {"metrics": [{**CUSTOM, "dimensions": {"A": "1", "B": "2", "C": "3", "D": "4"}}]},
            "analysis.metrics[0].dimensions",
            "must map at most 3 dimension names to values",
        ),
        (
            {"metrics": [{**CUSTOM, "id": f"m{i}"} for i in range(3)]},
            "analysis.metrics",
            "must be a list of at most 2",
        ),
        (
            {"latency": {"minPeriods": 5}},
            "analysis.latency.minPeriods",
            "must be at least 6 for alpha 0.025: with fewer periods the signed-rank test can "
            "never reach significance",
        ),
        (
            {"metrics": [{**CUSTOM, "colour": None}]},
            "analysis.metrics[0].colour",
            "must be an object",
        ),
        (
            {"metrics": [{k: v for k, v in CUSTOM.items() if k != "colour"}]},
            "analysis.metrics[0].colour",
            "is required",
        ),
        (
            {
                "metrics": [
                    {**CUSTOM, "colour": {"dimension": "Release", "green": "v1", "blue": "v1"}}
                ]
            },
            "analysis.metrics[0].colour",
            "green and blue must be different values",
        ),
        (
            {"metrics": [{**CUSTOM, "dimensions": {"Release": "v1"}}]},
            "analysis.metrics[0].dimensions.Release",
            "is the colour dimension",
        ),
        ({"metrics": [{**CUSTOM, "stat": "Median"}]}, "analysis.metrics[0].stat", "must be one of"),
        ({"metrics": [CUSTOM, CUSTOM]}, "analysis.metrics[1].id", "'checkout' is used twice"),
        (
            {"metrics": [{**CUSTOM, "direction": "up"}]},
            "analysis.metrics[0].direction",
            "must be one of increase, decrease",
        ),
    ],
)
def test_a_wrong_field_is_refused_by_its_full_path(raw: Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_analysis_config(raw)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_the_caller_names_where_the_configuration_sits() -> None:
    with pytest.raises(InvalidInput, match=r"^config\.analysis\.latency\.minPeriods: "):
        parse_analysis_config({"latency": {"minPeriods": 2}}, "config.analysis")


def test_a_configuration_is_a_plain_value() -> None:
    # Frozen: a parsed configuration can be shared between checks without copying
    config: AnalysisConfig = parse_analysis_config({})
    with pytest.raises(AttributeError):
        config.alpha = 0.5  # type: ignore[misc]
