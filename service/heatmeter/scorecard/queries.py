"""The scorecard's SQL: one query function per view, each returning plain data.

Everything the page, /v1/summary and `heatmeter report` show is read here and nowhere
else, so the SQL under them can change (raw runs, the daily roll-up) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg

from .figures import (
    Comment,
    PeriodStats,
    RepositoryStats,
    TaskCard,
    VersionStats,
    WeekStats,
    build_cards,
    fill_weeks,
)
from .filters import Filters

# Weeks of history the task page's charts show, at least.
TREND_WEEKS = 12
COMMENTS_SHOWN = 10

# The queries are composed from the constant fragments below with f-strings (S608 is
# ignored for this file in pyproject.toml): no request value is ever formatted into SQL.
# Parameters shared by the queries below: $1 window start (the previous period's start
# for the scorecard), $2 window end, $3 repository, $4 task, $5 kind. Repositories are
# compared by heat_repository_key (006): lower-cased, renames followed.
_FILTERED_RUNS = """
    SELECT r.*, heat_repository_key(r.repository) AS repo
    FROM task_runs r
    WHERE r.started_at >= $1 AND r.started_at < $2
      AND ($3::text IS NULL OR heat_repository_key(r.repository) = heat_repository_key($3))
      AND ($4::text IS NULL OR r.task = $4)
      AND ($5::text IS NULL OR r.kind = $5)
"""


def _installed(repository: str) -> str:
    """Repositories where the app is installed now (adoption's denominator), narrowed to the
    repository in parameter ``repository`` when it is not NULL."""
    return f"""
    SELECT repository_key AS repo FROM heat_installed_repositories
    WHERE {repository}::text IS NULL OR repository_key = heat_repository_key({repository})
"""


def _rated(start: str, end: str, repository: str) -> str:
    """Happiness responses in [start, end), one row per task rated, with its score.

    A response that names no task rates every task that ran on its pull request (006).
    """
    return f"""
    SELECT h.comment_id, h.task, h.score, h.created_at, h.repository, h.pull_request
    FROM happiness h
    WHERE h.task IS NOT NULL AND h.created_at >= {start} AND h.created_at < {end}
      AND ({repository}::text IS NULL
           OR heat_repository_key(h.repository) = heat_repository_key({repository}))
    UNION ALL
    SELECT DISTINCT h.comment_id, r.task, h.score, h.created_at, h.repository, h.pull_request
    FROM happiness h
    JOIN task_runs r ON r.pull_request = h.pull_request
        AND heat_repository_key(r.repository) = heat_repository_key(h.repository)
    WHERE h.task IS NULL AND h.created_at >= {start} AND h.created_at < {end}
      AND ({repository}::text IS NULL
           OR heat_repository_key(h.repository) = heat_repository_key({repository}))
"""


_INSTALLED = _installed("$3")

_STATS_COLUMNS = """
    count(*)                                                        AS runs,
    count(*) FILTER (WHERE outcome = 'success')                     AS succeeded,
    count(*) FILTER (WHERE outcome = 'failure')                     AS failed,
    count(*) FILTER (WHERE outcome = 'timed_out')                   AS timed_out,
    count(*) FILTER (WHERE outcome = 'cancelled')                   AS cancelled,
    count(*) FILTER (WHERE outcome = 'skipped')                     AS skipped,
    count(*) FILTER (WHERE outcome IS NULL)                         AS running,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
        FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS p50_ms,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms)
        FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS p90_ms,
    count(duration_ms)
        FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS timed_runs,
    count(DISTINCT repo) FILTER (WHERE repo IN (SELECT repo FROM installed))     AS repositories,
    count(DISTINCT repo) FILTER (WHERE repo NOT IN (SELECT repo FROM installed)) AS outside_app
"""

# A failure followed by a success of the same commit is flaky (DESIGN.md).
_FLAKY = """
    SELECT task, period, count(*) AS flaky FROM (
        SELECT task, period
        FROM runs WHERE sha IS NOT NULL
        GROUP BY task, period, repo, sha
        HAVING min(started_at) FILTER (WHERE outcome IN ('failure', 'timed_out'))
             < max(started_at) FILTER (WHERE outcome = 'success')
    ) AS commits GROUP BY task, period
"""

SELECT_TASK_PERIODS = f"""
WITH installed AS ({_INSTALLED}),
runs AS (
    SELECT f.*, CASE WHEN f.started_at >= $6 THEN 'current' ELSE 'previous' END AS period
    FROM ({_FILTERED_RUNS}) AS f
),
flaky AS ({_FLAKY})
SELECT s.*, coalesce(flaky.flaky, 0) AS flaky FROM (
    SELECT task, period, (array_agg(kind ORDER BY started_at DESC))[1] AS kind, {_STATS_COLUMNS}
    FROM runs GROUP BY task, period
) AS s
LEFT JOIN flaky USING (task, period)
"""

# $1 start (the previous period's), $2 end, $3 repository, $4 task, $5 current start.
SELECT_HAPPINESS_PERIODS = f"""
SELECT task, CASE WHEN created_at >= $5 THEN 'current' ELSE 'previous' END AS period,
       avg(score)::float8 AS mean, count(*) AS responses
FROM ({_rated("$1", "$2", "$3")}) AS rated
WHERE $4::text IS NULL OR task = $4
GROUP BY 1, 2
"""

# $1 start, $2 end, $3 repository, $4 task.
SELECT_HAPPINESS_WEEKS = f"""
SELECT date_trunc('week', created_at AT TIME ZONE 'UTC') AS week,
       avg(score)::float8 AS mean, count(*) AS responses
FROM ({_rated("$1", "$2", "$3")}) AS rated
WHERE task = $4
GROUP BY 1
"""

# The latest worded responses about a task: $1 start, $2 end, $3 repository, $4 task, $5 limit.
SELECT_COMMENTS = f"""
SELECT h.repository, h.pull_request, h.author, h.score, h.words, h.created_at
FROM happiness h
WHERE h.words IS NOT NULL
  AND h.comment_id IN (SELECT comment_id FROM ({_rated("$1", "$2", "$3")}) AS rated
                       WHERE task = $4)
ORDER BY h.created_at DESC, h.comment_id DESC
LIMIT $5
"""

SELECT_VERSIONS = f"""
WITH runs AS ({_FILTERED_RUNS})
SELECT version,
       count(DISTINCT repo) AS repositories,
       count(*) AS runs,
       count(*) FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS decisive_runs,
       count(*) FILTER (WHERE outcome = 'success') AS succeeded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
           FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS p50_ms,
       max(started_at) AS last_run_at
FROM runs GROUP BY version
ORDER BY max(started_at) DESC, version
"""

SELECT_INSTALLED_COUNT = f"SELECT count(*) FROM ({_installed('$1')}) AS installed"

SELECT_WEEKS = f"""
WITH installed AS ({_INSTALLED}),
runs AS (
    SELECT f.*, date_trunc('week', f.started_at AT TIME ZONE 'UTC') AS week
    FROM ({_FILTERED_RUNS}) AS f
)
SELECT week, {_STATS_COLUMNS}, 0 AS flaky
FROM runs GROUP BY week ORDER BY week
"""

SELECT_REPOSITORIES = f"""
WITH installed AS ({_INSTALLED}),
runs AS ({_FILTERED_RUNS}),
latest AS (
    -- Each repository's latest commit, and how the latest finished run of it ended.
    SELECT DISTINCT ON (repo) repo, sha, started_at FROM runs
    WHERE outcome IS NOT NULL ORDER BY repo, started_at DESC
),
latest_outcome AS (
    SELECT DISTINCT ON (r.repo) r.repo, r.outcome FROM runs r
    JOIN latest l ON l.repo = r.repo AND r.sha IS NOT DISTINCT FROM l.sha
    WHERE r.outcome IS NOT NULL ORDER BY r.repo, r.started_at DESC
)
SELECT
    (array_agg(r.repository ORDER BY r.started_at DESC))[1] AS repository,
    count(*) AS runs,
    count(*) FILTER (WHERE r.outcome IN ('success', 'failure', 'timed_out')) AS decisive_runs,
    count(*) FILTER (WHERE r.outcome IN ('failure', 'timed_out')) AS failed,
    count(*) FILTER (WHERE r.outcome = 'success') AS succeeded,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms)
        FILTER (WHERE r.outcome IN ('success', 'failure', 'timed_out')) AS p50_ms,
    count(r.duration_ms)
        FILTER (WHERE r.outcome IN ('success', 'failure', 'timed_out')) AS timed_runs,
    max(r.started_at) AS last_run_at,
    min(lo.outcome) AS last_outcome
FROM runs r LEFT JOIN latest_outcome lo ON lo.repo = r.repo
GROUP BY r.repo
"""

SELECT_REPOSITORY_NAMES = """
SELECT (array_agg(repository ORDER BY started_at DESC))[1] AS repository
FROM task_runs WHERE started_at >= $1
GROUP BY lower(repository) ORDER BY 1
"""

SELECT_KIND = """
SELECT kind FROM task_runs WHERE task = $1 ORDER BY started_at DESC LIMIT 1
"""

SELECT_HOLDS_DEMO_DATA = """
SELECT EXISTS (SELECT 1 FROM task_runs WHERE repository LIKE $1 || '/%')
"""


@dataclass(frozen=True)
class Scorecard:
    """The scorecard view: every task's card for one window and its previous one."""

    filters: Filters
    installed_repositories: int
    cards: list[TaskCard]


@dataclass(frozen=True)
class TaskDetail:
    """The task page: its card, weekly trends, version mix, repositories and comments."""

    filters: Filters
    card: TaskCard | None
    weeks: list[WeekStats]
    versions: list[VersionStats]
    repositories: list[RepositoryStats]
    comments: list[Comment]


def _args(f: Filters, since: datetime) -> tuple[object, ...]:
    return (since, f.until, f.repository, f.task, f.kind)


def _stats(row: asyncpg.Record) -> PeriodStats:
    return PeriodStats(
        runs=row["runs"],
        succeeded=row["succeeded"],
        failed=row["failed"],
        timed_out=row["timed_out"],
        cancelled=row["cancelled"],
        skipped=row["skipped"],
        running=row["running"],
        flaky=row["flaky"],
        p50_ms=row["p50_ms"],
        p90_ms=row["p90_ms"],
        timed_runs=row["timed_runs"],
        repositories=row["repositories"],
        outside_app_repositories=row["outside_app"],
    )


async def scorecard(conn: asyncpg.Connection, f: Filters) -> Scorecard:
    """Every task's HEAT figures for ``f``'s window against the window before it."""
    installed = await installed_count(conn, f)
    rows = await conn.fetch(SELECT_TASK_PERIODS, *_args(f, f.previous_since), f.since)
    happiness = {
        (row["task"], row["period"]): (row["mean"], row["responses"])
        for row in await conn.fetch(
            SELECT_HAPPINESS_PERIODS, f.previous_since, f.until, f.repository, f.task, f.since
        )
    }
    cards = build_cards(
        (
            (row["task"], row["kind"], row["period"], _with_happiness(
                _stats(row), happiness.get((row["task"], row["period"]))
            ))
            for row in rows
        ),
        installed,
    )  # fmt: skip
    return Scorecard(filters=f, installed_repositories=installed, cards=cards)


def _with_happiness(stats: PeriodStats, found: tuple[float, int] | None) -> PeriodStats:
    if found is None:
        return stats
    return replace(stats, happiness_mean=found[0], happiness_responses=found[1])


async def task_detail(conn: asyncpg.Connection, f: Filters) -> TaskDetail:
    """One task (``f.task``, required) in depth."""
    if f.task is None:
        raise ValueError("task_detail needs filters with a task")
    card = next(iter((await scorecard(conn, f)).cards), None)
    trend_since = min(f.since, f.until - timedelta(weeks=TREND_WEEKS))
    weekly_happiness = {
        row["week"].date(): (row["mean"], row["responses"])
        for row in await conn.fetch(
            SELECT_HAPPINESS_WEEKS, trend_since, f.until, f.repository, f.task
        )
    }
    weeks = fill_weeks(
        [
            WeekStats(week=row["week"], stats=_stats(row))
            for row in await conn.fetch(SELECT_WEEKS, *_args(f, trend_since))
        ],
        trend_since,
        f.until,
    )
    weeks = [
        WeekStats(w.week, _with_happiness(w.stats, weekly_happiness.get(w.week.date())))
        for w in weeks
    ]
    repositories = [
        RepositoryStats(
            repository=row["repository"],
            runs=row["runs"],
            decisive_runs=row["decisive_runs"],
            failed=row["failed"],
            success_rate=_rate(row["succeeded"], row["decisive_runs"]),
            p50_ms=row["p50_ms"],
            timed_runs=row["timed_runs"],
            failing=row["last_outcome"] in ("failure", "timed_out"),
            last_run_at=row["last_run_at"],
            last_outcome=row["last_outcome"],
        )
        for row in await conn.fetch(SELECT_REPOSITORIES, *_args(f, f.since))
    ]
    versions = [
        VersionStats(
            version=row["version"],
            repositories=row["repositories"],
            runs=row["runs"],
            decisive_runs=row["decisive_runs"],
            success_rate=_rate(row["succeeded"], row["decisive_runs"]),
            p50_ms=row["p50_ms"],
            last_run_at=row["last_run_at"],
        )
        for row in await conn.fetch(SELECT_VERSIONS, *_args(f, f.since))
    ]
    comments = [
        Comment(**row)
        for row in await conn.fetch(
            SELECT_COMMENTS, f.since, f.until, f.repository, f.task, COMMENTS_SHOWN
        )
    ]
    return TaskDetail(
        filters=f,
        card=card,
        weeks=weeks,
        versions=versions,
        repositories=repositories,
        comments=comments,
    )


def _rate(succeeded: int, decisive: int) -> float | None:
    return succeeded / decisive if decisive else None


async def repository_names(conn: asyncpg.Connection, since: datetime) -> list[str]:
    """Repositories with runs since ``since``, for the page's filter."""
    return [row["repository"] for row in await conn.fetch(SELECT_REPOSITORY_NAMES, since)]


async def installed_count(conn: asyncpg.Connection, f: Filters) -> int:
    """Repositories where the app is installed now (only ``f.repository`` when set)."""
    return await conn.fetchval(SELECT_INSTALLED_COUNT, f.repository)


async def task_kind(conn: asyncpg.Connection, task: str) -> str | None:
    """The task's latest kind; None when it never ran."""
    return await conn.fetchval(SELECT_KIND, task)


async def holds_demo_data(conn: asyncpg.Connection, org: str) -> bool:
    return await conn.fetchval(SELECT_HOLDS_DEMO_DATA, org)
