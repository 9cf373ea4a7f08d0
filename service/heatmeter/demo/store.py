"""Writes the demo history, replacing any earlier demo rows, and refuses to mix with real data.

Demo rows are recognised by their owner (``DEMO_ORG``) and installation id, so writing
the demo again replaces them in one transaction: running `heatmeter demo` twice leaves
one demo history, moved up to the present.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from ..rollups import refresh_rollups
from .history import DEMO_INSTALLATION_ID, DEMO_ORG, History, Rating, Run

_DEMO_PATTERN = DEMO_ORG + "/%"
# heat_refresh_rollups()'s advisory lock ('heatroll' in ASCII, sql/007).
ROLLUP_LOCK_ID = 7522537965574564972

SELECT_REAL_DATA = """
SELECT
    (SELECT count(*) FROM task_runs WHERE repository NOT LIKE $1) AS task_runs,
    (SELECT count(*) FROM installations WHERE installation_id <> $2) AS installations,
    (SELECT count(*) FROM pull_requests WHERE repository NOT LIKE $1) AS pull_requests,
    (SELECT count(*) FROM happiness WHERE repository NOT LIKE $1) AS happiness
"""

DELETE_DEMO_RUNS = "DELETE FROM task_runs WHERE repository LIKE $1"
DELETE_DEMO_PULL_REQUESTS = "DELETE FROM pull_requests WHERE repository LIKE $1"
DELETE_DEMO_HAPPINESS = "DELETE FROM happiness WHERE repository LIKE $1"
# installation_repositories go with it (ON DELETE CASCADE).
DELETE_DEMO_INSTALLATION = "DELETE FROM installations WHERE installation_id = $1"

INSERT_INSTALLATION = "INSERT INTO installations (installation_id, account) VALUES ($1, $2)"

RUN_COLUMNS = (
    "repository", "workflow", "run_id", "run_attempt", "job", "task", "kind", "step_id",
    "started_at", "finished_at", "duration_ms", "outcome", "sha", "ref", "head_ref",
    "pull_request", "event_name", "runner_os", "runner_name", "actor", "auth_method",
    "closed_by", "version",
)  # fmt: skip

HAPPINESS_COLUMNS = (
    "comment_id", "repository", "pull_request", "author", "task", "score", "words",
    "created_at", "updated_at",
)  # fmt: skip

INSERT_PULL_REQUEST = """
INSERT INTO pull_requests (repository, number, head_sha, head_ref, head_repository, base_ref,
    default_branch, state, installation_id, opened_at)
VALUES ($1, $2, $3, $4, $1, 'main', 'main', 'open', $5, $6)
"""


class RealDataPresent(Exception):
    """The database holds rows that are not demo rows; the message says which."""


@dataclass(frozen=True)
class Written:
    runs: int
    ratings: int
    repositories: int
    replaced_runs: int


async def real_data(conn: asyncpg.Connection) -> dict[str, int]:
    """Counts of rows that are not demo rows, by table; all zero in a demo-only database."""
    row = await conn.fetchrow(SELECT_REAL_DATA, _DEMO_PATTERN, DEMO_INSTALLATION_ID)
    return {name: count for name, count in row.items() if count}


async def write_demo(conn: asyncpg.Connection, history: History, *, force: bool) -> Written:
    """Replace the demo rows with ``history``; refuse next to real data unless ``force``."""
    async with conn.transaction():
        # One demo writer at a time: two at once would each delete, then both insert.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('heatmeter demo'))")
        # And no roll-up refresh meanwhile (sql/007's lock): the rebuild below then runs
        # in this transaction, seeing the demo rows as they will be committed.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ROLLUP_LOCK_ID)
        if not force and (found := await real_data(conn)):
            counts = ", ".join(f"{count} {table}" for table, count in found.items())
            raise RealDataPresent(f"this database holds real data ({counts})")
        replaced = await conn.fetchval(
            "SELECT count(*) FROM task_runs WHERE repository LIKE $1", _DEMO_PATTERN
        )
        await conn.execute(DELETE_DEMO_RUNS, _DEMO_PATTERN)
        await conn.execute(DELETE_DEMO_PULL_REQUESTS, _DEMO_PATTERN)
        await conn.execute(DELETE_DEMO_HAPPINESS, _DEMO_PATTERN)
        await conn.execute(DELETE_DEMO_INSTALLATION, DEMO_INSTALLATION_ID)
        await conn.execute(INSERT_INSTALLATION, DEMO_INSTALLATION_ID, DEMO_ORG)
        await conn.executemany(
            "INSERT INTO installation_repositories (installation_id, repository) VALUES ($1, $2)",
            [(DEMO_INSTALLATION_ID, name) for name in history.installed],
        )
        await conn.copy_records_to_table(
            "task_runs", columns=RUN_COLUMNS, records=[_record(run) for run in history.runs]
        )
        await conn.copy_records_to_table(
            "happiness", columns=HAPPINESS_COLUMNS,
            records=[_rating_record(rating) for rating in history.ratings],
        )  # fmt: skip
        # A rebuild, not a refresh: the deleted demo runs leave no trace a refresh could
        # follow, and their days must leave the roll-ups too.
        await refresh_rollups(conn, rebuild=True)
        if history.open_pull_request is not None:
            repo, number, sha, branch, opened = history.open_pull_request
            await conn.execute(
                INSERT_PULL_REQUEST, repo, number, sha, branch, DEMO_INSTALLATION_ID, opened
            )
    return Written(
        runs=len(history.runs),
        ratings=len(history.ratings),
        repositories=len({run.repository for run in history.runs}),
        replaced_runs=replaced,
    )


def _record(run: Run) -> tuple[object, ...]:
    finished = run.started_at + timedelta(milliseconds=run.duration_ms or 0)
    return (
        run.repository, "Platform", run.run_id, run.run_attempt, run.task, run.task, run.kind,
        "heatmeter", run.started_at, finished, run.duration_ms, run.outcome, run.sha, run.ref,
        None, run.pull_request, "pull_request" if run.pull_request else "push", "Linux",
        "GitHub Actions", "demo-bot", "hmac", "report", run.version,
    )  # fmt: skip


def _rating_record(rating: Rating) -> tuple[object, ...]:
    return (
        rating.comment_id, rating.repository, rating.pull_request, rating.author, rating.task,
        rating.score, rating.words or None, rating.created_at, rating.created_at,
    )  # fmt: skip
