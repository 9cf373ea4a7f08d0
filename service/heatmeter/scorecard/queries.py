"""The scorecard's SQL: one query function per view, each returning plain data.

Everything the page, /v1/summary and `heatmeter report` show is read here and nowhere
else. The figures come from issue 7's daily roll-ups through heat_figures() (sql/007),
so a page costs a few thousand roll-up rows however many runs there are; only the
"latest run" of each repository is read from task_runs, one index probe per repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

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

# heat_figures(since, until, by_week, by_version, only_repository, only_kind) computes
# every HEAT figure per task for the UTC days [since, until); $7 narrows to one task.
SELECT_FIGURES = """
SELECT * FROM heat_figures($1::date, $2::date, $3, $4, $5, $6)
WHERE $7::text IS NULL OR task = $7
"""

# Repositories where the App is installed now (one of them only, when $1 is set).
SELECT_INSTALLED_COUNT = """
SELECT count(*) FROM heat_installed_repositories
WHERE $1::text IS NULL OR repository_key = heat_repository_key($1)
"""

# One task per repository over the UTC days [$2, $3), from the per-repository roll-up,
# with each repository's latest finished run (one probe of task_runs' (repository, task,
# started_at) index each): "failing" means it failed (DESIGN.md). Renames are followed.
SELECT_REPOSITORIES = """
WITH days AS (
    SELECT coalesce(ren.new_key, lower(d.repository)) AS key, d.*
    FROM task_repository_daily AS d
    LEFT JOIN repository_renames AS ren ON ren.old_key = lower(d.repository)
    WHERE d.task = $1 AND d.day >= $2::date AND d.day < $3::date
      AND ($4::text IS NULL OR coalesce(ren.new_key, lower(d.repository))
                               = heat_repository_key($4))
), counts AS (
    SELECT key, (array_agg(repository ORDER BY day DESC))[1] AS repository,
           array_agg(DISTINCT repository) AS names,
           sum(runs)::bigint AS runs, sum(success)::bigint AS success,
           sum(failure + timed_out)::bigint AS failed, sum(timed_runs)::bigint AS timed_runs
    FROM days GROUP BY key
), durations AS (
    SELECT key, heat_digest_percentiles(
               array_agg(u.bucket), array_agg(u.n), array_agg(u.total), '{0.5}'
           ) AS p
    FROM days CROSS JOIN LATERAL unnest(duration_buckets, duration_counts, duration_sums)
        AS u(bucket, n, total)
    GROUP BY key
)
SELECT c.repository, c.runs, c.success + c.failed AS decisive_runs, c.failed, c.success,
       c.timed_runs, d.p[1] AS p50_ms, latest.started_at AS last_run_at,
       latest.outcome AS last_outcome
FROM counts AS c
LEFT JOIN durations AS d USING (key)
LEFT JOIN LATERAL (
    SELECT r.started_at, r.outcome FROM unnest(c.names) AS n(name)
    CROSS JOIN LATERAL (
        SELECT started_at, outcome FROM task_runs
        WHERE repository = n.name AND task = $1 AND outcome IS NOT NULL
          AND started_at < $3::date::timestamp AT TIME ZONE 'UTC'
        ORDER BY started_at DESC LIMIT 1
    ) AS r
    ORDER BY r.started_at DESC LIMIT 1
) AS latest ON true
"""

# The latest worded responses about a task in [$2, $3), newest first ($4 repository).
SELECT_COMMENTS = """
SELECT h.repository, h.pull_request, h.author, h.score, h.words, h.created_at
FROM heat_happiness_by_task AS h
WHERE h.task = $1 AND h.words IS NOT NULL
  AND h.created_at >= $2 AND h.created_at < $3
  AND ($4::text IS NULL OR heat_repository_key(h.repository) = heat_repository_key($4))
ORDER BY h.created_at DESC, h.comment_id DESC
LIMIT $5
"""

# The repository filter offers the repositories where the App is installed: a small
# table, where listing every repository of a year of roll-ups would read millions of rows.
SELECT_REPOSITORY_NAMES = """
SELECT repository FROM heat_installed_repositories ORDER BY lower(repository)
"""

SELECT_KIND = """
SELECT kind FROM task_daily WHERE task = $1 ORDER BY day DESC LIMIT 1
"""

# `heatmeter demo` always writes its installation: a primary-key probe, where a LIKE on
# task_runs would read the whole table on every page of a database without demo data.
SELECT_HOLDS_DEMO_DATA = """
SELECT EXISTS (SELECT 1 FROM installations WHERE installation_id = $1)
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


def _day(moment: datetime) -> date:
    return moment.date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _stats(row: asyncpg.Record) -> PeriodStats:
    return PeriodStats(
        runs=row["runs"],
        succeeded=row["success"],
        failed=row["failure"],
        timed_out=row["timed_out"],
        cancelled=row["cancelled"],
        skipped=row["skipped"],
        running=row["unfinished"],
        first_successes=row["first_successes"],
        attempts_to_first_success=_float(row["attempts_to_first_success"]),
        p50_ms=row["p50_ms"],
        p90_ms=row["p90_ms"],
        timed_runs=row["timed_runs"],
        repositories=row["adopting_repositories"],
        outside_app_repositories=row["outside_app_repositories"],
        happiness_mean=_float(row["happiness_mean"]),
        happiness_responses=row["happiness_responses"],
    )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


async def _figures(
    conn: asyncpg.Connection,
    f: Filters,
    since: datetime,
    until: datetime,
    *,
    by_week: bool = False,
    by_version: bool = False,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        SELECT_FIGURES, _day(since), _day(until), by_week, by_version,
        f.repository, f.kind, f.task,
    )  # fmt: skip


async def scorecard(conn: asyncpg.Connection, f: Filters) -> Scorecard:
    """Every task's HEAT figures for ``f``'s window against the window before it."""
    installed = await installed_count(conn, f)
    rows = [
        (row["task"], row["kind"], period, _stats(row))
        for period, since, until in (
            ("current", f.since, f.until),
            ("previous", f.previous_since, f.since),
        )
        for row in await _figures(conn, f, since, until)
    ]
    return Scorecard(
        filters=f, installed_repositories=installed, cards=build_cards(rows, installed)
    )


async def task_detail(conn: asyncpg.Connection, f: Filters) -> TaskDetail:
    """One task (``f.task``, required) in depth."""
    if f.task is None:
        raise ValueError("task_detail needs filters with a task")
    card = next(iter((await scorecard(conn, f)).cards), None)
    trend_since = min(f.since, f.until - timedelta(weeks=TREND_WEEKS))
    weeks = [
        WeekStats(week=_midnight(row["period_start"]), stats=_stats(row))
        for row in await _figures(conn, f, trend_since, f.until, by_week=True)
    ]
    versions = [
        VersionStats(
            version=row["version"],
            repositories=row["repositories"],
            runs=row["runs"],
            decisive_runs=row["success"] + row["failure"] + row["timed_out"],
            success_rate=_float(row["success_rate"]),
            p50_ms=row["p50_ms"],
            last_run_at=_midnight(row["last_day"]),
        )
        for row in sorted(
            await _figures(conn, f, f.since, f.until, by_version=True),
            key=lambda row: (row["last_day"], row["runs"]),
            reverse=True,
        )
        if row["runs"]
    ]
    repositories = [
        RepositoryStats(
            repository=row["repository"],
            runs=row["runs"],
            decisive_runs=row["decisive_runs"],
            failed=row["failed"],
            success_rate=row["success"] / row["decisive_runs"] if row["decisive_runs"] else None,
            p50_ms=row["p50_ms"],
            timed_runs=row["timed_runs"],
            failing=row["last_outcome"] in ("failure", "timed_out"),
            last_run_at=row["last_run_at"],
            last_outcome=row["last_outcome"],
        )
        for row in await conn.fetch(
            SELECT_REPOSITORIES, f.task, _day(f.since), _day(f.until), f.repository
        )
    ]
    comments = [
        Comment(**row)
        for row in await conn.fetch(
            SELECT_COMMENTS, f.task, f.since, f.until, f.repository, COMMENTS_SHOWN
        )
    ]
    return TaskDetail(
        filters=f,
        card=card,
        weeks=fill_weeks(weeks, trend_since, f.until),
        versions=versions,
        repositories=repositories,
        comments=comments,
    )


async def installed_count(conn: asyncpg.Connection, f: Filters) -> int:
    """Repositories where the app is installed now (only ``f.repository`` when set)."""
    return await conn.fetchval(SELECT_INSTALLED_COUNT, f.repository)


async def repository_names(conn: asyncpg.Connection) -> list[str]:
    """Repositories where the App is installed, for the page's filter."""
    return [row["repository"] for row in await conn.fetch(SELECT_REPOSITORY_NAMES)]


async def task_kind(conn: asyncpg.Connection, task: str) -> str | None:
    """The task's latest kind; None when it never ran."""
    return await conn.fetchval(SELECT_KIND, task)


async def holds_demo_data(conn: asyncpg.Connection, installation_id: int) -> bool:
    """Whether `heatmeter demo` has written into this database (its installation is there)."""
    return await conn.fetchval(SELECT_HOLDS_DEMO_DATA, installation_id)
