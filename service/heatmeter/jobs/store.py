"""Stores a finished job: its queue time, and its steps that match a task definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from ..outbox.comment import request_comments
from ..ownership import owning_pull_request
from ..task_runs import COLUMN_LIST, ON_KEY_CONFLICT, placeholders, values_in_order
from ..tasks.definitions import TaskDefinition
from .model import Job
from .origins import RunOrigin, known_origin, remember_origin
from .steps import queue_time, step_runs

Source = Literal["job_step", "backfill"]

# The run attempt's lock (sql/010: reports take it shared in the task_runs_action_wins
# trigger, job steps exclusive), taken before any of the attempt's rows is touched, so
# neither side waits for the other while holding a row the other needs.
LOCK_RUN_ATTEMPT = """
SELECT pg_advisory_xact_lock(1752460398, task_runs_lock_bucket($1, $2, $3))
"""

INSERT_QUEUE_TIME = """
INSERT INTO job_queue_times (
    repository, job_id, run_id, run_attempt, workflow, job, labels, self_hosted, runner_name,
    runner_group, conclusion, created_at, started_at, completed_at, queue_ms, source
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (repository, job_id) DO NOTHING
RETURNING job_id
"""

# Runs of the same step seen twice (a redelivery, the webhook then the backfill) share
# their idempotency key, so the second changes nothing. A row the action already reported
# is not inserted at all (the trigger returns NULL), which RETURNING shows as no row.
INSERT_STEP_RUN = f"""
INSERT INTO task_runs ({COLUMN_LIST}) VALUES ({placeholders()})
{ON_KEY_CONFLICT} DO NOTHING
RETURNING pull_request
"""  # noqa: S608 (built from heatmeter.task_runs' constants, no input)

# A commit that is the head of an open PR from a fork is the fork's, whatever its branch
# is called: a fork's `main` is not our default branch. workflow_job payloads do not say
# which repository a head came from (the backfill knows it from the run), so the PRs
# heatmeter has seen tell.
IS_FORK_HEAD = """
SELECT EXISTS (
    SELECT 1 FROM pull_requests
    WHERE repository = $1 AND state = 'open' AND head_sha = $2
      AND head_repository IS DISTINCT FROM repository
)
"""


@dataclass(frozen=True)
class Recorded:
    task_runs: int  # new task runs stored
    matched: int  # (step, definition) matches, stored now or before
    queue_times: int  # 1 when the job's queue time was new, else 0
    pull_requests: frozenset[int]  # PRs that got new task runs


async def lock_run_attempt(
    conn: asyncpg.Connection, repository: str, run_id: int, run_attempt: int
) -> None:
    await conn.execute(LOCK_RUN_ATTEMPT, repository, run_id, run_attempt)


async def record_job(
    conn: asyncpg.Connection,
    job: Job,
    definitions: list[TaskDefinition],
    *,
    source: Source,
    request_comment: bool = True,
) -> Recorded:
    """Store ``job``'s queue time and matching steps; call inside a transaction.

    ``request_comment``: ask for the summary comment of every PR that got new rows
    (the backfill asks only for open PRs, which this does by the ownership rule anyway).
    """
    await lock_run_attempt(conn, job.repository, job.run_id, job.run_attempt)
    queued = await _record_queue_time(conn, job, source)
    runs = step_runs(job, definitions)
    if not runs:
        return Recorded(0, 0, queued, frozenset())
    pull_request, ref, event = await _owner(conn, job)
    auth_method = "webhook" if source == "job_step" else "github_api"
    stored = 0
    prs: set[int] = set()
    for run in runs:
        # By name: a column task_runs gains is NULL for job steps until they know it.
        # A step has no exit code, runner OS (GitHub names only the runner), actor or
        # version of its own.
        step_run = {
            "repository": job.repository,
            "workflow": job.workflow or "",
            "run_id": job.run_id,
            "run_attempt": job.run_attempt,
            "job": job.name,
            "task": run.task,
            "kind": run.kind,
            "step_id": run.step_id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_ms": run.duration_ms,
            "outcome": run.outcome,
            "sha": job.head_sha,
            "ref": ref,
            "head_ref": job.head_branch,
            "pull_request": pull_request,
            "event_name": event,
            "runner_name": job.runner_name,
            "auth_method": auth_method,
            "closed_by": "job_step",
            "source": source,
            "job_id": job.id,
        }
        inserted = await conn.fetchrow(INSERT_STEP_RUN, *values_in_order(step_run))
        if inserted is not None:
            stored += 1
            if inserted["pull_request"] is not None:
                prs.add(inserted["pull_request"])
    if request_comment:
        await request_comments(conn, {(job.repository, n) for n in prs})
    return Recorded(stored, len(runs), queued, frozenset(prs))


async def _record_queue_time(conn: asyncpg.Connection, job: Job, source: Source) -> int:
    waited = queue_time(job)
    if waited is None:
        return 0
    row = await conn.fetchval(
        INSERT_QUEUE_TIME,
        job.repository,
        job.id,
        job.run_id,
        job.run_attempt,
        job.workflow,
        job.name,
        list(job.labels),
        waited.self_hosted,
        job.runner_name,
        job.runner_group,
        job.conclusion,
        waited.created_at,
        waited.started_at,
        job.completed_at,
        waited.queue_ms,
        "webhook" if source == "job_step" else "backfill",
    )
    return 0 if row is None else 1


async def _owner(conn: asyncpg.Connection, job: Job) -> tuple[int | None, str | None, str | None]:
    """The PR the job's task runs belong to, by the one ownership rule, their ref and event.

    The ref is the job's branch only when the run is known to be this repository's own, or
    a PR claims it: a fork's branch called like the default branch must not pass for it
    (jobs/origins.py), so an unplaced run has none until its origin is known.
    """
    if job.head_repository is not None:
        # The backfill knows the job's run; runs its webhooks stored unplaced get placed.
        origin: RunOrigin | None = RunOrigin(job.event, job.head_repository)
        await remember_origin(conn, job.repository, job.run_id, origin, job.head_branch)
    else:
        origin = await known_origin(conn, job.repository, job.run_id)
    if origin is not None and origin.head_repository is not None:
        known, from_fork = True, origin.from_fork(job.repository)
    else:
        # workflow_job payloads do not say where a head came from; an open PR from a
        # fork with this head commit does.
        from_fork = job.head_sha is not None and bool(
            await conn.fetchval(IS_FORK_HEAD, job.repository, job.head_sha)
        )
        known = from_fork
    event = job.event or (origin.event if origin is not None else None)
    # A job names its branch, not GITHUB_REF; a fork's branch name says nothing about
    # ours, so a fork's run has no ref and never passes for the default branch's baseline.
    ref = None if from_fork or not job.head_branch else f"refs/heads/{job.head_branch}"
    number = await owning_pull_request(
        conn,
        job.repository,
        sha=job.head_sha,
        ref=ref,
        head_ref=job.head_branch,
        event_name=event,
        pull_request=None,
        started_at=job.started_at,
    )
    if number is None and not known:
        ref = None  # placed once its workflow_run webhook (or the backfill) says where from
    return number, ref, event
