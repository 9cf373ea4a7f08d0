"""Postgres restarted under a stream of reports from several real action processes.

The service runs on a Postgres of this test's own (``throwaway_postgres``), which is
stopped (a fast shutdown, as a routine restart does) while four runners keep reporting,
and started again. Afterwards every report is stored exactly once: none given up, none
doubled. Meanwhile the service answers ``503`` with ``Retry-After``, never a ``500``
(the read-only case of a failover: tests/db/test_read_only.py).

The test waits for what the service answers (``Answers``), never for a duration: the
outage lasts until every runner has been told to wait twice.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from heatmeter.app import create_app
from heatmeter.appkeys import metrics_key
from heatmeter.db.migrations import migrate
from heatmeter.reports.trust import SIGNATURE_HEADER
from heatmeter.settings import Settings

from .conftest import REPORT_SECRET
from .reports import make_report, signed
from .test_webhooks import WEBHOOK_SECRET
from .throwaway_postgres import ThrowawayPostgres, throwaway_postgres
from .webhooks import payload, webhook_request

MAIN = Path(__file__).resolve().parents[1] / "action" / "main.py"
REPOSITORY = "octo-org/octo-repo"
RUNNERS = 4
# Postgres stays down until every runner's report has been answered 503 this many times,
# Retry-After (5 s) apart: past what the action used to wait (three tries within about
# four seconds), well within its retry budget now (30 s).
TOLD_TO_WAIT = 2
RUNS_AFTER_THE_RESTART = 2


@dataclass
class Run:
    run_id: int
    exit_code: int
    stdout: str
    stderr: str


async def run_action(service_url: str, workdir: Path, run_id: int) -> Run:
    """``python3 action/main.py`` with the environment a runner gives a job's step."""
    folder = workdir / str(run_id)
    (folder / "temp").mkdir(parents=True)
    event = folder / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": 7}}))
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_WORKFLOW": "CI",
        "GITHUB_RUN_ID": str(run_id),
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "deploy",
        "GITHUB_ACTION": "__heatmeter",
        "GITHUB_SHA": "3484a3fb816e0859fd6e1cea078d76385ff50625",
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_ACTOR": "octocat",
        "RUNNER_OS": "Linux",
        "RUNNER_NAME": "GitHub Actions 2",
        "RUNNER_TEMP": str(folder / "temp"),
        "GITHUB_OUTPUT": str(folder / "output"),
        "GITHUB_STEP_SUMMARY": str(folder / "summary"),
        "INPUT_SERVICE_URL": service_url,
        "INPUT_TASK": "deploy",
        "INPUT_KIND": "deploy",
        "INPUT_RUN": "true",
        "INPUT_SECRET": REPORT_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", str(MAIN),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return Run(run_id, process.returncode, stdout.decode(), stderr.decode())


@dataclass
class Answers:
    """What the service answers /v1/reports, as it answers, for the test to wait on."""

    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    stored: int = 0
    # 503s per report: the action sends the same signed body again on each retry.
    unavailable: Counter[str] = field(default_factory=Counter)

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        if request.path != "/v1/reports":
            return
        if response.status == 202:
            self.stored += 1
        elif response.status == 503:
            self.unavailable[request.headers.get(SIGNATURE_HEADER, "")] += 1
        async with self.changed:
            self.changed.notify_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with self.changed:
            await self.changed.wait_for(condition)


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
async def service(
    postgres: ThrowawayPostgres,
) -> AsyncIterator[tuple[str, web.Application, Answers]]:
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    app = create_app(
        Settings(
            database_url=postgres.dsn,
            report_secret=REPORT_SECRET,
            webhook_secret=WEBHOOK_SECRET,
            log_format="console",
        )
    )
    answers = Answers()
    app.on_response_prepare.append(answers.on_response_prepare)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), app, answers
    finally:
        await server.close()


def count(app: web.Application, name: str, **labels: str) -> float:
    """A sample of the service's own metrics, as /metrics would show it."""
    value = app[metrics_key].registry.get_sample_value(name, labels)
    return value or 0.0


async def test_a_postgres_restart_loses_and_doubles_no_report(
    postgres: ThrowawayPostgres,
    service: tuple[str, web.Application, Answers],
    tmp_path: Path,
) -> None:
    url, app, answers = service
    restarted = asyncio.Event()
    runs: list[Run] = []

    async def runner(n: int) -> None:
        run_id = 1000 * (n + 1)
        after = 0
        while after < RUNS_AFTER_THE_RESTART:
            run_id += 1
            began_after_restart = restarted.is_set()
            runs.append(await run_action(url, tmp_path, run_id))
            after += began_after_restart

    def every_runner_told_to_wait() -> bool:
        # Each runner has one report in flight while Postgres is down.
        told = [n for n in answers.unavailable.values() if n >= TOLD_TO_WAIT]
        return len(told) >= RUNNERS

    runners = [asyncio.create_task(runner(n)) for n in range(RUNNERS)]
    try:
        # A stream under way: as many reports stored as twice the runners.
        await answers.until(lambda: answers.stored >= 2 * RUNNERS)
        await asyncio.to_thread(postgres.stop)
        await answers.until(every_runner_told_to_wait)
        await asyncio.to_thread(postgres.start)
        restarted.set()
        await asyncio.gather(*runners)
    finally:
        for task in runners:
            task.cancel()

    failed = [r for r in runs if r.exit_code != 0 or "::warning" in r.stdout]
    assert not failed, [(r.run_id, r.stdout, r.stderr) for r in failed]
    conn = await asyncpg.connect(postgres.dsn)
    try:
        rows = await conn.fetch("SELECT run_id, count(*) AS n FROM task_runs GROUP BY run_id")
    finally:
        await conn.close()
    assert {row["run_id"]: row["n"] for row in rows} == {r.run_id: 1 for r in runs}

    # The runners met the outage, and were told to wait, never that something broke.
    unavailable = count(app, "heatmeter_reports_total", result="unavailable")
    assert unavailable >= 1
    errors = count(
        app,
        "heatmeter_http_request_duration_seconds_count",
        method="POST",
        route="/v1/reports",
        status="5xx",
    )
    assert errors == unavailable  # every 5xx was a 503 database_unavailable


async def test_while_postgres_is_down_the_answer_is_503_with_retry_after(
    postgres: ThrowawayPostgres, service: tuple[str, web.Application, Answers]
) -> None:
    url, _, _ = service
    await asyncio.to_thread(postgres.stop)
    body, headers = signed(make_report(), REPORT_SECRET)
    hook, hook_headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    async with aiohttp.ClientSession() as session:
        for path, data, sent_headers in (
            ("/v1/reports", body, headers),
            ("/webhooks/github", hook, hook_headers),
        ):
            async with session.post(f"{url}{path}", data=data, headers=sent_headers) as response:
                assert response.status == 503, path
                assert response.headers["Retry-After"].isdigit()
                assert response.content_type == "application/json"
                assert (await response.json())["error"] == "database_unavailable"
        async with session.get(f"{url}/readyz") as response:
            assert response.status == 503
        await asyncio.to_thread(postgres.start)
        # The pool mends by itself: the very next request is served.
        async with session.post(f"{url}/v1/reports", data=body, headers=headers) as response:
            assert response.status == 202


async def test_what_a_vanishing_server_raises_is_a_503_not_a_500(
    aiohttp_client, settings: Settings
) -> None:
    app = create_app(settings)

    async def vanished(request: web.Request) -> web.Response:
        # What asyncpg raised when the postmaster was killed mid-commit.
        raise asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )

    app.router.add_get("/vanished", vanished)
    client = await aiohttp_client(app)
    response = await client.get("/vanished")
    assert response.status == 503
    assert "Retry-After" in response.headers
