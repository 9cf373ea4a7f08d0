"""Past workflow runs and jobs for the fake GitHub, shaped as the REST API returns them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from .fake_github import FakeGitHub

# The backfill's clock in these tests (injected; GitHub's history has fixed dates, and
# no window reads it): runs are placed before it.
NOW = datetime(2026, 6, 1, tzinfo=UTC)
QUEUE_S = 30
STEP_S = 10


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def workflow_run(
    run_id: int,
    repository: str,
    created: datetime,
    *,
    status: str = "completed",
    attempt: int = 1,
    head_branch: str = "main",
    head_sha: str | None = None,
    head_repository: str | None = None,
    event: str = "push",
) -> dict[str, Any]:
    head = head_repository or repository
    return {
        "id": run_id,
        "name": "CD",
        "run_number": run_id,
        "run_attempt": attempt,
        "event": event,
        "status": status,
        "conclusion": "success" if status == "completed" else None,
        "head_sha": head_sha or f"{run_id:040x}",
        "head_branch": head_branch,
        "created_at": iso(created),
        "updated_at": iso(created),
        "run_started_at": iso(created),
        "pull_requests": [],
        "head_repository": {"id": 1, "name": head.split("/")[1], "full_name": head},
        "repository": {"id": 2, "name": repository.split("/")[1], "full_name": repository},
    }


def workflow_job(
    job_id: int,
    run: dict[str, Any],
    *,
    steps: tuple[tuple[str, str], ...] = (("Build", "success"), ("Deploy to staging", "success")),
    attempt: int = 1,
    labels: tuple[str, ...] = ("ubuntu-latest",),
    runner: str = "GitHub Actions 3",
    group: str = "GitHub Actions",
    queue_s: int = QUEUE_S,
) -> dict[str, Any]:
    created = datetime.fromisoformat(run["created_at"]) + timedelta(seconds=1)
    started = created + timedelta(seconds=queue_s)
    step_rows = []
    for number, (name, conclusion) in enumerate(steps, start=1):
        begin = started + timedelta(seconds=STEP_S * (number - 1))
        step_rows.append(
            {
                "name": name,
                "status": "completed",
                "conclusion": conclusion,
                "number": number,
                "started_at": iso(begin),
                "completed_at": iso(begin + timedelta(seconds=STEP_S)),
            }
        )
    return {
        "id": job_id,
        "run_id": run["id"],
        "run_attempt": attempt,
        "workflow_name": run["name"],
        "head_sha": run["head_sha"],
        "head_branch": run["head_branch"],
        "name": "deploy",
        "status": "completed",
        "conclusion": "success",
        "created_at": iso(created),
        "started_at": iso(started),
        "completed_at": iso(started + timedelta(seconds=STEP_S * len(steps))),
        "steps": step_rows,
        "labels": list(labels),
        "runner_id": 1,
        "runner_name": runner,
        "runner_group_id": 1,
        "runner_group_name": group,
    }


def add_history(fake: FakeGitHub, repository: str, days: int, *, first_id: int = 100) -> int:
    """One run a day for ``days`` days before NOW, each with one deploy job; the run of
    the second day was re-run (two attempts, a job each). Returns the jobs added."""
    jobs = 0
    for day in range(days):
        run_id = first_id + day
        created = NOW - timedelta(days=day + 1, hours=-3)
        attempts = 2 if day == 1 else 1
        run = workflow_run(run_id, repository, created, attempt=attempts)
        run_jobs = [
            workflow_job(run_id * 10 + attempt, run, attempt=attempt)
            for attempt in range(1, attempts + 1)
        ]
        fake.actions.add_run(repository, run, run_jobs)
        jobs += len(run_jobs)
    return jobs


class Sleeps(list[float]):
    """An injected sleep: records how long it was asked to wait, and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)
