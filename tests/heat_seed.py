"""A small history whose HEAT figures are worked out by hand (see ``seed_scorecard``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from heatmeter import clock

INSERT_RUN = """
INSERT INTO task_runs (
    repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at,
    finished_at, duration_ms, outcome, sha, pull_request, version, auth_method, closed_by
) VALUES ($1, 'CI', $2, $13, 'job', $3, $4, 'step', $5, $6, $7, $8, $9, $10, $11, 'hmac', $12)
"""

INSERT_RESPONSE = """
INSERT INTO happiness (
    comment_id, repository, pull_request, author, task, score, words, created_at, updated_at
) VALUES ($1, $2, $3, 'octocat', $4, $5, $6, $7, $7)
"""


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


async def install(
    conn: asyncpg.Connection,
    installation_id: int,
    *repositories: str,
    suspended: bool = False,
    deleted: bool = False,
) -> None:
    now = clock.now()
    await conn.execute(
        "INSERT INTO installations (installation_id, account, suspended_at, deleted_at) "
        "VALUES ($1, 'octo', $2, $3)",
        installation_id,
        now if suspended else None,
        now if deleted else None,
    )
    await conn.executemany(
        "INSERT INTO installation_repositories (installation_id, repository) VALUES ($1, $2)",
        [(installation_id, name) for name in repositories],
    )


async def insert_runs(conn: asyncpg.Connection, runs: list[tuple], first_run_id: int = 1) -> None:
    """Runs as (repository, task, version, outcome, ms, started_at, sha, PR, closed_by),
    optionally followed by (run id, attempt) for re-runs of one workflow run."""
    records = []
    for number, run in enumerate(runs, first_run_id):
        repository, task, version, outcome, ms, started, sha, pr, closed_by = run[:9]
        run_id, attempt = run[9] if len(run) > 9 else (number, 1)
        finished = None if outcome is None else started + timedelta(milliseconds=ms)
        records.append(
            (
                repository, run_id, task, "scaffolding" if task == "scaffold" else "deploy",
                started, finished, None if outcome is None else ms, outcome, sha, pr, version,
                None if outcome is None else closed_by, attempt,
            )
        )  # fmt: skip
    await conn.executemany(INSERT_RUN, records)


async def seed_scorecard(conn: asyncpg.Connection, today: date) -> None:
    """The scorecard's data set, around ``today`` (UTC).

    Installed now: Octo/Alpha, octo/beta, octo/gamma, octo/idle (4). octo/delta's
    installation is suspended and octo/epsilon's deleted: neither counts.

    deploy, last 28 days (12 runs): success 6, failure 2, timed_out 1, cancelled 1,
    skipped 1, unfinished 1 → success rate 6 / 9 = 0.6667. Measured durations (success,
    failure, timed_out, not closed by the job webhook): 10 15 20 25 30 40 50 60 s →
    p50 27.5 s, p90 53 s. First successes: PR 1 after 2 attempts, PR 2, OCTO/BETA's
    push, delta and hmac after 1, workflow run 7001 after 3 (timed out, re-run and
    failed, re-run and passed) → 9 / 6 = 1.5. Repositories:
    alpha, beta (reported as OCTO/BETA and octo/beta), gamma (its run is unfinished),
    delta, hmac/only → 5, of which 3 installed (0.75) and 2 outside the app.
    Happiness: 4 naming deploy, 2 naming nothing on PR 2 where deploy ran → 3.00 of 2
    (the 5 on PR 99, where nothing ran, rates no task).
    Versions: v1 runs 3 (2 of 3 succeeded), p50 of 10 15 30 s = 15 s, on alpha and delta;
    v2 runs 7 (3 of 5), p50 of 20 40 50 60 s = 45 s, on alpha and beta; unversioned 2
    (gamma's unfinished run and hmac's success, 25 s).

    deploy, the 28 days before (4 runs): success 2, failure 2 → 0.5; durations 100 100
    200 300 s → p50 150 s, p90 270 s; PR 10 after 1, PR 11 after 3 → 2.0; alpha only →
    1 of 4 = 0.25. Happiness 5.00 of 1.

    scaffold, last 28 days: one success of 3 s on octo/gamma → 1 of 4 installed.
    """
    await install(conn, 1, "Octo/Alpha", "octo/beta", "octo/gamma", "octo/idle")
    await install(conn, 2, "octo/delta", suspended=True)
    await install(conn, 3, "octo/epsilon", deleted=True)

    def ago(days: int, hour: int) -> datetime:
        return at(today - timedelta(days=days), hour)

    b1, b2, b3, x = "b1" * 20, "b2" * 20, "b3" * 20, "ee" * 20
    report, job = "report", "workflow_job"
    await insert_runs(
        conn,
        [
            ("octo/alpha", "deploy", "v1", "failure", 30_000, ago(3, 10), x, 1, report),
            ("octo/alpha", "deploy", "v1", "success", 10_000, ago(3, 11), x, 1, report),
            ("octo/alpha", "deploy", "v2", "success", 20_000, ago(2, 10), x, 2, report),
            ("OCTO/BETA", "deploy", "v2", "success", 40_000, ago(1, 10), b1, None, report),
            ("OCTO/BETA", "deploy", "v2", "cancelled", 5_000, ago(1, 11), b1, None, report),
            ("octo/beta", "deploy", "v2", "skipped", 1_000, ago(1, 12), b2, None, report),
            # One workflow run, re-run twice.
            (
                "octo/beta",
                "deploy",
                "v2",
                "timed_out",
                60_000,
                ago(1, 13),
                b3,
                None,
                report,
                (7001, 1),
            ),
            ("octo/beta", "deploy", "v2", "failure", 90_000, ago(1, 14), b3, None, job, (7001, 2)),
            (
                "octo/beta",
                "deploy",
                "v2",
                "success",
                50_000,
                ago(1, 15),
                b3,
                None,
                report,
                (7001, 3),
            ),
            ("octo/gamma", "deploy", None, None, 0, ago(1, 16), x, None, report),
            ("octo/delta", "deploy", "v1", "success", 15_000, ago(4, 10), x, None, report),
            ("hmac/only", "deploy", None, "success", 25_000, ago(5, 10), x, None, report),
            ("octo/gamma", "scaffold", None, "success", 3_000, ago(1, 9), x, None, report),
            # The 28 days before.
            ("octo/alpha", "deploy", "v1", "success", 100_000, ago(30, 10), x, 10, report),
            ("octo/alpha", "deploy", "v1", "failure", 100_000, ago(33, 10), x, 11, report),
            ("octo/alpha", "deploy", "v1", "failure", 200_000, ago(32, 10), x, 11, report),
            ("octo/alpha", "deploy", "v1", "success", 300_000, ago(31, 10), x, 11, report),
        ],
    )
    await conn.executemany(
        INSERT_RESPONSE,
        [
            (1, "Octo/Alpha", 1, "deploy", 4, "quick", ago(2, 9)),
            (2, "octo/alpha", 2, None, 2, "<b>slow</b> lock", ago(2, 12)),
            (3, "octo/alpha", 99, None, 5, None, ago(2, 13)),
            (4, "octo/alpha", 10, "deploy", 5, None, ago(31, 9)),
        ],
    )
