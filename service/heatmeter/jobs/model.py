"""A finished GitHub Actions job as heatmeter reads it, whichever way it arrived.

The ``workflow_job`` webhook and the REST API (``GET …/actions/runs/{id}/jobs``) describe
a job with the same fields; both are turned into a ``Job`` here, so matching and storage
see one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Step:
    name: str
    number: int
    status: str | None
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class Job:
    id: int
    repository: str
    run_id: int
    run_attempt: int
    name: str
    workflow: str | None
    head_sha: str | None
    head_branch: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    labels: tuple[str, ...]
    runner_name: str | None
    runner_group: str | None
    steps: tuple[Step, ...]
    # Known to the backfill from the job's workflow run; webhooks do not carry them.
    head_repository: str | None = None
    event: str | None = None


def _time(value: Any) -> datetime | None:
    """GitHub's ISO 8601 timestamps (``2021-08-05T10:34:58Z``, ``….000Z``), or None."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def job_from_payload(
    repository: str,
    job: Mapping[str, Any],
    *,
    head_repository: str | None = None,
    event: str | None = None,
) -> Job:
    """A ``workflow_job`` as the webhook or the REST API gives it (datetimes or strings)."""
    return Job(
        id=int(job["id"]),
        repository=repository,
        run_id=int(job["run_id"]),
        run_attempt=int(job.get("run_attempt") or 1),
        name=str(job["name"]),
        workflow=job.get("workflow_name"),
        head_sha=job.get("head_sha"),
        head_branch=job.get("head_branch"),
        status=job.get("status"),
        conclusion=job.get("conclusion"),
        created_at=_time(job.get("created_at")),
        started_at=_time(job.get("started_at")),
        completed_at=_time(job.get("completed_at")),
        labels=tuple(str(label) for label in job.get("labels") or ()),
        runner_name=job.get("runner_name"),
        runner_group=job.get("runner_group_name"),
        steps=tuple(
            Step(
                name=str(step["name"]),
                number=int(step["number"]),
                status=step.get("status"),
                conclusion=step.get("conclusion"),
                started_at=_time(step.get("started_at")),
                completed_at=_time(step.get("completed_at")),
            )
            for step in job.get("steps") or ()
        ),
        head_repository=head_repository,
        event=event,
    )
