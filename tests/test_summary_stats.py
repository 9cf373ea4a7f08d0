"""The statistics behind baselines, on seeded generated samples: no database, no clock."""

from __future__ import annotations

import random

import pytest

from heatmeter.summary.stats import (
    FASTER,
    MIN_BAND_FRACTION,
    ON_PAR,
    SLOWER,
    baseline,
    compare,
    median_absolute_deviation,
    percentile,
    rate_with_evidence,
    robust_sd,
    t_975,
)

SEEDS = range(100)


def noisy(rng: random.Random, n: int, median_ms: float, spread: float = 0.10) -> list[int]:
    """n CI-like durations: log-normal around median_ms, sigma ``spread`` (about ±10 %)."""
    return [round(median_ms * rng.lognormvariate(0, spread)) for _ in range(n)]


# percentile and MAD


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([10, 20, 30, 40, 50], 90, 46),
        ([7], 90, 7),
        ([3, 1, 2], 50, 2),
        ([0, 100], 25, 25),
    ],
)
def test_percentile_interpolates_linearly(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_q_outside_0_to_100(q):
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1, 2], q)


def test_median_absolute_deviation():
    assert median_absolute_deviation([1, 1, 2, 2, 4, 6, 9]) == 1  # median 2: |x-2| median 1
    assert median_absolute_deviation([5]) == 0
    assert median_absolute_deviation([]) is None


# the minimum number of baseline runs: edge counts 0, 1, 4, 5


@pytest.mark.parametrize(("n", "usable", "needed"), [(0, False, 5), (1, False, 4),
                                                     (4, False, 1), (5, True, 0)])  # fmt: skip
def test_a_baseline_needs_five_runs_by_default(n: int, usable: bool, needed: int) -> None:
    samples = noisy(random.Random(n), n, 400)
    base = baseline(samples, min_runs=5)
    assert base.runs == n
    assert base.usable is usable
    assert base.runs_needed == needed
    assert (base.p50_ms is None) is (not usable)
    assert (base.band_ms(1) is None) is (not usable)
    verdict = compare([600], base).verdict
    assert verdict == (SLOWER if usable else None)


def test_the_minimum_is_configurable() -> None:
    assert baseline([400], min_runs=1).usable
    assert not baseline([400] * 9, min_runs=10).usable
    with pytest.raises(ValueError, match="at least one"):
        baseline([400], min_runs=0)


@pytest.mark.parametrize(("decisive", "rate"), [(0, None), (1, None), (4, None), (5, 0.8)])
def test_a_baseline_success_rate_needs_the_minimum_too(decisive: int, rate: float | None):
    successes = round(decisive * 0.8)
    assert rate_with_evidence(successes, decisive, min_runs=5) == rate


# the noise band, on generated data


def verdicts(factor: float, *, spread: float, seeds: range = SEEDS, base_n: int = 8,
             pr_n: int = 3) -> dict[str | None, int]:  # fmt: skip
    """How often each verdict comes out for a PR ``factor`` times the baseline's median."""
    counts: dict[str | None, int] = {}
    for seed in seeds:
        rng = random.Random(seed)
        base = baseline(noisy(rng, base_n, 400, spread), min_runs=5)
        verdict = compare(noisy(rng, pr_n, 400 * factor, spread), base).verdict
        counts[verdict] = counts.get(verdict, 0) + 1
    return counts


# One seeded case each; how often the band is right over many seeds is tested below.


def test_no_change_with_noisy_samples_is_on_par() -> None:
    rng = random.Random(0)
    base = baseline(noisy(rng, 8, 400), min_runs=5)
    comparison = compare(noisy(rng, 3, 400), base)
    assert comparison.verdict == ON_PAR
    assert comparison.delta_pct is None  # within the band, a Δ % would be noise


def test_a_clear_40_percent_slowdown_is_slower() -> None:
    rng = random.Random(0)
    base = baseline(noisy(rng, 8, 400), min_runs=5)
    comparison = compare(noisy(rng, 3, 560), base)
    assert comparison.verdict == SLOWER
    assert comparison.delta_pct == pytest.approx(40, abs=10)


def test_a_clear_30_percent_speedup_is_faster() -> None:
    rng = random.Random(0)
    base = baseline(noisy(rng, 8, 400), min_runs=5)
    assert compare(noisy(rng, 3, 280), base).verdict == FASTER


def test_how_often_the_band_is_wrong_over_many_seeds() -> None:
    # Runs with about ±10 % noise: about 1 in 20 unchanged PRs is called faster or
    # slower (the band is a 95 % interval), and a 40 % slowdown is nearly always caught.
    seeds = range(1000)
    unchanged = verdicts(1.0, spread=0.10, seeds=seeds)
    assert unchanged.get(ON_PAR, 0) >= 940
    assert verdicts(1.4, spread=0.10, seeds=seeds).get(SLOWER, 0) >= 900
    # Steadier tasks (±5 %) hit the ±10 % floor: false alarms become rare.
    assert verdicts(1.0, spread=0.05, seeds=seeds).get(ON_PAR, 0) >= 990
    assert verdicts(1.4, spread=0.05, seeds=seeds).get(SLOWER, 0) == 1000


def test_more_pr_runs_narrow_the_band() -> None:
    base = baseline(noisy(random.Random(3), 12, 400, 0.2), min_runs=5)
    assert base.band_ms(1) > base.band_ms(3) > base.band_ms(10)


def test_the_band_follows_the_tasks_own_noise() -> None:
    rng = random.Random(7)
    steady = baseline(noisy(rng, 20, 400, spread=0.03), min_runs=5)
    jittery = baseline(noisy(rng, 20, 400, spread=0.30), min_runs=5)
    assert steady.band_ms(3) < jittery.band_ms(3)
    # +20 %: a change for a steady task, noise for a jittery one.
    assert compare([480] * 3, steady).verdict == SLOWER
    assert compare([480] * 3, jittery).verdict == ON_PAR


def test_identical_samples_still_leave_a_floor_of_noise() -> None:
    base = baseline([1000] * 8, min_runs=5)
    assert base.band_ms(1) == pytest.approx(1000 * MIN_BAND_FRACTION)
    assert compare([1050], base).verdict == ON_PAR
    assert compare([1150], base).verdict == SLOWER


def test_one_stuck_run_does_not_widen_the_band() -> None:
    # The MAD ignores one run stuck for minutes; a standard deviation would not.
    base = baseline([400, 405, 410, 395, 400, 402, 398, 9000], min_runs=5)
    assert base.band_ms(1) == pytest.approx(base.p50_ms * MIN_BAND_FRACTION)  # the floor
    assert compare([480], base).verdict == SLOWER


def test_a_single_run_baseline_has_only_the_floor() -> None:
    base = baseline([400], min_runs=1)
    assert base.sd_ms is None
    assert base.band_ms(1) == pytest.approx(40)


def test_t_quantiles() -> None:
    assert t_975(1) == pytest.approx(12.706)
    assert t_975(7) == pytest.approx(2.365)
    assert t_975(60) == pytest.approx(2.000, abs=0.003)
    assert t_975(199) == pytest.approx(1.972, abs=0.002)


def test_robust_sd_estimates_the_standard_deviation() -> None:
    rng = random.Random(11)
    estimates = [robust_sd([rng.gauss(0, 1) for _ in range(6)]) for _ in range(4000)]
    assert sum(estimates) / len(estimates) == pytest.approx(1, abs=0.03)
    assert robust_sd([5]) is None


def test_nothing_to_compare() -> None:
    assert compare([], baseline([400] * 5, min_runs=5)).verdict is None
    assert compare([400], baseline([], min_runs=5)) == compare([400], baseline([1], min_runs=2))


def test_the_minimum_is_a_setting() -> None:
    from heatmeter.settings import Settings, SettingsError

    assert Settings.from_env({}).min_baseline_runs == 5
    assert Settings.from_env({"HEATMETER_MIN_BASELINE_RUNS": "12"}).min_baseline_runs == 12
    for bad in ("0", "-1", "many"):
        with pytest.raises(SettingsError, match="HEATMETER_MIN_BASELINE_RUNS"):
            Settings.from_env({"HEATMETER_MIN_BASELINE_RUNS": bad})
