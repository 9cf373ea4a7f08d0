"""The scorecard's arithmetic: rows per task and period in, HEAT figures with their change out.

Pure functions over plain data, like ``summary/metrics.py``: the queries fetch, this
decides what a figure is, whether enough samples stand behind it, and how it moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Fewer samples than these and the page says "not enough data yet" instead of a number
# that looks confident: a success rate of 100 % over 2 runs says nothing.
MIN_DECISIVE_RUNS = 5
MIN_TIMED_RUNS = 5
MIN_HAPPINESS_RESPONSES = 3
MIN_INSTALLED_REPOSITORIES = 1


@dataclass(frozen=True)
class PeriodStats:
    """What the queries count for one task in one window (the current or the previous)."""

    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    cancelled: int = 0
    skipped: int = 0
    running: int = 0
    # Changes (pull requests, else commits) whose first success fell in the window, and
    # the mean attempts each took up to it: re-runs of flaky failures show here.
    first_successes: int = 0
    attempts_to_first_success: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    timed_runs: int = 0
    repositories: int = 0
    outside_app_repositories: int = 0
    happiness_mean: float | None = None
    happiness_responses: int = 0

    @property
    def decisive_runs(self) -> int:
        """The success rate's denominator: cancelled and skipped runs stay out of it."""
        return self.succeeded + self.failed + self.timed_out

    @property
    def success_rate(self) -> float | None:
        decisive = self.decisive_runs
        return self.succeeded / decisive if decisive else None


@dataclass(frozen=True)
class Figure:
    """One HEAT figure for the current window, the previous one, and how it changed.

    ``change`` is in the figure's own unit (points of a rate, points of a 1-5 score)
    except for durations, where ``change`` is a percentage of the previous value. It is
    None unless both windows have enough samples.
    """

    value: float | None
    previous: float | None
    samples: int
    previous_samples: int
    min_samples: int
    relative: bool = False

    @property
    def enough(self) -> bool:
        return self.value is not None and self.samples >= self.min_samples

    @property
    def previous_enough(self) -> bool:
        return self.previous is not None and self.previous_samples >= self.min_samples

    @property
    def change(self) -> float | None:
        if not (self.enough and self.previous_enough):
            return None
        assert self.value is not None
        assert self.previous is not None
        if not self.relative:
            return self.value - self.previous
        if self.previous <= 0:
            return None
        return (self.value - self.previous) / self.previous * 100


@dataclass(frozen=True)
class TaskCard:
    """One row of the scorecard: a task's four HEAT figures side by side."""

    task: str
    kind: str
    current: PeriodStats
    previous: PeriodStats
    installed_repositories: int
    happiness: Figure = field(init=False)
    efficiency: Figure = field(init=False)
    adoption: Figure = field(init=False)
    success: Figure = field(init=False)

    def __post_init__(self) -> None:
        now, before = self.current, self.previous
        set_ = object.__setattr__  # frozen: the figures are derived once, here
        set_(self, "happiness", Figure(
            now.happiness_mean, before.happiness_mean,
            now.happiness_responses, before.happiness_responses, MIN_HAPPINESS_RESPONSES,
        ))  # fmt: skip
        set_(self, "efficiency", Figure(
            now.p50_ms, before.p50_ms, now.timed_runs, before.timed_runs, MIN_TIMED_RUNS,
            relative=True,
        ))  # fmt: skip
        set_(self, "adoption", Figure(
            adoption_share(now.repositories, self.installed_repositories),
            adoption_share(before.repositories, self.installed_repositories),
            self.installed_repositories, self.installed_repositories,
            MIN_INSTALLED_REPOSITORIES,
        ))  # fmt: skip
        set_(self, "success", Figure(
            now.success_rate, before.success_rate,
            now.decisive_runs, before.decisive_runs, MIN_DECISIVE_RUNS,
        ))  # fmt: skip


def adoption_share(repositories: int, installed: int) -> float | None:
    """Repositories running a task ÷ repositories where the app is installed, at most 1.

    ``repositories`` must already count only repositories with the app installed (the
    others are "outside the app"); the cap guards against a denominator that moved
    under the window (an installation removed since).
    """
    if installed <= 0:
        return None
    return min(repositories / installed, 1.0)


def build_cards(
    rows: Iterable[tuple[str, str | None, str, PeriodStats]], installed_repositories: int
) -> list[TaskCard]:
    """Cards from (task, kind, "current" | "previous", stats) rows, busiest task first.

    A task seen only in the previous window still gets a card: it stopped running, and
    that is news for the platform team.
    """
    periods: dict[str, dict[str, PeriodStats]] = {}
    kinds: dict[str, str] = {}
    for task, kind, period, stats in rows:
        periods.setdefault(task, {})[period] = stats
        if kind is not None and (period == "current" or task not in kinds):
            kinds[task] = kind
    cards = [
        TaskCard(
            task=task,
            kind=kinds[task],
            current=by_period.get("current", PeriodStats()),
            previous=by_period.get("previous", PeriodStats()),
            installed_repositories=installed_repositories,
        )
        for task, by_period in periods.items()
        # Ratings naming a task that never ran in either window make no card.
        if task in kinds
    ]
    return sorted(cards, key=lambda card: (-card.current.runs, -card.previous.runs, card.task))


@dataclass(frozen=True)
class WeekStats:
    """One ISO week of one task, for the trend charts."""

    week: datetime
    stats: PeriodStats


@dataclass(frozen=True)
class VersionStats:
    version: str | None
    repositories: int
    runs: int
    decisive_runs: int
    success_rate: float | None
    p50_ms: float | None
    last_run_at: datetime | None


@dataclass(frozen=True)
class RepositoryStats:
    """One repository's runs of one task in the window."""

    repository: str
    runs: int
    decisive_runs: int
    failed: int
    success_rate: float | None
    p50_ms: float | None
    timed_runs: int
    # The latest run on the latest commit failed: DESIGN.md's meaning of "failing".
    failing: bool
    last_run_at: datetime | None
    last_outcome: str | None


@dataclass(frozen=True)
class Comment:
    """A happiness response with words, as a developer wrote it (escape when shown)."""

    repository: str
    pull_request: int | None
    author: str
    score: int
    words: str
    created_at: datetime


def slowest(repositories: Sequence[RepositoryStats], limit: int = 5) -> list[RepositoryStats]:
    """Repositories with the highest p50, among those with enough timed runs to tell."""
    timed = [r for r in repositories if r.p50_ms is not None and r.timed_runs >= MIN_TIMED_RUNS]
    return sorted(timed, key=lambda r: (-(r.p50_ms or 0), r.repository))[:limit]


def failing(repositories: Sequence[RepositoryStats], limit: int = 10) -> list[RepositoryStats]:
    """Repositories whose latest run on their latest commit failed, most failures first."""
    hits = [r for r in repositories if r.failing]
    return sorted(hits, key=lambda r: (-r.failed, r.repository))[:limit]


def fill_weeks(weeks: list[WeekStats], since: datetime, until: datetime) -> list[WeekStats]:
    """Every ISO week from ``since`` to ``until``, empty where nothing ran, oldest first."""
    by_start = {w.week.date(): w for w in weeks}
    start = since.astimezone(UTC).date()
    start -= timedelta(days=start.weekday())
    out: list[WeekStats] = []
    moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    while moment < until:
        out.append(by_start.get(moment.date(), WeekStats(week=moment, stats=PeriodStats())))
        moment += timedelta(weeks=1)
    return out
