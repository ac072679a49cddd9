"""How often the analysis is wrong: the false-failure rate on equal colours and the
detection power on regressions of known sizes, measured over many seeded runs with the
default configuration.

The fast test runs a few hundred runs of the headline cases; the `slow` sweep runs 2,000
of every case and checks that docs/analysis.md shows exactly its figures (regenerate them
with `python -m tests.unit.test_analysis_error_rates`).
"""

from __future__ import annotations

import math
import random
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bluegreen.checks import Colours, Outcome, comparative_analysis
from bluegreen.checks.analysis_config import DEFAULT_ANALYSIS
from bluegreen.checks.judge import Counts, judge_error_rate, judge_levels
from tests.unit.test_analysis_fakes import (
    BLUE_TG,
    GREEN_TG,
    LB,
    T0,
    Colour,
    FakeCloudWatch,
    binomial,
    percentiles,
    publish,
)

pytestmark = pytest.mark.unit

ALPHA = DEFAULT_ANALYSIS.alpha
DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"
BEGIN, END = "<!-- measured: begin -->", "<!-- measured: end -->"
SLOW_RUNS = 2000


@dataclass(frozen=True)
class RateCase:
    label: str
    green_requests: int  # over the window
    blue_requests: int
    green_rate: float
    blue_rate: float


@dataclass(frozen=True)
class LatencyCase:
    label: str
    green_requests: int  # per one-minute period
    blue_requests: int
    factor: float = 1.0  # green's latency = blue's times this
    green_sigma: float = 0.6  # a heavier tail when above blue's 0.6
    periods: int = 10


EQUAL_RATES = [
    RateCase(f"{n:,} each, {rate:.1%}", n, n, rate, rate)
    for rate in (0.001, 0.01)
    for n in (1000, 5000, 20_000, 100_000)
] + [RateCase("10% canary: 5,000 vs 45,000, 1.0%", 5000, 45_000, 0.01, 0.01)]
WORSE_RATES = [
    RateCase(f"{n:,} each, 0.5% -> {0.005 * k:.2%} ({k:g}x)", n, n, 0.005 * k, 0.005)
    for n in (5000, 20_000)
    for k in (1.5, 2, 3)
] + [
    RateCase("10% canary: 6,000 vs 54,000, 0.1% -> 5%", 6000, 54_000, 0.05, 0.001),
    RateCase("10% canary: 600 vs 5,400, 0.1% -> 5%", 600, 5400, 0.05, 0.001),
]
LATENCY = [
    LatencyCase(f"{split}, {what}", g, b, factor, sigma)
    for split, g, b in (("300/300 a minute", 300, 300), ("10% canary 100/900", 100, 900))
    for what, factor, sigma in (
        ("equal", 1.0, 0.6),
        ("1.2x slower", 1.2, 0.6),
        ("1.5x slower", 1.5, 0.6),
        ("heavier tail (p99 1.4x)", 1.0, 0.75),
    )
]


def rate_outcomes(case: RateCase, runs: int, seed: int) -> dict[str, Counter[Outcome]]:
    """Outcomes of the error-rate signal under each inconclusive rule, same draws."""
    rng = random.Random(seed)
    rule = DEFAULT_ANALYSIS.error_rate
    assert rule is not None
    tally: dict[str, Counter[Outcome]] = {"bound": Counter(), "samples": Counter()}
    for _ in range(runs):
        green = Counts(case.green_requests, binomial(rng, case.green_requests, case.green_rate))
        blue = Counts(case.blue_requests, binomial(rng, case.blue_requests, case.blue_rate))
        for name, counter in tally.items():
            counter[judge_error_rate(green, blue, rule, ALPHA, name).outcome] += 1
    return tally


def latency_outcomes(case: LatencyCase, runs: int, seed: int) -> dict[str, Counter[Outcome]]:
    """Outcomes of the p50 and p99 signals: each minute has a load factor both colours
    share, and each colour's percentiles are those of its own requests that minute."""
    rng = random.Random(seed)
    latency = DEFAULT_ANALYSIS.latency
    assert latency is not None
    tally: dict[str, Counter[Outcome]] = {"p50": Counter(), "p99": Counter()}
    for _ in range(runs):
        pairs: dict[str, list[tuple[float, float]]] = {"p50": [], "p99": []}
        for _ in range(case.periods):
            median = 0.080 * math.exp(rng.gauss(0.0, 0.25))
            g50, g99 = percentiles(
                rng, case.green_requests, (0.5, 0.99), median * case.factor, case.green_sigma
            )
            b50, b99 = percentiles(rng, case.blue_requests, (0.5, 0.99), median, 0.6)
            pairs["p50"].append((g50, b50))
            pairs["p99"].append((g99, b99))
        for stat, counter in tally.items():
            verdict = judge_levels(stat, stat, pairs[stat], latency.level_rule(), ALPHA, unit="s")
            counter[verdict.outcome] += 1
    return tally


def whole_check_outcomes(runs: int, seed: int) -> Counter[Outcome]:
    """The folded verdict of the whole check (error rate, p50, p99) on equal colours,
    through CloudWatch queries: 2,000 requests a minute each, 0.5% 5xx, ten minutes."""
    rng = random.Random(seed)
    colours = Colours(LB, GREEN_TG, BLUE_TG)
    same = Colour(2000, error_rate=0.005)
    tally: Counter[Outcome] = Counter()
    for _ in range(runs):
        cloudwatch = FakeCloudWatch()
        publish(cloudwatch, rng, same, same)
        result = comparative_analysis(cloudwatch, colours, T0, T0 + timedelta(minutes=10))
        tally[result.outcome] += 1
    return tally


def share(counter: Counter[Outcome], outcome: Outcome) -> float:
    return counter[outcome] / sum(counter.values())


def noise(rate: float, runs: int) -> float:
    """Three standard errors of a rate measured over `runs` runs."""
    return 3 * math.sqrt(rate * (1 - rate) / runs)


# -- fast: the headline figures, bounded -----------------------------------------------------
RUNS = 300


def test_equal_colours_rarely_fail() -> None:
    # Given equal colours at 20,000 requests each and 1% errors, and two 10-minute latency
    # windows at 300 requests a minute per colour
    rates = rate_outcomes(RateCase("equal", 20_000, 20_000, 0.01, 0.01), RUNS, seed=11)
    latency = latency_outcomes(LatencyCase("equal", 300, 300), RUNS, seed=12)

    # Then each signal fails no more often than alpha (within sampling error)
    assert share(rates["bound"], Outcome.FAILED) <= ALPHA + noise(ALPHA, RUNS)
    for stat in ("p50", "p99"):
        assert share(latency[stat], Outcome.FAILED) <= ALPHA + noise(ALPHA, RUNS)
    # and at that volume the error rate passes almost always
    assert share(rates["bound"], Outcome.PASSED) >= 0.95


def test_regressions_of_the_stated_sizes_are_caught() -> None:
    # Given twice blue's 5xx ratio at 20,000 requests each, a 10% canary at 5% against
    # 0.1%, and a 1.5x latency regression
    doubled = rate_outcomes(RateCase("2x", 20_000, 20_000, 0.01, 0.005), RUNS, seed=13)
    canary = rate_outcomes(RateCase("canary", 6000, 54_000, 0.05, 0.001), RUNS, seed=14)
    slower = latency_outcomes(LatencyCase("1.5x", 300, 300, factor=1.5), RUNS, seed=15)

    # Then they fail (almost) every time
    assert share(doubled["bound"], Outcome.FAILED) >= 0.97
    assert share(canary["bound"], Outcome.FAILED) == 1.0
    assert share(slower["p50"], Outcome.FAILED) >= 0.97
    assert share(slower["p99"], Outcome.FAILED) >= 0.97


# -- slow: every case, 2,000 runs, and the figures docs/analysis.md states --------------------
def measured_table(runs: int = SLOW_RUNS) -> str:
    """The markdown tables of docs/analysis.md's measured section."""
    lines = [
        f"Each row: {runs:,} seeded runs with the default configuration (alpha {ALPHA:g}).",
        "",
        "| error rate, over the window | fail | pass | inconclusive | pass with `samples` |",
        "|---|---|---|---|---|",
    ]
    for seed, case in enumerate(EQUAL_RATES + WORSE_RATES, start=100):
        tally = rate_outcomes(case, runs, seed)
        bound = tally["bound"]
        lines.append(
            f"| {case.label} | {_pc(bound, Outcome.FAILED)} | {_pc(bound, Outcome.PASSED)} "
            f"| {_pc(bound, Outcome.INCONCLUSIVE)} | {_pc(tally['samples'], Outcome.PASSED)} |"
        )
    lines += [
        "",
        "| latency, 10 one-minute periods | p50 fail | p50 pass "
        "| p99 fail | p99 pass | p99 inconclusive |",
        "|---|---|---|---|---|---|",
    ]
    for seed, case in enumerate(LATENCY, start=200):
        tally = latency_outcomes(case, runs, seed)
        p50, p99 = tally["p50"], tally["p99"]
        lines.append(
            f"| {case.label} | {_pc(p50, Outcome.FAILED)} | {_pc(p50, Outcome.PASSED)} "
            f"| {_pc(p99, Outcome.FAILED)} | {_pc(p99, Outcome.PASSED)} "
            f"| {_pc(p99, Outcome.INCONCLUSIVE)} |"
        )
    whole = whole_check_outcomes(runs, seed=300)
    lines += [
        "",
        "| whole check (error rate, p50, p99), equal colours, 2,000 requests a minute each, "
        "0.5% 5xx, 10 minutes | fail | pass | inconclusive |",
        "|---|---|---|---|",
        f"| folded verdict | {_pc(whole, Outcome.FAILED)} | {_pc(whole, Outcome.PASSED)} "
        f"| {_pc(whole, Outcome.INCONCLUSIVE)} |",
    ]
    return "\n".join(lines)


def _pc(counter: Counter[Outcome], outcome: Outcome) -> str:
    return f"{100 * share(counter, outcome):.1f}%"


def documented_table() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


@pytest.mark.slow
def test_the_documented_error_rates_are_the_measured_ones() -> None:
    # Given every case of the sweep, 2,000 seeded runs each
    table = measured_table()

    # Then no equal-colour case fails more often than alpha, within sampling error
    rows = {row.split(" | ")[0].strip("| "): row for row in table.splitlines() if "|" in row}
    bound = ALPHA + noise(ALPHA, SLOW_RUNS)
    for case in EQUAL_RATES:
        assert _cell(rows[case.label], 1) <= bound, case.label
    for case in LATENCY[0:1] + LATENCY[4:5]:  # the two equal-latency cases
        assert _cell(rows[case.label], 1) <= bound and _cell(rows[case.label], 3) <= bound
    # and the regressions named in docs/analysis.md are caught
    assert _cell(rows["20,000 each, 0.5% -> 1.00% (2x)"], 1) >= 0.97
    assert _cell(rows["10% canary: 600 vs 5,400, 0.1% -> 5%"], 1) >= 0.99
    # and docs/analysis.md states exactly these figures
    assert documented_table() == table, (
        "docs/analysis.md is stale: run `python -m tests.unit.test_analysis_error_rates`"
    )


def _cell(row: str, column: int) -> float:
    return float(row.strip("| ").split(" | ")[column].rstrip("%")) / 100


def _write_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{BEGIN}\n{measured_table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":  # regenerate docs/analysis.md's measured section
    _write_docs()
    sys.exit(0)
