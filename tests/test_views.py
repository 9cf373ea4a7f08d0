"""The SQL views the platform team queries, on rows stored through the API."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter import clock
from heatmeter.db.upkeep import refresh_task_health

from .conftest import REPORT_SECRET
from .reports import make_report, signed
from .webhooks import payload, webhook_request

# The views look back 28 days from now, so the runs are placed relative to now.
_NOW = clock.now()
RECENT = {
    "started_at": (_NOW - timedelta(days=1)).isoformat(),
    "finished_at": (_NOW - timedelta(days=1) + timedelta(minutes=1)).isoformat(),
}
OLD = {
    "started_at": (_NOW - timedelta(days=60)).isoformat(),
    "finished_at": (_NOW - timedelta(days=60) + timedelta(minutes=1)).isoformat(),
}


async def store(client: TestClient, **fields) -> None:
    body, headers = signed(make_report(**fields), REPORT_SECRET)
    assert (await client.post("/v1/reports", data=body, headers=headers)).status == 202


async def test_task_health_counts_outcomes_and_durations(
    client: TestClient, db: asyncpg.Connection
) -> None:
    for run_id, outcome, ms in [
        (1, "success", 10_000), (2, "success", 20_000), (3, "failure", 30_000),
        (4, "cancelled", 1_000), (5, "timed_out", 40_000),
    ]:  # fmt: skip
        await store(client, run_id=run_id, outcome=outcome, duration_ms=ms, **RECENT)
    assert await refresh_task_health(db)
    row = await db.fetchrow("SELECT * FROM task_health")
    assert (row["runs"], row["succeeded"], row["failed"], row["cancelled"]) == (5, 2, 2, 1)
    assert float(row["success_rate"]) == 0.5
    assert row["p50_ms"] == 25_000  # of 10, 20, 30, 40 s: the cancelled run is left out
    live = await db.fetchrow("SELECT * FROM task_health_live")
    assert dict(live) == {k: v for k, v in row.items() if k != "as_of"}


async def test_task_health_is_a_snapshot_that_says_when(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await store(client, run_id=1, **RECENT)
    assert await refresh_task_health(db)
    first = await db.fetchrow("SELECT runs, as_of FROM task_health")
    await store(client, run_id=2, **RECENT)
    # Until the next refresh the snapshot keeps its figures; the live view has the new run.
    assert await db.fetchval("SELECT runs FROM task_health") == 1
    assert await db.fetchval("SELECT runs FROM task_health_live") == 2
    assert await refresh_task_health(db)
    second = await db.fetchrow("SELECT runs, as_of FROM task_health")
    assert second["runs"] == 2
    assert second["as_of"] > first["as_of"]


async def test_one_replica_refreshes_at_a_time(
    client: TestClient, db: asyncpg.Connection, database_url: str
) -> None:
    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock(7308604897068083571)")
            assert await refresh_task_health(db) is False
        assert await refresh_task_health(db) is True
    finally:
        await other.close()


async def test_task_adoption_compares_with_installed_repositories(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await store(client, repository="octo/a", **RECENT)
    await store(client, repository="octo/b", **OLD)
    await store(client, repository="elsewhere/x", **RECENT)
    await db.execute("INSERT INTO installations VALUES (1, 'octo')")
    await db.executemany(
        "INSERT INTO installation_repositories (installation_id, repository) VALUES (1, $1)",
        [("octo/a",), ("octo/b",), ("octo/c",)],
    )
    await db.execute("SELECT heat_refresh_rollups()")
    row = await db.fetchrow("SELECT * FROM task_adoption WHERE task = 'deploy'")
    # octo/b ran 60 days ago, outside the window; elsewhere/x has no installation.
    assert (row["adopting_repositories"], row["installed_repositories"]) == (1, 3)
    assert (row["outside_app_repositories"], row["repositories"]) == (1, 2)
    assert float(row["adoption_share"]) == 0.3333


async def test_a_task_closed_by_the_job_webhook_does_not_move_p50(
    client: TestClient, db: asyncpg.Connection
) -> None:
    for run_id, ms in [(1, 10_000), (2, 20_000), (3, 30_000)]:
        await store(client, run_id=run_id, duration_ms=ms, runner_name="r", **RECENT)
    assert await refresh_task_health(db)
    before = await db.fetchrow("SELECT p50_ms, p90_ms FROM task_health")

    # A task that never reported its end, closed by its job's webhook an hour later.
    started = _NOW - timedelta(hours=2)
    await store(client, run_id=4, runner_name="r", phase="start", started_at=started.isoformat(),
                finished_at=None, duration_ms=None, outcome=None)  # fmt: skip
    completed = payload("workflow_job.completed.success.with-organization")
    job = completed["workflow_job"]
    completed["repository"]["full_name"] = "octo-org/octo-repo"
    job.update(run_id=4, runner_name="r", conclusion="failure",
               completed_at=(started + timedelta(hours=1)).isoformat())  # fmt: skip
    body, headers = webhook_request("workflow_job", completed, "test-webhook-secret")
    assert (await client.post("/webhooks/github", data=body, headers=headers)).status == 200

    assert await refresh_task_health(db)
    row = await db.fetchrow("SELECT * FROM task_health")
    assert (row["runs"], row["failed"], row["unmeasured"]) == (4, 1, 1)
    assert float(row["success_rate"]) == 0.75  # the outcome counts
    assert (row["p50_ms"], row["p90_ms"]) == tuple(before)  # its hour does not


async def test_task_health_exposes_a_flaky_rate(client: TestClient, db: asyncpg.Connection) -> None:
    # Commit a: failed, re-run passed (flaky). Commit b: passed. Commit c: failed twice.
    runs = [
        ("a" * 40, 1, 1, "failure"),
        ("a" * 40, 1, 2, "success"),
        ("b" * 40, 2, 1, "success"),
        ("c" * 40, 3, 1, "failure"),
        ("c" * 40, 3, 2, "failure"),
    ]
    for i, (sha, run_id, attempt, outcome) in enumerate(runs):
        when = _NOW - timedelta(days=1) + timedelta(minutes=i)
        await store(client, sha=sha, run_id=run_id, run_attempt=attempt, outcome=outcome,
                    started_at=when.isoformat(),
                    finished_at=(when + timedelta(seconds=30)).isoformat())  # fmt: skip
    assert await refresh_task_health(db)
    row = await db.fetchrow("SELECT commits, flaky_commits, flaky_rate FROM task_health")
    assert (row["commits"], row["flaky_commits"]) == (3, 1)
    assert float(row["flaky_rate"]) == pytest.approx(1 / 3, abs=1e-4)
