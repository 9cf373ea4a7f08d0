"""A small history whose scorecard figures are worked out by hand in the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

INSERT_RUN = """
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id,
    started_at, finished_at, duration_ms, outcome, sha, ref, auth_method, closed_by)
VALUES ($1, 'CI', $2, $3, 'build', $4, $5, 'step', $6, $7, $8, $9, $10, 'refs/heads/main',
    'hmac', 'report')
"""


async def insert_run(
    conn: asyncpg.Connection,
    *,
    repository: str,
    task: str,
    outcome: str | None,
    duration_ms: int | None,
    started_at: datetime,
    kind: str = "deploy",
    run_id: int,
    run_attempt: int = 1,
    sha: str = "a" * 40,
) -> None:
    finished = None if outcome is None else started_at + timedelta(milliseconds=duration_ms or 0)
    await conn.execute(
        INSERT_RUN,
        repository,
        run_id,
        run_attempt,
        task,
        kind,
        started_at,
        finished,
        duration_ms,
        outcome,
        sha,
    )


async def install(conn: asyncpg.Connection, *repositories: str, installation_id: int = 1) -> None:
    await conn.execute(
        "INSERT INTO installations (installation_id, account) VALUES ($1, 'octo')"
        " ON CONFLICT DO NOTHING",
        installation_id,
    )
    await conn.executemany(
        "INSERT INTO installation_repositories (installation_id, repository) VALUES ($1, $2)",
        [(installation_id, repo) for repo in repositories],
    )


async def seed_known_history(conn: asyncpg.Connection, now: datetime | None = None) -> datetime:
    """The figures the tests expect, for the 28 days before ``now`` and the 28 before that.

    deploy, current window: octo/a 4 successes (10-40 s) + 1 failure (50 s); octo/b 1
    success (60 s), 1 cancelled, 1 skipped; other/x (no app) 1 success (70 s). So 6 of 7
    decisive runs succeeded (86 %), p50 of 10..70 s is 40 s, adoption 2 of 3 installed.
    Previous window: octo/a 5 successes of 100 s: 100 %, p50 100 s, adoption 1 of 3.
    scaffold: 2 successes only, too few to show a rate.
    """
    now = now or datetime.now(UTC)
    await install(conn, "octo/a", "octo/b", "octo/c")
    day = timedelta(days=1)
    run_id = iter(range(1, 1000))
    for i, ms in enumerate([10_000, 20_000, 30_000, 40_000]):
        await insert_run(
            conn,
            repository="octo/a",
            task="deploy",
            outcome="success",
            duration_ms=ms,
            started_at=now - (i + 2) * day,
            run_id=next(run_id),
        )
    await insert_run(
        conn,
        repository="octo/a",
        task="deploy",
        outcome="failure",
        duration_ms=50_000,
        started_at=now - 1 * day,
        run_id=next(run_id),
        sha="b" * 40,
    )
    await insert_run(
        conn,
        repository="Octo/B",
        task="deploy",
        outcome="success",
        duration_ms=60_000,
        started_at=now - 3 * day,
        run_id=next(run_id),
    )
    for outcome in ("cancelled", "skipped"):
        await insert_run(
            conn,
            repository="octo/b",
            task="deploy",
            outcome=outcome,
            duration_ms=5_000,
            started_at=now - 4 * day,
            run_id=next(run_id),
        )
    await insert_run(
        conn,
        repository="other/x",
        task="deploy",
        outcome="success",
        duration_ms=70_000,
        started_at=now - 5 * day,
        run_id=next(run_id),
    )
    for i in range(5):
        await insert_run(
            conn,
            repository="octo/a",
            task="deploy",
            outcome="success",
            duration_ms=100_000,
            started_at=now - (30 + i) * day,
            run_id=next(run_id),
        )
    for i in range(2):
        await insert_run(
            conn,
            repository="octo/c",
            task="scaffold",
            kind="scaffolding",
            outcome="success",
            duration_ms=3_000,
            started_at=now - (i + 1) * day,
            run_id=next(run_id),
        )
    return now
