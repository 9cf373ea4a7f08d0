"""Pure: the task runs a finished job's steps amount to, and how long the job queued."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..tasks.definitions import TaskDefinition, matching_tasks
from .model import Job, Step

# A step's conclusion is the task's outcome. A step with none (it was still running when
# its job was cancelled or timed out) ended the way its job did, or else counts as
# cancelled: shown, but kept out of the success rate.
STEP_CONCLUSION_TO_OUTCOME = {
    "success": "success",
    "failure": "failure",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "timed_out": "timed_out",
}
JOB_END_TO_OUTCOME = {"timed_out": "timed_out", "failure": "failure"}
UNKNOWN_END = "cancelled"

# GitHub's own hosted runners, as jobs name them; any other runner is the customer's.
GITHUB_HOSTED_GROUP = "GitHub Actions"


@dataclass(frozen=True)
class StepRun:
    """One step that matched one task definition: a task run to store."""

    task: str
    kind: str
    step_id: str
    step_name: str
    started_at: datetime
    finished_at: datetime
    duration_ms: int | None
    outcome: str


@dataclass(frozen=True)
class QueueTime:
    created_at: datetime
    started_at: datetime | None
    queue_ms: int | None
    self_hosted: bool | None


def step_id(job: Job, step: Step) -> str:
    """The step's key within its task run's idempotency key; the same from webhook and API."""
    return f"job:{job.id}/step:{step.number}"


def step_runs(job: Job, definitions: Iterable[TaskDefinition]) -> list[StepRun]:
    """Every (step, definition) match of a finished job, as task runs.

    Times are the runner's own, to the second, as GitHub gives them; a step that never
    started is no run, except a skipped one, which is dated by its job.
    """
    definitions = list(definitions)
    runs = []
    for step in job.steps:
        tasks = matching_tasks(
            definitions, repository=job.repository, workflow=job.workflow, step=step.name
        )
        if not tasks:
            continue
        outcome = _outcome(job, step)
        started = step.started_at or (
            (job.started_at or job.created_at or job.completed_at) if outcome == "skipped" else None
        )
        if started is None:
            continue
        finished = step.completed_at or job.completed_at or started
        finished = max(finished, started)
        duration_ms = (
            int((step.completed_at - step.started_at).total_seconds() * 1000)
            if step.started_at is not None
            and step.completed_at is not None
            and step.completed_at >= step.started_at
            else None
        )
        runs += [
            StepRun(
                task=definition.name,
                kind=definition.kind,
                step_id=step_id(job, step),
                step_name=step.name,
                started_at=started,
                finished_at=finished,
                duration_ms=duration_ms,
                outcome=outcome,
            )
            for definition in tasks
        ]
    return runs


def queue_time(job: Job) -> QueueTime | None:
    """How long the job waited for a runner (None if it never got one); None for a job
    with no time at all, which nothing can be said about."""
    created = job.created_at or job.started_at or job.completed_at
    if created is None:
        return None
    ran = job.runner_name is not None and job.started_at is not None
    waited = (
        int((job.started_at - job.created_at).total_seconds() * 1000)
        if ran and job.created_at is not None and job.started_at >= job.created_at
        else None
    )
    return QueueTime(
        created_at=created,
        started_at=job.started_at,
        queue_ms=waited,
        self_hosted=is_self_hosted(job) if ran else None,
    )


def is_self_hosted(job: Job) -> bool:
    """Whether the job ran on the customer's own runner rather than one GitHub hosts.

    A job that asked for the ``self-hosted`` label did; otherwise a runner outside
    GitHub's hosted group did (Actions Runner Controller scale sets, for instance, are
    asked for by their own name). GitHub's larger runners in a custom group count as
    self-hosted by this rule.
    """
    if any(label.lower() == "self-hosted" for label in job.labels):
        return True
    if job.runner_group is not None:
        return job.runner_group != GITHUB_HOSTED_GROUP
    return not (job.runner_name or "").startswith("GitHub Actions")


def _outcome(job: Job, step: Step) -> str:
    if step.conclusion in STEP_CONCLUSION_TO_OUTCOME:
        return STEP_CONCLUSION_TO_OUTCOME[step.conclusion]
    return JOB_END_TO_OUTCOME.get(job.conclusion or "", UNKNOWN_END)
