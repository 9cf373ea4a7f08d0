"""The PR comment end to end: reports in, one comment on the fake GitHub, kept current."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.outbox import comment as comment_kind
from heatmeter.outbox.sticky import MARKER
from heatmeter.settings import Settings

from ..conftest import REPORT_SECRET
from ..reports import make_report, signed
from .fake_github import FakeGitHub

REPOSITORY = "octo-org/octo-repo"
PR = 7
TOKEN = "ghp_test_token"
COMMENTS = f"/repos/{REPOSITORY}/issues/{PR}/comments"


@pytest.fixture
def github_settings(settings: Settings, fake_github: FakeGitHub) -> Settings:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    return replace(
        settings,
        github_token=TOKEN,
        github_api_url=fake_github.url,
        comment_debounce_s=0.2,
        github_retry_budget_s=5.0,
    )


@pytest.fixture
async def service(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    github_settings: Settings,
    db: asyncpg.Connection,
) -> TestClient:
    return await aiohttp_client(create_app(github_settings))


async def send(client: TestClient | str, run_id: int = 1, **fields) -> None:
    body, headers = signed(make_report(run_id=run_id, **fields), REPORT_SECRET)
    if isinstance(client, str):
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{client}/v1/reports", data=body, headers=headers) as r,
        ):
            assert r.status == 202, await r.text()
        return
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 202, await response.text()


async def settled(db: asyncpg.Connection) -> None:
    """Wait until the outbox is empty: every requested comment has been written.

    No deadline of its own: however slow the machine, the event is what counts (pytest's
    timeout stops a test that truly hangs).
    """
    while await db.fetchval("SELECT count(*) FROM comment_outbox"):
        await asyncio.sleep(0.05)


def marked(fake: FakeGitHub) -> list[dict]:
    return [c for c in fake.comments(REPOSITORY, PR) if MARKER in c["body"]]


async def test_first_report_creates_the_comment_and_later_ones_edit_it(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await send(service, run_id=1, outcome="failure")
    await settled(db)
    [comment] = marked(fake_github)
    first_body = comment["body"]
    assert "deploy" in first_body
    assert len(fake_github.requests_to("POST", COMMENTS)) == 1

    await send(service, run_id=2, outcome="success")
    await settled(db)
    [edited] = marked(fake_github)
    assert edited["id"] == comment["id"]
    assert edited["body"] != first_body
    assert len(fake_github.requests_to("PATCH", f"/repos/{REPOSITORY}/issues/comments/*")) == 1
    assert await db.fetchval("SELECT comment_id FROM pr_comments") == comment["id"]


async def test_a_burst_of_50_reports_makes_at_most_two_writes(
    aiohttp_client, github_settings: Settings, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    client = await aiohttp_client(create_app(replace(github_settings, comment_debounce_s=1.0)))
    await asyncio.gather(*(send(client, run_id=n) for n in range(1, 51)))
    await settled(db)
    assert 1 <= len(fake_github.writes) <= 2
    [comment] = marked(fake_github)
    assert "| 50 |" in comment["body"]


async def test_a_deleted_comment_is_recreated(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await send(service, run_id=1)
    await settled(db)
    [first] = marked(fake_github)
    fake_github.delete_comment(first["id"])

    await send(service, run_id=2)
    await settled(db)
    [second] = marked(fake_github)
    assert second["id"] != first["id"]
    assert await db.fetchval("SELECT comment_id FROM pr_comments") == second["id"]


async def test_an_unknown_comment_is_found_by_its_marker(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    # A comment heatmeter wrote before its database was reset: found, not duplicated.
    old = fake_github.add_comment(REPOSITORY, PR, f"{MARKER}\nold summary")
    await send(service)
    await settled(db)
    [comment] = marked(fake_github)
    assert comment["id"] == old["id"]
    assert comment["body"] != f"{MARKER}\nold summary"


async def test_a_502_then_200_ends_with_the_comment_written(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    fake_github.fail("GET", COMMENTS, 502)
    await send(service)
    await settled(db)
    assert len(marked(fake_github)) == 1
    statuses = [r.status for r in fake_github.requests_to("GET", COMMENTS)]
    assert statuses[:2] == [502, 200]


async def test_a_secondary_rate_limit_is_waited_out(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    fake_github.fail(
        "POST",
        COMMENTS,
        403,
        body={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "1"},
    )
    await send(service)
    await settled(db)
    assert len(marked(fake_github)) == 1
    limited, created = fake_github.requests_to("POST", COMMENTS)
    assert (limited.status, created.status) == (403, 201)
    assert created.at - limited.at >= 1.0


async def test_a_write_that_keeps_failing_is_kept_and_retried(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    fake_github.fail("GET", COMMENTS, 503, times=1000)
    await send(service)
    while (row := await db.fetchrow("SELECT * FROM comment_outbox")) is None or not row[
        "last_error"
    ]:
        await asyncio.sleep(0.05)  # until the failure is recorded
    assert "503" in row["last_error"]
    assert row["not_before"] is not None
    assert marked(fake_github) == []

    # GitHub recovers; the kept request goes through on its next attempt.
    fake_github._scripted.clear()
    await db.execute("UPDATE comment_outbox SET not_before = now()")
    await settled(db)
    assert len(marked(fake_github)) == 1


async def test_a_crash_while_rendering_keeps_the_request_and_the_worker(
    service: TestClient,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args, **kwargs) -> str:
        raise RuntimeError("a bug in rendering")

    monkeypatch.setattr(comment_kind, "render_summary", broken)
    await send(service)
    while not await db.fetchval("SELECT last_error FROM comment_outbox"):
        await asyncio.sleep(0.05)  # until the crash is recorded
    assert "a bug in rendering" in await db.fetchval("SELECT last_error FROM comment_outbox")

    monkeypatch.undo()
    await db.execute("UPDATE comment_outbox SET not_before = now()")
    await settled(db)
    assert len(marked(fake_github)) == 1


async def test_a_hostile_task_name_renders_harmlessly(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await send(service, task="@org/team [x](http://evil)")
    await settled(db)
    [comment] = marked(fake_github)
    body = comment["body"]
    assert "@org" not in body
    assert "](http://evil" not in body
    assert "http://evil" not in body


async def test_two_service_processes_on_one_database_post_once(
    github_settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": github_settings.database_url,
        "HEATMETER_REPORT_SECRET": REPORT_SECRET,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
        "HEATMETER_COMMENT_DEBOUNCE": "0.5",
        "HEATMETER_LOG_FORMAT": "json",
    }
    ports = [unused_tcp_port_factory(), unused_tcp_port_factory()]
    command = [sys.executable, "-m", "heatmeter", "serve", "--no-migrate", "--port"]
    root = Path(__file__).parents[2]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, str(port), env=env, cwd=root, stderr=asyncio.subprocess.DEVNULL
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        await asyncio.gather(*(wait_ready(url) for url in urls))
        # Reports spread over both replicas, in two bursts a window apart.
        await asyncio.gather(*(send(urls[n % 2], run_id=n) for n in range(1, 21)))
        await settled(db)
        await asyncio.gather(*(send(urls[n % 2], run_id=n) for n in range(21, 41)))
        await settled(db)
    finally:
        for process in processes:
            process.terminate()
        await asyncio.gather(*(process.wait() for process in processes))
    [comment] = marked(fake_github)
    assert len(fake_github.requests_to("POST", COMMENTS)) == 1
    assert "| 40 |" in comment["body"]


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def test_the_comment_links_to_the_scorecard_when_the_public_url_is_set(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    github_settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    settings = replace(github_settings, public_url="https://heatmeter.example")
    service = await aiohttp_client(create_app(settings))
    await send(service, run_id=1)
    await settled(db)
    [comment] = marked(fake_github)
    link = "https://heatmeter.example/tasks/deploy?repository=octo-org%2Focto-repo"
    assert f"[dashboard]({link})" in comment["body"]
    # The link leads to the task page the platform team reads, narrowed to the repository
    # (once the roll-ups it reads are refreshed, which the service does on a timer).
    await db.execute("SELECT heat_refresh_rollups()")
    page = await service.get(link.removeprefix("https://heatmeter.example"))
    assert page.status == 200
    assert "octo-org/octo-repo" in await page.text()


async def test_without_a_public_url_the_comment_has_no_dashboard_link(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await send(service, run_id=1)
    await settled(db)
    [comment] = marked(fake_github)
    assert "[dashboard]" not in comment["body"]
