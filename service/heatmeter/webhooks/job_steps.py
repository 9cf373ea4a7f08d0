"""Turns a finished job's steps into task runs by the task definitions; records its queue time."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from gidgethub import routing, sansio

from ..jobs.model import job_from_payload
from ..jobs.store import record_job
from ..tasks.store import list_task_definitions
from .payloads import repository_name

log = structlog.get_logger(__name__)
router = routing.Router()


@router.register("workflow_job", action="completed")
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
