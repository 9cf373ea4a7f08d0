"""Closes task runs that a cancelled, failed or killed job never finished."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from gidgethub import routing, sansio

from ..http.schemas import INT32_MAX
from ..jobs.store import lock_run_attempt
from ..outbox.comment import request_comments
from .payloads import (
    OPTIONAL_TIMESTAMP,
    REPOSITORY,
    github_time,
    identifier,
    obj,
    optional_identifier,
    optional_text,
    reads,
    repository_name,
)

log = structlog.get_logger(__name__)
router = routing.Router()

# The job's conclusion becomes the task's outcome. A job that succeeded around a task
# that never finished (its finish step was skipped or missing) says nothing about the
# task: it counts as cancelled, which is shown but stays out of the success rate.
JOB_CONCLUSION_TO_OUTCOME = {
    "failure": "failure",
    "cancelled": "cancelled",
    "timed_out": "timed_out",
    "skipped": "skipped",
}
UNKNOWN_END = "cancelled"

# The action reports RUNNER_NAME; the webhook names the runner that ran the job. A
# runner runs one job at a time, so run, attempt and runner pick out the job's tasks;
# reports without a runner name fall back to the job name (equal to GITHUB_JOB unless
# the job sets `name:` or runs in a matrix).
CLOSE_UNFINISHED = """
UPDATE task_runs SET
    outcome = $6,
    finished_at = greatest(started_at, $7),
    duration_ms = (extract(epoch FROM greatest(started_at, $7) - started_at) * 1000)::bigint,
    closed_by = 'workflow_job',
    updated_at = now()
WHERE repository = $1 AND run_id = $2 AND run_attempt = $3 AND outcome IS NULL
  AND (runner_name = $4 OR (runner_name IS NULL AND job = $5))
  AND started_at <= $7
RETURNING id, task, pull_request
"""


COMPLETED_JOB_FIELDS = obj(
    ["workflow_job", "repository"],
    repository=REPOSITORY,
    workflow_job=obj(
        ["run_id"],
        run_id=identifier(),
        run_attempt=optional_identifier(INT32_MAX),
        runner_name=optional_text(255),
        name=optional_text(255),
        conclusion=optional_text(50),
        completed_at=OPTIONAL_TIMESTAMP,
    ),
)


@router.register("workflow_job", action="completed")
@reads(COMPLETED_JOB_FIELDS)
async def close_unfinished_tasks(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    job = event.data["workflow_job"]
    completed_at = github_time(job.get("completed_at"))
    if completed_at is None:
        return
    repository = repository_name(event.data)
    # Before any row of the attempt is locked: see jobs.store.LOCK_RUN_ATTEMPT.
    await lock_run_attempt(db, repository, job["run_id"], job.get("run_attempt") or 1)
    outcome = JOB_CONCLUSION_TO_OUTCOME.get(job.get("conclusion") or "", UNKNOWN_END)
    closed = await db.fetch(
        CLOSE_UNFINISHED,
        repository,
        job["run_id"],
        job.get("run_attempt") or 1,
        job.get("runner_name"),
        job.get("name"),
        outcome,
        completed_at,
    )
    if not closed:
        return
    log.info(
        "closed unfinished task runs",
        repository=repository,
        run_id=job["run_id"],
        tasks=[row["task"] for row in closed],
        outcome=outcome,
        conclusion=job.get("conclusion"),
    )
    await request_comments(
        db, {(repository, row["pull_request"]) for row in closed if row["pull_request"]}
    )
