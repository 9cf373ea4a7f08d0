"""A finished job: closes the task runs it left open, turns its steps into task runs.

One handler for ``workflow_job`` ``completed``, in one order: GitHub's Router keeps its
handlers in a set, so two handlers of one event would run in an order nobody chose.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from gidgethub import routing, sansio

from ..http.field_schemas import INT32_MAX
from ..jobs.model import Job, job_from_payload
from ..jobs.store import lock_run_attempt, record_job
from ..outbox.comment import request_comments
from ..tasks.store import list_task_definitions
from .payloads import (
    OPTIONAL_SHA,
    OPTIONAL_TIMESTAMP,
    REPOSITORY,
    identifier,
    obj,
    optional_identifier,
    optional_text,
    reads,
    repository_name,
    required_text,
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


# Names are stored and indexed with the run's key: 255 characters at most.
JOB_FIELDS = obj(
    ["workflow_job", "repository"],
    repository=REPOSITORY,
    workflow_job=obj(
        ["id", "run_id", "name"],
        id=identifier(),
        run_id=identifier(),
        run_attempt=optional_identifier(INT32_MAX),
        name=required_text(255),
        workflow_name=optional_text(255),
        head_sha=OPTIONAL_SHA,
        head_branch=optional_text(255),
        status=optional_text(50),
        conclusion=optional_text(50),
        created_at=OPTIONAL_TIMESTAMP,
        started_at=OPTIONAL_TIMESTAMP,
        completed_at=OPTIONAL_TIMESTAMP,
        labels={"type": ["array", "null"], "items": required_text(255)},
        runner_name=optional_text(255),
        runner_group_name=optional_text(255),
        steps={
            "type": ["array", "null"],
            "items": obj(
                ["name", "number"],
                name=required_text(255),
                number=identifier(INT32_MAX),
                status=optional_text(50),
                conclusion=optional_text(50),
                started_at=OPTIONAL_TIMESTAMP,
                completed_at=OPTIONAL_TIMESTAMP,
            ),
        },
    ),
)


@router.register("workflow_job", action="completed")
@reads(JOB_FIELDS)
async def record_finished_job(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    # Signed by GitHub (checked in routes.py), so no secret is needed in the workflow:
    # pull requests from forks are measured here although their runs cannot report.
    job = job_from_payload(repository_name(event.data), event.data["workflow_job"])
    # Before any row of the attempt is locked: see jobs.store.LOCK_RUN_ATTEMPT.
    await lock_run_attempt(db, job.repository, job.run_id, job.run_attempt)
    await close_unfinished_tasks(db, job)
    recorded = await record_job(db, job, await list_task_definitions(db), source="job_step")
    if recorded.task_runs:
        log.info(
            "job steps recorded as task runs",
            repository=job.repository,
            run_id=job.run_id,
            job=job.name,
            task_runs=recorded.task_runs,
            pull_requests=sorted(recorded.pull_requests),
        )


async def close_unfinished_tasks(db: asyncpg.Connection, job: Job) -> None:
    """End the task runs the action started in ``job`` and never finished, as the job did."""
    if job.completed_at is None:
        return
    outcome = JOB_CONCLUSION_TO_OUTCOME.get(job.conclusion or "", UNKNOWN_END)
    closed = await db.fetch(
        CLOSE_UNFINISHED,
        job.repository,
        job.run_id,
        job.run_attempt,
        job.runner_name,
        job.name,
        outcome,
        job.completed_at,
    )
    if not closed:
        return
    log.info(
        "closed unfinished task runs",
        repository=job.repository,
        run_id=job.run_id,
        tasks=[row["task"] for row in closed],
        outcome=outcome,
        conclusion=job.conclusion,
    )
    await request_comments(
        db, {(job.repository, row["pull_request"]) for row in closed if row["pull_request"]}
    )
