"""Loads what a PR's summary comment shows: its task runs and the default branch's baseline."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import asyncpg

from ..summary.metrics import TIMED_OUTCOMES, RunSample, TaskSummary, summarize_task

# The trailing window a PR's durations are compared with, and how many of its runs.
BASELINE_DAYS = 28
BASELINE_RUNS_PER_TASK = 200

SELECT_PULL_REQUEST = """
SELECT coalesce(default_branch, base_ref) AS default_branch
FROM pull_requests WHERE repository = $1 AND number = $2
"""

SELECT_PR_RUNS = """
SELECT task, kind, run_id, run_attempt, outcome, duration_ms, started_at
FROM task_runs
WHERE repository = $1 AND pull_request = $2
ORDER BY task, started_at
"""

# Newest runs of each of the PR's tasks on the default branch, within the window.
SELECT_BASELINE = """
SELECT t.task, b.duration_ms, b.outcome
FROM unnest($3::text[]) AS t(task)
CROSS JOIN LATERAL (
    SELECT duration_ms, outcome FROM task_runs
    WHERE repository = $1 AND task = t.task AND ref = $2
      AND outcome IS NOT NULL
      AND started_at >= now() - make_interval(days => $4)
    ORDER BY started_at DESC
    LIMIT $5
) AS b
"""

SELECT_COMMENT = """
SELECT comment_id, body_sha256 FROM pr_comments WHERE repository = $1 AND pull_request = $2
"""

UPSERT_COMMENT = """
INSERT INTO pr_comments (repository, pull_request, comment_id, body_sha256)
VALUES ($1, $2, $3, $4)
ON CONFLICT (repository, pull_request) DO UPDATE SET
    comment_id = EXCLUDED.comment_id, body_sha256 = EXCLUDED.body_sha256, written_at = now()
"""


@dataclass(frozen=True)
class WrittenComment:
    comment_id: int
    body_sha256: str


def run_url(web_url: str, repository: str, run_id: int, run_attempt: int) -> str:
    return f"{web_url}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"


async def load_summaries(
    conn: asyncpg.Connection, repository: str, pull_request: int, *, web_url: str
) -> list[TaskSummary]:
    runs: dict[str, list[RunSample]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for row in await conn.fetch(SELECT_PR_RUNS, repository, pull_request):
        kinds[row["task"]] = row["kind"]
        runs[row["task"]].append(
            RunSample(
                run_id=row["run_id"],
                run_attempt=row["run_attempt"],
                outcome=row["outcome"],
                duration_ms=row["duration_ms"],
                started_at=row["started_at"],
                url=run_url(web_url, repository, row["run_id"], row["run_attempt"]),
            )
        )
    if not runs:
        return []
    branch = await conn.fetchval(SELECT_PULL_REQUEST, repository, pull_request) or "main"
    durations: dict[str, list[int]] = defaultdict(list)
    outcomes: dict[str, list[str]] = defaultdict(list)
    for row in await conn.fetch(
        SELECT_BASELINE,
        repository,
        f"refs/heads/{branch}",
        list(runs),
        BASELINE_DAYS,
        BASELINE_RUNS_PER_TASK,
    ):
        outcomes[row["task"]].append(row["outcome"])
        if row["outcome"] in TIMED_OUTCOMES and row["duration_ms"] is not None:
            durations[row["task"]].append(row["duration_ms"])
    return [
        summarize_task(task, kinds[task], task_runs, durations[task], outcomes[task])
        for task, task_runs in runs.items()
    ]


async def written_comment(
    conn: asyncpg.Connection, repository: str, pull_request: int
) -> WrittenComment | None:
    row = await conn.fetchrow(SELECT_COMMENT, repository, pull_request)
    return WrittenComment(**row) if row else None


async def remember_comment(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment: WrittenComment
) -> None:
    await conn.execute(
        UPSERT_COMMENT, repository, pull_request, comment.comment_id, comment.body_sha256
    )
