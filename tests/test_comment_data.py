"""What a PR comment is computed from: the PR's runs and a like-for-like baseline."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter import clock
from heatmeter.outbox.pull_request_runs import load_summaries

from .conftest import REPORT_SECRET
from .reports import make_report, signed

REPO = "octo-org/octo-repo"
NOW = clock.now()


async def store(client: TestClient, run_id: int, **fields) -> None:
    started = NOW - timedelta(days=1, minutes=run_id)
    fields.setdefault("duration_ms", 1000)
    report = make_report(
        run_id=run_id, started_at=started.isoformat(),
        finished_at=(started + timedelta(milliseconds=fields["duration_ms"])).isoformat(),
        **fields,
    )  # fmt: skip
    body, headers = signed(report, REPORT_SECRET)
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 202, await response.text()


MAIN = {"ref": "refs/heads/main", "pull_request": None, "event_name": "push"}


async def test_the_baseline_is_the_default_branchs_own_runs_on_the_same_os(
    client: TestClient, db: asyncpg.Connection
) -> None:
    for i in range(5):
        await store(client, 100 + i, runner_os="Linux", duration_ms=1000 + i, **MAIN)
        await store(client, 200 + i, runner_os="Windows", duration_ms=5000 + i, **MAIN)
    # Not baseline: a PR's pull_request_target run on main, a workflow_run-triggered run,
    # and a run closed by the job webhook (it has an outcome but no measured duration).
    await store(client, 300, runner_os="Linux", duration_ms=90_000, ref="refs/heads/main",
                event_name="pull_request_target", pull_request=7)  # fmt: skip
    await store(client, 301, runner_os="Linux", duration_ms=90_000, ref="refs/heads/main",
                event_name="workflow_run", pull_request=None)  # fmt: skip
    await store(client, 302, runner_os="Linux", duration_ms=90_000, outcome="failure", **MAIN)
    await db.execute("UPDATE task_runs SET closed_by = 'workflow_job' WHERE run_id = 302")
    # The PR's own runs, on Linux and Windows.
    await store(client, 1, runner_os="Linux", duration_ms=1002)
    await store(client, 2, runner_os="Windows", duration_ms=9000)

    summaries = {
        s.runner_os: s for s in await load_summaries(db, REPO, 7, web_url="https://github.com")
    }
    assert set(summaries) == {"Linux", "Windows"}
    linux, windows = summaries["Linux"], summaries["Windows"]
    assert linux.runs == 2  # its own run and the pull_request_target run
    assert (linux.baseline.runs, linux.baseline_p50_ms) == (5, 1002)  # 302 has no duration
    assert linux.baseline_success_rate == 5 / 6  # but its outcome counts
    assert (windows.baseline.runs, windows.baseline_p50_ms) == (5, 5002)
    assert windows.comparison.verdict == "slower"


async def test_the_minimum_comes_from_the_caller(client: TestClient, db: asyncpg.Connection):
    for i in range(3):
        await store(client, 100 + i, runner_os="Linux", **MAIN)
    await store(client, 1, runner_os="Linux", duration_ms=3000)
    [default] = await load_summaries(db, REPO, 7, web_url="https://github.com")
    assert (default.baseline.usable, default.baseline.runs_needed) == (False, 2)
    [three] = await load_summaries(db, REPO, 7, web_url="https://github.com", min_baseline_runs=3)
    assert three.comparison.verdict == "slower"
