"""Failed webhook deliveries recovered: the sweeper against the fake GitHub's delivery API.

The fake lists the App's deliveries and, asked to redeliver one, sends it again (same
guid) to the service under test before answering, as GitHub does a moment later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.github import deliveries
from heatmeter.github.client import GitHubClient
from heatmeter.github.credentials import AppAuth
from heatmeter.github.deliveries import DeliverySweeper, HookDelivery, failed_deliveries
from heatmeter.settings import Settings

from ..webhooks import payload
from .fake_github import FakeGitHub
from .test_outages import InstantSleep

WEBHOOK_SECRET = "test-webhook-secret"
REDELIVERIES = "/app/hook/deliveries/*/attempts"
DAY = 86400.0


@pytest.fixture
def webhook_url(client: TestClient, fake_github: FakeGitHub) -> str:
    url = str(client.make_url("/webhooks/github"))
    fake_github.deliver_to(url, WEBHOOK_SECRET)
    return url


@pytest.fixture
def make_sweeper(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, app_auth: AppAuth, fake_github: FakeGitHub
) -> Callable[..., DeliverySweeper]:
    """A sweeper as one replica runs it, with the App's JWT against the fake."""

    def make(**options: float) -> DeliverySweeper:
        github = GitHubClient(
            http, app_auth, api_url=fake_github.url, budget_s=2.0, sleep=InstantSleep()
        )
        return DeliverySweeper(
            pool,
            github,
            interval_s=options.get("interval_s", 300.0),
            lookback_s=options.get("lookback_s", 3 * DAY),
        )

    return make


def failed(fake: FakeGitHub, status_code: int = 503, **kwargs) -> dict:
    """A pull_request delivery that failed to arrive."""
    return fake.add_hook_delivery(
        "pull_request", payload("pull_request.opened"), status_code=status_code, **kwargs
    )


async def known(db: asyncpg.Connection, guid: str) -> bool:
    return bool(
        await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE delivery_id = $1", guid)
    )


def attempt(n: int, guid: str, status: int, minutes_ago: float = 0) -> HookDelivery:
    # A fixed date: the listing's moments are only compared with each other.
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC) - timedelta(minutes=minutes_ago)
    return HookDelivery(n, guid, when, status, "pull_request", "opened")


def test_failed_deliveries_are_those_none_of_whose_attempts_succeeded() -> None:
    listing = [
        attempt(6, "c", 200, minutes_ago=1),  # c failed, then a redelivery succeeded
        attempt(5, "a", 502, minutes_ago=2),  # a failed twice: its newest attempt is kept
        attempt(4, "d", 200, minutes_ago=3),
        attempt(3, "c", 0, minutes_ago=4),
        attempt(2, "b", 401, minutes_ago=5),
        attempt(1, "a", 503, minutes_ago=6),
    ]
    assert [(d.guid, d.id) for d in failed_deliveries(listing)] == [("b", 2), ("a", 5)]


async def test_a_failed_delivery_is_redelivered_once_and_handled(
    make_sweeper, fake_github: FakeGitHub, webhook_url: str, db: asyncpg.Connection
) -> None:
    lost = failed(fake_github, 503, delivered_at=time.time() - 3600)  # while we were down
    handled = failed(fake_github, 0)  # GitHub timed out, but the service stored it
    await db.execute(
        "INSERT INTO webhook_deliveries (delivery_id, event) VALUES ($1, 'pull_request')",
        handled["guid"],
    )
    mended = failed(fake_github, 502)
    fake_github.add_hook_delivery(
        "pull_request", payload("pull_request.opened"), status_code=200, guid=mended["guid"]
    )
    too_old = failed(fake_github, 503, delivered_at=time.time() - 4 * DAY)
    # Newer successful deliveries fill more than a page: the sweep must page back.
    for _ in range(150):
        fake_github.add_hook_delivery("ping", {"zen": "ok"}, status_code=200)

    result = await make_sweeper().sweep(force=True)

    assert result is not None
    assert (result.redelivered, result.complete) == (1, True)
    [asked] = fake_github.requests_to("POST", REDELIVERIES)
    assert asked.path == f"/app/hook/deliveries/{lost['id']}/attempts"
    assert asked.headers["Authorization"].lower().startswith("bearer ")  # the App's JWT
    assert len(fake_github.requests_to("GET", "/app/hook/deliveries")) == 2  # two pages
    assert await known(db, lost["guid"])
    assert await db.fetchval("SELECT count(*) FROM pull_requests") == 1
    assert not await known(db, too_old["guid"])

    # Swept again: nothing is asked twice.
    assert (await make_sweeper().sweep(force=True)).redelivered == 0
    assert len(fake_github.requests_to("POST", REDELIVERIES)) == 1


async def test_a_delivery_that_keeps_failing_is_asked_for_a_bounded_number_of_times(
    make_sweeper, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    # Redeliveries go nowhere: the webhook URL does not answer.
    fake_github.deliver_to("http://127.0.0.1:9/webhooks/github", WEBHOOK_SECRET)
    lost = failed(fake_github)
    for _ in range(deliveries.MAX_REQUESTS_PER_DELIVERY + 2):
        await make_sweeper().sweep(force=True)
    asked = fake_github.requests_to("POST", REDELIVERIES)
    assert len(asked) == deliveries.MAX_REQUESTS_PER_DELIVERY
    # Each request was about the newest failed attempt, never the same one twice.
    assert len({r.path for r in asked}) == len(asked)
    row = await db.fetchrow("SELECT * FROM webhook_redeliveries")
    assert (row["guid"], row["requests"]) == (lost["guid"], deliveries.MAX_REQUESTS_PER_DELIVERY)


async def test_replicas_sweeping_together_ask_once(
    make_sweeper, fake_github: FakeGitHub, webhook_url: str, db: asyncpg.Connection
) -> None:
    lost = failed(fake_github)
    results = await asyncio.gather(*(make_sweeper().sweep(force=True) for _ in range(3)))
    assert sum(r is not None for r in results) == 1  # one turn; the others found it taken
    assert len(fake_github.requests_to("POST", REDELIVERIES)) == 1
    assert await known(db, lost["guid"])
    # Not forced and within the interval: nobody sweeps again so soon.
    assert await make_sweeper().sweep() is None


async def test_a_concurrent_request_for_the_same_attempt_is_made_once(
    make_sweeper, fake_github: FakeGitHub, webhook_url: str
) -> None:
    lost = HookDelivery.from_api(failed(fake_github))
    sweepers = [make_sweeper() for _ in range(3)]
    asked = await asyncio.gather(*(s._redeliver(lost) for s in sweepers))
    assert sorted(asked) == [False, False, True]
    assert len(fake_github.requests_to("POST", REDELIVERIES)) == 1


async def test_github_down_during_a_sweep_loses_nothing(
    make_sweeper, fake_github: FakeGitHub, webhook_url: str, db: asyncpg.Connection
) -> None:
    lost = failed(fake_github)
    fake_github.fail("POST", REDELIVERIES, 502, times=1000)
    result = await make_sweeper().sweep(force=True)
    assert result is None
    sweep = await db.fetchrow("SELECT * FROM webhook_delivery_sweeps")
    assert "502" in sweep["last_error"]
    assert sweep["locked_until"] is None  # the turn is let go at once
    assert sweep["swept_until"] is None  # and the window stays open for the next sweep
    assert await db.fetchval("SELECT count(*) FROM webhook_redeliveries") == 0

    fake_github.recover()
    assert (await make_sweeper().sweep(force=True)).redelivered == 1
    assert await known(db, lost["guid"])


async def test_a_complete_sweep_moves_the_window_forward(
    make_sweeper, fake_github: FakeGitHub, webhook_url: str, db: asyncpg.Connection
) -> None:
    assert (await make_sweeper().sweep(force=True)).complete
    # Long before the last sweep (less the overlap): already looked at, not listed again.
    failed(fake_github, delivered_at=time.time() - 3600)
    result = await make_sweeper().sweep(force=True)
    assert (result.listed, result.redelivered) == (0, 0)
    # Made since: found.
    failed(fake_github)
    assert (await make_sweeper().sweep(force=True)).redelivered == 1


async def test_the_service_sweeps_soon_after_start_up(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    fake_github: FakeGitHub,
    app_private_key: str,
    db: asyncpg.Connection,
) -> None:
    lost = failed(fake_github)
    service = replace(
        settings,
        github_app_id=str(fake_github.app_id),
        github_app_private_key=app_private_key,
        github_api_url=fake_github.url,
        delivery_sweep_interval_s=0.5,
    )
    client = await aiohttp_client(create_app(service))
    fake_github.deliver_to(str(client.make_url("/webhooks/github")), WEBHOOK_SECRET)
    # Nothing is asked of the service: its own schedule sweeps.
    deadline = time.monotonic() + 30
    while not await known(db, lost["guid"]):
        assert time.monotonic() < deadline, "the failed delivery was never recovered"
        await asyncio.sleep(0.05)
    assert len(fake_github.requests_to("POST", REDELIVERIES)) == 1
