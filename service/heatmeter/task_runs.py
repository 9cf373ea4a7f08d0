"""The task_runs table as its writers see it: the columns they set, and its key.

Two paths write task runs: the action's reports (reports/upsert.py, many per statement)
and finished jobs' steps, from the workflow_job webhook or the backfill (jobs/store.py).
Both set these columns, in this order, and meet on this key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Every column a writer sets; the rest (id, received_at, updated_at) are the table's own.
COLUMNS = (
    "repository", "workflow", "run_id", "run_attempt", "job", "task", "kind", "step_id",
    "started_at", "finished_at", "duration_ms", "outcome", "exit_code", "sha", "ref",
    "head_ref", "pull_request", "event_name", "runner_os", "runner_name", "actor",
    "auth_method", "closed_by", "version", "source", "job_id",
)  # fmt: skip
COLUMN_LIST = ", ".join(COLUMNS)

# The idempotency key (sql/005's primary key): a redelivered webhook, a retried report
# or the backfill walking a job again names the same run. started_at is in it because the
# table is partitioned by it, so a lookup by key touches one month's partition.
KEY = ("repository", "run_id", "run_attempt", "job", "task", "step_id", "started_at")
KEY_LIST = ", ".join(KEY)
ON_KEY_CONFLICT = "ON CONFLICT ON CONSTRAINT task_runs_idempotency"


def values_in_order(row: Mapping[str, Any]) -> list[Any]:
    """``row``'s values in COLUMNS' order, None for a column it does not name."""
    unknown = row.keys() - set(COLUMNS)
    if unknown:
        raise KeyError(f"not columns task_runs writers set: {sorted(unknown)}")
    return [row.get(column) for column in COLUMNS]


def placeholders(count: int = len(COLUMNS)) -> str:
    """``$1, $2, …`` for an INSERT of ``count`` values (all of COLUMNS by default)."""
    return ", ".join(f"${n}" for n in range(1, count + 1))
