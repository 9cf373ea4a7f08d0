"""Pure statistics: percentiles, and whether a PR's p50 differs from the baseline's noise.

The method, and why it is this one, is in docs/statistics.md. In short: a baseline is
the default branch's measured durations (same task, same runner OS), usable from
``min_runs`` samples on. Its spread is a robust standard deviation, the median absolute
deviation (MAD) scaled to one. A PR's p50 is on par while it lies within

    band = t(0.975, n_b - 1) * sigma * sqrt(pi / 2 * (1 / n_b + 1 / n_pr))

of the baseline p50 (about a 95 % interval for the difference of two medians of n_b
and n_pr runs), and never within less than ±10 % of it; outside, it is faster or slower.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Makes the MAD estimate the standard deviation of normally distributed samples.
MAD_TO_SD = 1.4826
# Small-sample factors that make the scaled MAD unbiased (Croux and Rousseeuw, 1992):
# n = 2..9 below, n / (n - 0.8) above.
_MAD_SMALL_SAMPLE = {2: 1.196, 3: 1.495, 4: 1.363, 5: 1.206, 6: 1.200, 7: 1.140, 8: 1.129, 9: 1.107}
# Student's t, two-sided 95 %, by degrees of freedom; 1.96 and a correction beyond 30.
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
# A median of n samples varies pi / 2 times as much as their mean.
_MEDIAN_VARIANCE = math.pi / 2
# The band is never narrower than this fraction of the baseline p50: a baseline whose
# runs all took the same whole second (MAD 0) must not call a 2 % change "slower", and a
# change under 10 % is within what CI runners vary from day to day.
MIN_BAND_FRACTION = 0.10
# The default number of default-branch samples a comparison needs.
DEFAULT_MIN_BASELINE_RUNS = 5

FASTER = "faster"
SLOWER = "slower"
ON_PAR = "on par"


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0 <= q <= 100) of values, None when there are none.

    Linear interpolation between closest ranks, as numpy's default and Excel's
    PERCENTILE.INC: sorted values x[0..n-1], rank r = (n - 1) * q / 100, result
    x[floor(r)] + (x[ceil(r)] - x[floor(r)]) * (r - floor(r)). So p50 of [1, 2, 3, 4] is 2.5
    and p0 / p100 are the minimum and maximum.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, not {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median_absolute_deviation(values: Sequence[float]) -> float | None:
    """median(|x - median(x)|), None for no values."""
    if not values:
        return None
    middle = _middle(sorted(values))
    return _middle(sorted(abs(value - middle) for value in values))


def _middle(ordered: Sequence[float]) -> float:
    """The median of sorted, non-empty values."""
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def robust_sd(values: Sequence[float]) -> float | None:
    """The MAD scaled to estimate a standard deviation, unbiased for small samples.

    None for fewer than two values, which have no spread to measure.
    """
    n = len(values)
    if n < 2:
        return None
    mad = median_absolute_deviation(values)
    assert mad is not None
    return MAD_TO_SD * mad * _MAD_SMALL_SAMPLE.get(n, n / (n - 0.8))


def t_975(degrees_of_freedom: int) -> float:
    """Student's t quantile for a two-sided 95 % interval."""
    if degrees_of_freedom < 1:
        raise ValueError("t needs at least one degree of freedom")
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * degrees_of_freedom)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The default branch's durations of one task, summed up for comparison."""

    runs: int  # measured default-branch durations in the window
    min_runs: int  # how many a comparison needs
    p50_ms: float | None  # None below min_runs
    sd_ms: float | None  # robust standard deviation of one run; None below 2 runs

    @property
    def usable(self) -> bool:
        return self.p50_ms is not None

    @property
    def runs_needed(self) -> int:
        """How many more default-branch runs before there is a baseline."""
        return max(self.min_runs - self.runs, 0)

    def band_ms(self, pr_runs: int) -> float | None:
        """Half-width of the on-par band for a PR p50 of ``pr_runs`` runs (at least 1)."""
        if self.p50_ms is None:
            return None
        floor = MIN_BAND_FRACTION * self.p50_ms
        if self.sd_ms is None:
            return floor
        spread = math.sqrt(_MEDIAN_VARIANCE * (1 / self.runs + 1 / max(pr_runs, 1)))
        return max(t_975(self.runs - 1) * self.sd_ms * spread, floor)


def baseline(durations_ms: Sequence[float], *, min_runs: int) -> Baseline:
    """The baseline p50 and spread, or an unusable one below ``min_runs`` samples."""
    if min_runs < 1:
        raise ValueError(f"a baseline needs at least one run, not {min_runs!r}")
    if len(durations_ms) < min_runs:
        return Baseline(len(durations_ms), min_runs, None, None)
    return Baseline(
        len(durations_ms), min_runs, percentile(durations_ms, 50), robust_sd(durations_ms)
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """A PR's p50 against a baseline: faster, slower or on par, with Δ % when it differs."""

    verdict: str | None  # FASTER, SLOWER, ON_PAR; None when there is nothing to compare
    delta_pct: float | None  # only for FASTER and SLOWER: within the band it is noise
    band_ms: float | None  # the on-par band's half-width used (None without a baseline)


def compare(pr_durations_ms: Sequence[float], against: Baseline) -> Comparison:
    """Whether the p50 of a PR's measured durations lies outside the baseline's band."""
    band = against.band_ms(len(pr_durations_ms))
    p50 = percentile(pr_durations_ms, 50)
    if against.p50_ms is None or band is None:
        return Comparison(None, None, None)
    if p50 is None:
        return Comparison(None, None, band)
    difference = p50 - against.p50_ms
    if abs(difference) <= band or against.p50_ms <= 0:
        return Comparison(ON_PAR, None, band)
    verdict = SLOWER if difference > 0 else FASTER
    return Comparison(verdict, difference / against.p50_ms * 100, band)


def rate_with_evidence(successes: int, decisive: int, *, min_runs: int) -> float | None:
    """successes / decisive as a fraction, only from ``min_runs`` decisive runs on."""
    return successes / decisive if decisive >= max(min_runs, 1) else None
