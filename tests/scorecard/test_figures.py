"""The scorecard's arithmetic, on plain data: enough samples, changes, adoption, ordering."""

from __future__ import annotations

from datetime import UTC, datetime

from heatmeter.scorecard.figures import (
    MIN_DECISIVE_RUNS,
    Figure,
    PeriodStats,
    RepositoryStats,
    WeekStats,
    adoption_share,
    build_cards,
    failing,
    fill_weeks,
    slowest,
)
from heatmeter.scorecard.shaping import change_text, trend_class


def test_a_figure_with_too_few_samples_is_not_shown_nor_compared() -> None:
    few = Figure(1.0, 0.5, samples=MIN_DECISIVE_RUNS - 1, previous_samples=50, min_samples=5)
    assert not few.enough
    assert few.change is None
    enough = Figure(0.9, 0.8, samples=5, previous_samples=5, min_samples=5)
    assert enough.enough
    assert round(enough.change, 4) == 0.1
    assert Figure(0.9, 0.8, 5, 4, 5).change is None  # the previous window had too few


def test_duration_changes_are_relative_and_lower_is_better() -> None:
    faster = Figure(40_000, 100_000, 7, 5, 5, relative=True)
    assert faster.change == -60
    assert change_text(faster, kind="duration") == "\u221260 %"
    assert trend_class(faster, lower_is_better=True) == "better"
    rate = Figure(0.857, 1.0, 7, 5, 5)
    assert change_text(rate, kind="rate") == "\u221214 pts"
    assert trend_class(rate) == "worse"


def test_adoption_is_never_over_100_percent_and_needs_installations() -> None:
    assert adoption_share(2, 3) == 2 / 3
    assert adoption_share(4, 3) == 1.0
    assert adoption_share(1, 0) is None


def test_cards_pair_windows_and_keep_tasks_that_stopped_running() -> None:
    rows = [
        ("deploy", "deploy", "current", PeriodStats(runs=3, succeeded=3)),
        ("deploy", "deploy", "previous", PeriodStats(runs=1, succeeded=1)),
        ("old", "other", "previous", PeriodStats(runs=9)),
        ("busy", "other", "current", PeriodStats(runs=10)),
    ]
    cards = build_cards(rows, installed_repositories=4)
    assert [c.task for c in cards] == ["busy", "deploy", "old"]
    assert cards[2].current.runs == 0
    assert cards[1].previous.succeeded == 1


def test_success_rate_leaves_cancelled_and_skipped_out() -> None:
    stats = PeriodStats(runs=10, succeeded=6, failed=1, timed_out=1, cancelled=1, skipped=1)
    assert stats.decisive_runs == 8
    assert stats.success_rate == 6 / 8


def _repo(name: str, p50: float | None, timed: int, failing_now: bool, failed: int = 0):
    return RepositoryStats(name, 10, 10, failed, 0.9, p50, timed, failing_now, None, None)


def test_slowest_needs_enough_timed_runs_and_failing_means_latest_commit_failed() -> None:
    repos = [
        _repo("a", 100, 5, False),
        _repo("b", 900, 2, True, failed=1),
        _repo("c", 300, 9, True, failed=4),
    ]
    assert [r.repository for r in slowest(repos)] == ["c", "a"]
    assert [r.repository for r in failing(repos)] == ["c", "b"]


def test_weeks_are_filled_so_charts_show_gaps() -> None:
    # Fixed dates: fill_weeks is pure and the week boundaries are the point.
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    weeks = fill_weeks(
        [WeekStats(week=datetime(2026, 11, 9), stats=PeriodStats(runs=2))],
        since=datetime(2026, 11, 4, tzinfo=UTC),
        until=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert [w.week.date().isoformat() for w in weeks] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert [w.stats.runs for w in weeks] == [0, 2, 0]
    assert weeks[0].week == monday
