"""Adoption before and after: the platform's action against a matching step of a team's own."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter.tasks.definitions import define_task
from heatmeter.tasks.store import add_task_definition

from .test_webhooks import deliver, report
from .webhooks import payload

WEEK_10 = datetime.fromisoformat("2026-03-03T10:00:00+00:00")  # a Tuesday of ISO week 10
WEEK_11 = WEEK_10 + timedelta(days=7)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def own_step(client: TestClient, repository: str, when: datetime, job_id: int) -> None:
    """A job of ``repository`` whose own step "Deploy to prod" ran at ``when``."""
    data = payload("workflow_job.completed.success.with-organization")
    data["repository"]["full_name"] = repository
    data["workflow_job"].update(
        id=job_id, run_id=job_id, created_at=stamp(when), started_at=stamp(when),
        completed_at=stamp(when + timedelta(minutes=2)),
        steps=[{"name": "Deploy to prod", "number": 1, "status": "completed",
                "conclusion": "success", "started_at": stamp(when),
                "completed_at": stamp(when + timedelta(minutes=1))}],
    )  # fmt: skip
    status, _ = await deliver(client, "workflow_job", data)
    assert status == 200


async def platform_action(client: TestClient, repository: str, when: datetime, run: int) -> None:
    await report(
        client, repository=repository, run_id=run, task="deploy", pull_request=None,
        started_at=when.isoformat(), finished_at=(when + timedelta(seconds=42)).isoformat(),
    )  # fmt: skip


async def test_repositories_per_week_by_how_they_run_the_task(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await add_task_definition(db, define_task("deploy", kind="deploy", step="Deploy to *"))
    # org/a has used the platform's action all along.
    await platform_action(client, "org/a", WEEK_10, 1)
    await platform_action(client, "org/a", WEEK_11, 2)
    # org/b deployed its own way, then moved to the action (and ran both that week).
    await own_step(client, "org/b", WEEK_10, 10)
    await own_step(client, "org/b", WEEK_11, 11)
    await platform_action(client, "org/b", WEEK_11 + timedelta(days=1), 3)
    # org/c (spelt two ways) keeps its own step.
    await own_step(client, "org/c", WEEK_10, 20)
    await own_step(client, "Org/C", WEEK_11, 21)
    await own_step(client, "org/c", WEEK_11 + timedelta(hours=1), 22)

    rows = await db.fetch("SELECT * FROM task_adoption_by_source ORDER BY week_start")
    got = [
        (
            r["task"],
            r["iso_week"],
            r["action_repositories"],
            r["own_step_repositories"],
            r["repositories"],
            r["action_runs"],
            r["own_step_runs"],
        )
        for r in rows
    ]
    assert got == [
        ("deploy", "2026-W10", 1, 2, 3, 1, 2),
        ("deploy", "2026-W11", 2, 1, 3, 2, 3),
    ]


async def test_tasks_without_a_definition_are_not_in_the_view(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await platform_action(client, "org/a", WEEK_10, 1)
    assert await db.fetch("SELECT * FROM task_adoption_by_source") == []
