"""The statistics of the comparative analysis: pure functions, numbers in, numbers out.

- Error rates (5xx out of requests) are compared with **Fisher's exact test**, one-sided
  (is green's proportion greater than blue's?), exact at any volume, and bounded with
  **Newcombe's hybrid score interval** for the difference of two proportions (built from
  Wilson score intervals), which behaves at zero counts where the Wald interval does not.
- Per-period levels (a latency percentile per minute, for both colours over the same
  minutes) are compared with the **Wilcoxon signed-rank test** on the paired differences,
  with the **Hodges-Lehmann** estimate of the shift and its distribution-free confidence
  bound (the Walsh averages).

Hand-written on `math` and `statistics.NormalDist` (both standard library): scipy would
add about 200 MB to the layer and about a second to a cold start for these few functions.
The test suite checks every function here against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

_NORMAL = NormalDist()
EXACT_SIGNED_RANK_MAX = 50  # exact null distribution up to this many pairs (and no ties)


def normal_quantile(p: float) -> float:
    """z such that P(Z <= z) = p for a standard normal Z."""
    return _NORMAL.inv_cdf(p)


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z, accurate far in the upper tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


# -- two proportions ------------------------------------------------------------------------
def _check_counts(successes: int, trials: int, name: str) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"{name}: need 0 <= successes <= trials, got {successes}/{trials}")


def fisher_greater(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided p-value of Fisher's exact test that group 1's proportion (x1/n1) exceeds
    group 2's (x2/n2): P(X >= x1) where X is hypergeometric, n1 drawn from n1 + n2 of which
    x1 + x2 are successes (the margins held fixed)."""
    _check_counts(x1, n1, "group 1")
    _check_counts(x2, n2, "group 2")
    return hypergeom_sf(x1, n1 + n2, x1 + x2, n1)


def hypergeom_sf(k: int, total: int, successes: int, draws: int) -> float:
    """P(X >= k) for X ~ Hypergeometric(total, successes, draws).

    Summed from k away from the mode, where the terms only shrink, so the sum stops as soon
    as they no longer change it; below the mode it is one minus the lower tail."""
    low = max(0, draws - (total - successes))
    high = min(successes, draws)
    if k <= low:
        return 1.0
    if k > high:
        return 0.0
    mode = (draws + 1) * (successes + 1) // (total + 2)
    if k > mode:
        return min(1.0, _tail(k, high, 1, total, successes, draws))
    return max(0.0, 1.0 - _tail(k - 1, low, -1, total, successes, draws))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _tail(start: int, stop: int, step: int, total: int, successes: int, draws: int) -> float:
    """Sum of the pmf from `start` to `stop` (inclusive), moving away from the mode."""
    failures = total - successes
    log_first = (
        _log_comb(successes, start) + _log_comb(failures, draws - start) - _log_comb(total, draws)
    )
    term = acc = 1.0
    k = start
    while k != stop:
        if step > 0:
            term *= (successes - k) * (draws - k) / ((k + 1) * (failures - draws + k + 1))
        else:
            term *= k * (failures - draws + k) / ((successes - k + 1) * (draws - k + 1))
        k += step
        acc += term
        if term <= acc * 1e-17:
            break
    return math.exp(log_first) * acc


def wilson_interval(x: int, n: int, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion x/n at normal quantile z (two-sided
    1 - 2*(1 - Phi(z)); each end is a one-sided bound at Phi(z)). (0, 1) when n is 0."""
    _check_counts(x, n, "proportion")
    if n == 0:
        return 0.0, 1.0
    p = x / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) for p1 - p2 at normal quantile z."""
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


# -- paired levels --------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedRank:
    """Wilcoxon signed-rank test that the differences are centred above zero."""

    pairs: int  # non-zero differences used (zeros are dropped, Wilcoxon's convention)
    statistic: float  # W+, the sum of the ranks of the positive differences
    p_value: float
    method: str  # "exact" or "normal" (with tie and continuity corrections)


def signed_rank_greater(differences: Sequence[float]) -> SignedRank:
    """One-sided Wilcoxon signed-rank test of H0 "the differences are symmetric about 0"
    against "they are shifted above 0". Exact for up to 50 pairs without tied magnitudes;
    otherwise the normal approximation with tie and continuity corrections."""
    nonzero = [d for d in differences if d != 0]
    n = len(nonzero)
    if n == 0:
        return SignedRank(0, 0.0, 1.0, "exact")
    ranks, tie_sizes = _midranks([abs(d) for d in nonzero])
    w_plus = sum(rank for rank, d in zip(ranks, nonzero, strict=True) if d > 0)
    if n <= EXACT_SIGNED_RANK_MAX and not tie_sizes:
        counts = _signed_rank_counts(n)
        at_least = sum(counts[math.ceil(w_plus) :])
        return SignedRank(n, w_plus, at_least / 2**n, "exact")
    mean = n * (n + 1) / 4
    variance = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in tie_sizes) / 48
    z = (w_plus - mean - 0.5) / math.sqrt(variance)
    return SignedRank(n, w_plus, normal_sf(z), "normal")


def _midranks(values: list[float]) -> tuple[list[float], list[int]]:
    """Ranks 1..n of `values` (ties share their mean rank) and the sizes of the ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        if end > start:
            ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


@lru_cache(maxsize=64)
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """counts[s] = number of subsets of {1..n} summing to s (the exact null of W+, times 2^n)."""
    top = n * (n + 1) // 2
    counts = [1] + [0] * top
    reach = 0
    for k in range(1, n + 1):
        reach += k
        for s in range(reach, k - 1, -1):
            counts[s] += counts[s - k]
    return tuple(counts)


def signed_rank_critical(n: int, alpha: float) -> int | None:
    """The smallest w with P(W+ >= w) <= alpha under H0 for n pairs, or None when no w can
    reach alpha (too few pairs: 2^-n > alpha)."""
    top = n * (n + 1) // 2
    if n <= 0 or 2.0**-n > alpha:
        return None
    if n <= EXACT_SIGNED_RANK_MAX:
        counts = _signed_rank_counts(n)
        total = 2**n
        tail = 0
        for w in range(top, -1, -1):
            if (tail + counts[w]) / total > alpha:
                return w + 1
            tail += counts[w]
        return 0
    mean = n * (n + 1) / 4
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return min(top, math.ceil(mean + 0.5 + normal_quantile(1 - alpha) * sd))


def walsh_averages(values: Sequence[float]) -> list[float]:
    """All (v_i + v_j) / 2 for i <= j, sorted."""
    n = len(values)
    return sorted((values[i] + values[j]) / 2 for i in range(n) for j in range(i, n))


def hodges_lehmann(values: Sequence[float]) -> float:
    """The Hodges-Lehmann estimate of the centre of the differences: the median of their
    Walsh averages."""
    averages = walsh_averages(values)
    if not averages:
        raise ValueError("the Hodges-Lehmann estimate needs at least one value")
    middle = len(averages) // 2
    if len(averages) % 2:
        return averages[middle]
    return (averages[middle - 1] + averages[middle]) / 2


def shift_upper_bound(values: Sequence[float], alpha: float) -> float | None:
    """A one-sided upper confidence bound, at level 1 - alpha, for the centre of the
    differences: the w-th smallest Walsh average, w the signed-rank critical value
    (Hollander and Wolfe, the interval that inverts the signed-rank test). None when too
    few values to bound it at that level."""
    critical = signed_rank_critical(len(values), alpha)
    if critical is None:
        return None
    averages = walsh_averages(values)
    return averages[max(critical, 1) - 1]
