"""The roll-ups kept current by the service on a schedule, and by `heatmeter rollup`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter import clock
from heatmeter.app import create_app
from heatmeter.settings import Settings

from .conftest import REPORT_SECRET
from .reports import make_report, signed
from .test_serve import heatmeter


async def test_the_service_refreshes_the_roll_ups_as_reports_arrive(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    db: asyncpg.Connection,
) -> None:
    client = await aiohttp_client(create_app(replace(settings, rollup_interval_s=0.05)))
    started = clock.now() - timedelta(hours=1)
    for run_id in (1, 2):
        report = make_report(
            run_id=run_id,
            version="v2",
            started_at=started.isoformat(),
            finished_at=(started + timedelta(seconds=30)).isoformat(),
            duration_ms=30_000,
        )
        body, headers = signed(report, REPORT_SECRET)
        assert (await client.post("/v1/reports", data=body, headers=headers)).status == 202

    deadline = time.monotonic() + 15
    while (runs := await db.fetchval("SELECT sum(runs) FROM task_daily")) != 2:
        assert time.monotonic() < deadline, f"the roll-ups show {runs} runs"
        await asyncio.sleep(0.05)
    row = await db.fetchrow("SELECT * FROM heat_versions")
    assert (row["task"], row["version"], row["runs"]) == ("deploy", "v2", 2)


async def test_rollup_command_brings_the_roll_ups_up_to_date(
    database_url: str, db: asyncpg.Connection
) -> None:
    # A task that has started and not finished yet.
    await db.execute(
        "INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind,"
        " step_id, started_at, auth_method) VALUES ('octo/a', 'CI', 1, 1, 'j', 'deploy',"
        " 'deploy', 's', heatmeter_now(), 'hmac')"
    )
    for args in (["rollup"], ["rollup", "--rebuild"]):
        process = await heatmeter(*args, DATABASE_URL=database_url)()
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert b"roll-ups up to date" in stderr
        assert await db.fetchval("SELECT unfinished FROM task_daily") == 1


def test_the_refresh_interval_is_a_setting() -> None:
    assert Settings.from_env({}).rollup_interval_s == 30.0
    assert Settings.from_env({"HEATMETER_ROLLUP_INTERVAL": "0"}).rollup_interval_s == 0
