"""A replica killed (SIGKILL) in the middle of a comment write: another one finishes it.

Real ``heatmeter serve`` processes on one database, as the GitHub App against the fake
GitHub. The fake holds the replica's write until the replica is dead, then lets GitHub
finish it, as GitHub finishes a request whose client hung up: the worst case for a
second comment.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.github.client import GitHubClient
from heatmeter.github.credentials import TokenAuth
from heatmeter.outbox import comment
from heatmeter.outbox.kind import Context
from heatmeter.outbox.sticky import MARKER
from heatmeter.outbox.worker import OutboxWorker, lease_for
from heatmeter.settings import Settings

from ..conftest import REPORT_SECRET
from ..reports import make_report, signed
from .fake_github import FakeGitHub
from .test_outages import TOKEN
from .test_pr_comment import PR, REPOSITORY, marked, send, settled, wait_ready

ROOT = Path(__file__).parents[2]
COMMENTS = f"/repos/{REPOSITORY}/issues/{PR}/comments"
COMMENT = f"/repos/{REPOSITORY}/issues/comments/*"


@pytest.fixture
def start_replica(
    database_url: str,
    fake_github: FakeGitHub,
    app_private_key: str,
    unused_tcp_port_factory: Callable[[], int],
) -> Callable[[], AsyncIterator[tuple[str, asyncio.subprocess.Process]]]:
    fake_github.add_repository(REPOSITORY, installation_id=7)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HEATMETER_REPORT_SECRET": REPORT_SECRET,
        "GITHUB_APP_ID": str(fake_github.app_id),
        "GITHUB_APP_PRIVATE_KEY": app_private_key,
        "GITHUB_API_URL": fake_github.url,
        "HEATMETER_COMMENT_DEBOUNCE": "0.2",
        "HEATMETER_DELIVERY_SWEEP_INTERVAL": "0",
        "HEATMETER_LOG_FORMAT": "json",
    }

    @asynccontextmanager
    async def start() -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
        port = unused_tcp_port_factory()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "heatmeter", "serve", "--no-migrate", "--port", str(port),
            env=env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(url)
            yield url, process
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()

    return start


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def lease_runs_out(db: asyncpg.Connection) -> None:
    """As if the dead replica's lease (two minutes) were over."""
    assert await db.fetchval("SELECT locked_until > now() FROM comment_outbox")
    await db.execute("UPDATE comment_outbox SET locked_until = now()")


async def test_killed_while_creating_the_comment(
    start_replica, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    held = fake_github.hold("POST", COMMENTS)
    async with start_replica() as (first, process):
        await send(first, run_id=1)
        await held.arrived()
        await kill(process)
    held.release()  # GitHub makes the comment; nobody hears the answer

    async with start_replica():
        await lease_runs_out(db)
        await settled(db)

    [comment] = marked(fake_github)
    assert len(fake_github.requests_to("POST", COMMENTS)) == 1
    assert len(fake_github.writes) <= 2  # written once more at most
    assert await db.fetchval("SELECT comment_id FROM pr_comments") == comment["id"]


async def test_killed_while_editing_the_comment(
    start_replica, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    async with start_replica() as (first, process):
        await send(first, run_id=1)
        await settled(db)
        [written] = marked(fake_github)
        held = fake_github.hold("PATCH", COMMENT)
        await send(first, run_id=2, outcome="failure")
        await held.arrived()
        await kill(process)
    held.release()

    async with start_replica():
        await lease_runs_out(db)
        await settled(db)

    [comment] = marked(fake_github)
    assert comment["id"] == written["id"]
    assert "| 2 |" in comment["body"]  # both runs
    assert len(fake_github.requests_to("POST", COMMENTS)) == 1
    assert len(fake_github.requests_to("PATCH", COMMENT)) <= 2


async def test_a_replica_whose_lease_ran_out_leaves_the_row_to_the_one_that_took_it(
    client: TestClient,
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    """A replica claims a batch and writes it row by row; stuck on the first row, the
    lease of the second runs out and another replica takes it. The first must not write
    it too: both would find no comment, and both would create one."""
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)

    def replica() -> OutboxWorker:
        github = GitHubClient(http, TokenAuth(TOKEN), api_url=fake_github.url)
        return OutboxWorker(comment.KIND, Context(pool, Settings(comment_debounce_s=0), github))

    for pr in (1, 2):
        body, headers = signed(make_report(run_id=pr, pull_request=pr), REPORT_SECRET)
        assert (await client.post("/v1/reports", data=body, headers=headers)).status == 202
    first_stuck = fake_github.hold("POST", f"/repos/{REPOSITORY}/issues/1/comments")
    second_stuck = fake_github.hold("POST", f"/repos/{REPOSITORY}/issues/2/comments")

    slow = asyncio.create_task(replica().run_once())  # claims both, stuck writing PR 1
    await first_stuck.arrived()
    await db.execute("UPDATE comment_outbox SET locked_until = now() WHERE pull_request = 2")
    other = asyncio.create_task(replica().run_once())  # takes PR 2, stuck writing it
    await second_stuck.arrived()
    first_stuck.release()  # the slow replica goes on to PR 2: it is no longer its to write
    assert await slow == 2
    second_stuck.release()
    assert await other == 1

    for pr in (1, 2):
        comments = [c for c in fake_github.comments(REPOSITORY, pr) if MARKER in c["body"]]
        assert len(comments) == 1, (pr, comments)
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 0


def test_the_lease_outlasts_a_write_that_spends_its_whole_retry_budget() -> None:
    assert lease_for(30) == 120
    assert lease_for(300) >= 2 * 300
