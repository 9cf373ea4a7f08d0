"""Stores reports in task_runs, exactly once per idempotency key."""

from __future__ import annotations

from dataclasses import dataclass, replace

import asyncpg

from ..outbox.comment import request_comment
from ..ownership import owning_pull_request
from .schema import Report
from .trust import Reporter

# A start only creates; a replayed start, or one arriving after its finish, is a no-op.
INSERT_START = """
INSERT INTO task_runs (
    repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at,
    finished_at, duration_ms, outcome, exit_code, sha, ref, head_ref, pull_request,
    event_name, runner_os, runner_name, actor, auth_method, closed_by, version
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
    $20, $21, $22, $23, $24
)
ON CONFLICT ON CONSTRAINT task_runs_idempotency DO NOTHING
RETURNING id
"""

# A finish completes its start, or replaces an end the workflow_job webhook guessed for
# it; an already reported end is never overwritten, so a replay changes nothing. The
# conflict clause is shared with the group commit (reports/batches.py).
FINISH_OVER_START = """
    finished_at  = EXCLUDED.finished_at,
    duration_ms  = EXCLUDED.duration_ms,
    outcome      = EXCLUDED.outcome,
    exit_code    = EXCLUDED.exit_code,
    closed_by    = 'report',
    -- The start's version stands, as its kind does; a finish may supply a missing one.
    version      = coalesce(task_runs.version, EXCLUDED.version),
    updated_at   = now(),
    pull_request = coalesce(task_runs.pull_request, EXCLUDED.pull_request)
WHERE task_runs.closed_by IS DISTINCT FROM 'report'
"""
UPSERT_FINISH = f"""
INSERT INTO task_runs (
    repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at,
    finished_at, duration_ms, outcome, exit_code, sha, ref, head_ref, pull_request,
    event_name, runner_os, runner_name, actor, auth_method, closed_by, version
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
    $20, $21, $22, $23, $24
)
ON CONFLICT ON CONSTRAINT task_runs_idempotency DO UPDATE SET {FINISH_OVER_START}
RETURNING id
"""  # noqa: S608 (this module's own constant, no input)

# The whole key, started_at included, so the lookup touches one month's partition.
SELECT_ID_BY_KEY = """
SELECT id FROM task_runs
WHERE repository = $1 AND run_id = $2 AND run_attempt = $3 AND job = $4 AND task = $5
  AND step_id = $6 AND started_at = $7
"""


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


async def store_report(conn: asyncpg.Connection, report: Report, reporter: Reporter) -> Stored:
    """Store the report and ask for its PR's comment to be refreshed, in one transaction."""
    async with conn.transaction():
        if report.pull_request is None:
            # A push (or workflow_run) report names no PR: the one rule decides, so a
            # default-branch run of a PR's head commit stays the default branch's.
            number = await owning_pull_request(
                conn,
                report.repository,
                sha=report.sha,
                ref=report.ref,
                head_ref=report.head_ref,
                event_name=report.event_name,
                pull_request=None,
                started_at=report.started_at,
            )
            report = replace(report, pull_request=number)
        stored = await _store(conn, report, reporter)
        if not stored.duplicate and report.pull_request is not None:
            await request_comment(conn, report.repository, report.pull_request)
    return stored


async def _store(conn: asyncpg.Connection, report: Report, reporter: Reporter) -> Stored:
    finish = report.phase == "finish"
    row_id = await conn.fetchval(
        UPSERT_FINISH if finish else INSERT_START,
        report.repository,
        report.workflow,
        report.run_id,
        report.run_attempt,
        report.job,
        report.task,
        report.kind,
        report.step,
        report.started_at,
        report.finished_at,
        report.duration_ms,
        report.outcome,
        report.exit_code,
        report.sha,
        report.ref,
        report.head_ref,
        report.pull_request,
        report.event_name,
        report.runner_os,
        report.runner_name,
        report.actor,
        reporter.method,
        "report" if finish else None,
        report.version,
    )
    if row_id is not None:
        return Stored(row_id, duplicate=False)
    existing = await conn.fetchval(
        SELECT_ID_BY_KEY,
        report.repository,
        report.run_id,
        report.run_attempt,
        report.job,
        report.task,
        report.step,
        report.started_at,
    )
    return Stored(existing, duplicate=True)
