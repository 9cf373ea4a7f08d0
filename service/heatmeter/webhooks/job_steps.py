"""Turns a finished job's steps into task runs by the task definitions; records its queue time."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from gidgethub import routing, sansio

from ..http.field_schemas import INT32_MAX
from ..jobs.model import job_from_payload
from ..jobs.store import record_job
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
async def record_job_steps(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    # Signed by GitHub (checked in routes.py), so no secret is needed in the workflow:
    # pull requests from forks are measured here although their runs cannot report.
    job = job_from_payload(repository_name(event.data), event.data["workflow_job"])
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
