"""Where a workflow run came from: the event that started it, the repository of its head.

A ``workflow_job`` webhook names its head commit and branch only. A pull request from a
fork whose branch is called like the default branch sends jobs indistinguishable from a
push to the default branch, so a job heatmeter cannot place yet is stored without a
``ref`` (no one's baseline, though a pull request may still claim it by its commit), and
gets its ref once the run's ``workflow_run`` webhook (any action: ``requested`` usually
comes before the jobs) or the backfill says the run is this repository's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

UPSERT_ORIGIN = """
INSERT INTO workflow_run_origins (repository, run_id, event, head_repository, head_branch)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (repository, run_id) DO UPDATE SET
    event = coalesce(EXCLUDED.event, workflow_run_origins.event),
    head_repository = coalesce(EXCLUDED.head_repository, workflow_run_origins.head_repository),
    head_branch = coalesce(EXCLUDED.head_branch, workflow_run_origins.head_branch)
"""

SELECT_ORIGIN = """
SELECT event, head_repository FROM workflow_run_origins WHERE repository = $1 AND run_id = $2
"""

# The run's job steps stored before its origin was known, once it is known to be this
# repository's own: their branch is now a ref (the baseline's, when it is the default).
PLACE_JOB_STEPS = """
UPDATE task_runs
SET ref = 'refs/heads/' || head_ref, event_name = coalesce(event_name, $3),
    updated_at = now()
WHERE repository = $1 AND run_id = $2 AND source <> 'action'
  AND ref IS NULL AND head_ref IS NOT NULL AND pull_request IS NULL
"""

PRUNE_ORIGINS = """
DELETE FROM workflow_run_origins WHERE (repository, run_id) IN (
    SELECT repository, run_id FROM workflow_run_origins
    WHERE seen_at < now() - make_interval(secs => $1)
    LIMIT $2
)
"""


@dataclass(frozen=True, slots=True)
class RunOrigin:
    event: str | None
    head_repository: str | None

    def from_fork(self, repository: str) -> bool:
        """Whether the run's head lives in another repository (unknown: not a fork)."""
        return (
            self.head_repository is not None and self.head_repository.lower() != repository.lower()
        )


async def known_origin(conn: asyncpg.Connection, repository: str, run_id: int) -> RunOrigin | None:
    row = await conn.fetchrow(SELECT_ORIGIN, repository, run_id)
    return None if row is None else RunOrigin(row["event"], row["head_repository"])


async def remember_origin(
    conn: asyncpg.Connection,
    repository: str,
    run_id: int,
    origin: RunOrigin,
    head_branch: str | None,
) -> int:
    """Keep where run ``run_id`` came from; when it is this repository's own, give its job
    steps stored meanwhile their ref. Returns how many were placed."""
    await conn.execute(
        UPSERT_ORIGIN, repository, run_id, origin.event, origin.head_repository, head_branch
    )
    if origin.head_repository is None or origin.from_fork(repository):
        return 0
    status = await conn.execute(PLACE_JOB_STEPS, repository, run_id, origin.event)
    return int(status.split()[-1])
