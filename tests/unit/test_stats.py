"""The analysis statistics agree with scipy (a test-only dependency), with published
values, and with brute force where neither applies."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from scipy import stats as scipy_stats

from bluegreen.checks import stats

pytestmark = pytest.mark.unit

Z95 = stats.normal_quantile(0.975)


def test_the_normal_distribution_matches_scipy_far_into_the_tail() -> None:
    for z in (-3.0, 0.0, 1.0, 1.959964, 5.0, 10.0, 30.0):
        assert stats.normal_sf(z) == pytest.approx(scipy_stats.norm.sf(z), rel=1e-12)
    for p in (1e-9, 0.025, 0.5, 0.975, 0.999):
        assert stats.normal_quantile(p) == pytest.approx(scipy_stats.norm.ppf(p), rel=1e-9)


def _tables(rng: random.Random, count: int) -> list[tuple[int, int, int, int]]:
    """Error counts of canary-like volumes: small and huge, rare and frequent errors."""
    tables = [(0, 0, 0, 10), (0, 10, 0, 0), (0, 5, 0, 5), (5, 5, 0, 5), (0, 40, 20, 20)]
    for _ in range(count):
        n1, n2 = rng.choice([12, 40, 600, 5000, 20_000, 1_000_000]), rng.choice([30, 5400, 200_000])
        rate = rng.choice([0.0005, 0.005, 0.05, 0.4])
        x1 = min(n1, round(n1 * rate * rng.uniform(0.3, 3)))
        x2 = min(n2, round(n2 * rate * rng.uniform(0.3, 3)))
        tables.append((x1, n1, x2, n2))
    return tables


def test_fisher_exact_matches_scipy_from_a_dozen_requests_to_a_million() -> None:
    for x1, n1, x2, n2 in _tables(random.Random(3), 300):
        expected = scipy_stats.fisher_exact(
            [[x1, n1 - x1], [x2, n2 - x2]], alternative="greater"
        ).pvalue
        got = stats.fisher_greater(x1, n1, x2, n2)
        if expected < 1e-300:  # scipy's own floor
            assert got < 1e-290
        else:
            assert got == pytest.approx(expected, rel=1e-8, abs=1e-15), (x1, n1, x2, n2)


def test_the_hypergeometric_tail_matches_scipy_on_both_sides_of_the_mode() -> None:
    total, successes, draws = 30_000, 250, 3000
    for k in (0, 1, 10, 24, 25, 26, 40, 80, 250, 251):
        expected = scipy_stats.hypergeom.sf(k - 1, total, successes, draws)
        assert stats.hypergeom_sf(k, total, successes, draws) == pytest.approx(
            expected, rel=1e-9, abs=1e-300
        )


def test_fisher_refuses_more_successes_than_trials() -> None:
    with pytest.raises(ValueError, match="group 2: need 0 <= successes <= trials, got 6/5"):
        stats.fisher_greater(1, 10, 6, 5)


def test_wilson_intervals_match_scipy() -> None:
    for x, n in ((0, 1), (0, 40), (3, 40), (104, 20_000), (40, 40), (999, 1000)):
        expected = scipy_stats.binomtest(x, n).proportion_ci(0.95, method="wilson")
        low, high = stats.wilson_interval(x, n, Z95)
        assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-9, abs=1e-15)


def test_newcombe_intervals_match_the_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10, at 95%
    published = {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (5, 56, 0, 29): (-0.0381, 0.1926),
    }
    for (x1, n1, x2, n2), interval in published.items():
        assert stats.newcombe_interval(x1, n1, x2, n2, Z95) == pytest.approx(interval, abs=6e-5)


def test_the_signed_rank_test_matches_scipy_exact_and_approximate() -> None:
    rng = random.Random(4)
    for n in (1, 5, 6, 10, 25, 50):
        differences = [rng.gauss(0.3, 1.0) for _ in range(n)]
        ours = stats.signed_rank_greater(differences)
        theirs = scipy_stats.wilcoxon(differences, alternative="greater", method="exact")
        assert (ours.method, ours.statistic) == ("exact", theirs.statistic)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-12)
    for n in (51, 120):  # beyond the exact table: the normal approximation
        differences = [rng.gauss(0.1, 1.0) for _ in range(n)]
        ours = stats.signed_rank_greater(differences)
        theirs = scipy_stats.wilcoxon(
            differences, alternative="greater", method="approx", correction=True
        )
        assert ours.method == "normal"
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_the_signed_rank_test_handles_ties_and_zeros_like_scipy() -> None:
    differences = [1, 2, 2, 3, -1, 4, 4, 4, 5, -2, 0, 6, 0, -3]
    ours = stats.signed_rank_greater(differences)
    theirs = scipy_stats.wilcoxon(
        differences, alternative="greater", method="approx", correction=True, zero_method="wilcox"
    )
    assert (ours.pairs, ours.method) == (12, "normal")
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert stats.signed_rank_greater([0.0, 0.0]).p_value == 1.0


def _brute_force_tail(n: int, w: int) -> float:
    """P(W+ >= w) by enumerating all 2^n sign patterns of ranks 1..n."""
    hits = sum(
        sum(rank for rank, up in zip(range(1, n + 1), signs, strict=True) if up) >= w
        for signs in itertools.product((False, True), repeat=n)
    )
    return hits / 2**n


def test_critical_values_are_the_smallest_reaching_alpha() -> None:
    for n in (5, 6, 8, 12):
        for alpha in (0.05, 0.025, 0.01):
            critical = stats.signed_rank_critical(n, alpha)
            if 2.0**-n > alpha:
                assert critical is None
                continue
            assert critical is not None
            assert _brute_force_tail(n, critical) <= alpha < _brute_force_tail(n, critical - 1)
    assert stats.signed_rank_critical(4, 0.05) is None


def test_the_normal_critical_value_is_close_to_the_exact_one() -> None:
    # At 50 pairs the two agree within a couple of ranks; beyond it the normal one is used
    exact = stats.signed_rank_critical(50, 0.025)
    mean, sd = 50 * 51 / 4, math.sqrt(50 * 51 * 101 / 24)
    normal = math.ceil(mean + 0.5 + stats.normal_quantile(0.975) * sd)
    assert exact is not None and abs(exact - normal) <= 2
    assert stats.signed_rank_critical(200, 0.025) == math.ceil(
        200 * 201 / 4 + 0.5 + stats.normal_quantile(0.975) * math.sqrt(200 * 201 * 401 / 24)
    )


def test_hodges_lehmann_is_the_median_of_walsh_averages() -> None:
    values = [0.3, -0.1, 0.5, 0.2]
    walsh = sorted((values[i] + values[j]) / 2 for i in range(4) for j in range(i, 4))
    assert stats.walsh_averages(values) == walsh
    assert stats.hodges_lehmann(values) == pytest.approx((walsh[4] + walsh[5]) / 2)
    assert stats.hodges_lehmann([2.0]) == 2.0
    with pytest.raises(ValueError, match="at least one value"):
        stats.hodges_lehmann([])


def test_the_upper_bound_inverts_the_signed_rank_test() -> None:
    # Given differences from a period-to-period comparison
    rng = random.Random(6)
    differences = [rng.gauss(0.05, 0.1) for _ in range(12)]

    # When bounded at 97.5%
    bound = stats.shift_upper_bound(differences, 0.025)
    assert bound is not None

    # Then a shift just above the bound is rejected by scipy's exact test ("less") at 2.5%,
    # and one just below is not: the bound is the edge of the test's acceptance region
    def p_less(shift: float) -> float:
        shifted = [d - shift for d in differences]
        return float(scipy_stats.wilcoxon(shifted, alternative="less", method="exact").pvalue)

    assert p_less(bound + 1e-9) <= 0.025 < p_less(bound - 1e-9)


def test_the_upper_bound_covers_the_true_shift_at_its_confidence() -> None:
    # Given 2,000 samples of 10 symmetric differences around a known shift
    rng = random.Random(7)
    shift, runs = 0.2, 2000
    covered = 0
    for _ in range(runs):
        differences = [shift + rng.gauss(0.0, 1.0) for _ in range(10)]
        bound = stats.shift_upper_bound(differences, 0.025)
        assert bound is not None
        covered += shift <= bound

    # Then the bound is above the shift at least 97.5% of the time (within sampling error)
    assert covered / runs >= 0.975 - 3 * math.sqrt(0.975 * 0.025 / runs)
    assert stats.shift_upper_bound([1.0] * 5, 0.025) is None  # 5 pairs cannot reach 2.5%
