"""A small history whose scorecard figures are worked out by hand in the tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from heatmeter import clock

INSERT_RUN = """
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id,
    started_at, finished_at, duration_ms, outcome, sha, ref, auth_method, closed_by,
    pull_request, version)
VALUES ($1, 'CI', $2, $3, 'build', $4, $5, 'step', $6, $7, $8, $9, $10, 'refs/heads/main',
    'hmac', 'report', $11, $12)
"""

INSERT_RESPONSE = """
INSERT INTO happiness (comment_id, repository, pull_request, author, task, score, words,
    created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
"""

# Words a developer might type that must come out as text, never as markup.
MARKUP_WORDS = '<b>loud</b> & "quoted" <script>alert(1)</script>'


async def insert_response(
    conn: asyncpg.Connection,
    *,
    comment_id: int,
    repository: str,
    pull_request: int,
    task: str | None,
    score: int,
    created_at: datetime,
    words: str | None = None,
    author: str = "octocat",
) -> None:
    await conn.execute(
        INSERT_RESPONSE,
        comment_id,
        repository,
        pull_request,
        author,
        task,
        score,
        words,
        created_at,
    )


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
    pull_request: int | None = None,
    version: str | None = None,
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
        pull_request,
        version,
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
    Happiness of deploy: 4, 5 and 3 naming it, and 2 naming no task on octo/a's pull
    request 7, where deploy ran: mean 3.5 of 4 responses; before, 5, 5, 5: change -1.5.
    Versions of deploy: the octo/a runs are v1 (5, one failed), Octo/B's v2.
    """
    now = now or clock.now()
    await install(conn, "octo/a", "octo/b", "octo/c")
    a, b = "a" * 40, "b" * 40
    # (repository, task, outcome, seconds, days ago, sha, pull request, version)
    runs = [
        *[
            ("octo/a", "deploy", "success", s, s // 10_000 + 1, a, 7, "v1")
            for s in (10_000, 20_000, 30_000, 40_000)
        ],
        ("octo/a", "deploy", "failure", 50_000, 1, b, 7, "v1"),
        ("Octo/B", "deploy", "success", 60_000, 3, a, None, "v2"),
        ("octo/b", "deploy", "cancelled", 5_000, 4, a, None, "v2"),
        ("octo/b", "deploy", "skipped", 5_000, 4, a, None, "v2"),
        ("other/x", "deploy", "success", 70_000, 5, a, None, None),
        *[("octo/a", "deploy", "success", 100_000, 30 + i, a, None, "v1") for i in range(5)],
        *[("octo/c", "scaffold", "success", 3_000, 1 + i, a, None, None) for i in range(2)],
    ]
    for run_id, (repo, task, outcome, ms, days, sha, pr, version) in enumerate(runs, 1):
        await insert_run(
            conn,
            repository=repo,
            task=task,
            outcome=outcome,
            duration_ms=ms,
            kind="scaffolding" if task == "scaffold" else "deploy",
            started_at=now - timedelta(days=days, hours=1),
            run_id=run_id,
            sha=sha,
            pull_request=pr,
            version=version,
        )
    responses = [
        ("deploy", 4, 1, None),
        ("deploy", 5, 2, MARKUP_WORDS),
        ("deploy", 3, 3, "slow lock"),
        (None, 2, 1, "the retry saved me"),
        *[("deploy", 5, 30 + i, None) for i in range(3)],
    ]
    for comment_id, (task, score, days, words) in enumerate(responses, 1):
        await insert_response(
            conn,
            comment_id=comment_id,
            repository="octo/a",
            pull_request=7,
            task=task,
            score=score,
            created_at=now - timedelta(days=days, hours=2),
            words=words,
        )
    await refresh(conn)
    return now


async def refresh(conn: asyncpg.Connection) -> None:
    """Bring the roll-ups the scorecard reads up to date (the service does it on a timer)."""
    assert await conn.fetchval("SELECT heat_refresh_rollups()") is not None
