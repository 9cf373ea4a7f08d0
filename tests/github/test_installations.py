"""Installations learnt from GitHub's API at start-up and hourly, without a webhook.

The service runs as the App against the fake GitHub, which already has installations
when the service first starts: adoption's denominator must be right on day one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter import installations as store
from heatmeter.app import create_app
from heatmeter.settings import Settings

from ..test_installation_events import installed
from ..test_metrics import scrape
from .fake_github import FakeGitHub

BEFORE = [("octo/a", 7), ("octo/b", 7), ("octo/c", 7), ("other/d", 8), ("third/e", 9)]


@pytest.fixture
def app_settings(settings: Settings, fake_github: FakeGitHub, app_private_key: str) -> Settings:
    for repository, installation_id in BEFORE:
        fake_github.add_repository(repository, installation_id=installation_id)
    fake_github.add_repository("octo/not-installed")
    fake_github.max_per_page = 2  # so that both listings take more than one page
    return replace(
        settings,
        github_app_id=str(fake_github.app_id),
        github_app_private_key=app_private_key,
        github_api_url=fake_github.url,
        github_retry_budget_s=0.5,
        comment_debounce_s=0.05,
        delivery_sweep_interval_s=0,
    )


async def until_installed(db: asyncpg.Connection, expected: list[str]) -> None:
    """Wait for the event, however long the machine takes (pytest's timeout guards)."""
    while await installed(db) != expected:
        await asyncio.sleep(0.05)


async def test_installations_made_before_the_first_start_are_learnt_at_start_up(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    app_settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    assert await installed(db) == []
    service = await aiohttp_client(create_app(app_settings))

    await until_installed(db, [name for name, _ in BEFORE])
    # Both listings followed their Link headers, as the App and as each installation.
    for path in ("/app/installations", "/installation/repositories"):
        pages = {r.query.get("page", "1") for r in fake_github.requests_to("GET", path)}
        assert "2" in pages, path
    accounts = await db.fetch("SELECT installation_id, account FROM installations ORDER BY 1")
    assert [tuple(r) for r in accounts] == [(7, "octo"), (8, "other"), (9, "third")]
    # Counted once its worker is done with it (a moment after the tables say so).
    synced = ("heatmeter_outbox_items_total", (("kind", "installations"), ("result", "synced")))
    while (await scrape(service)).get(synced, 0) < 1:
        await asyncio.sleep(0.05)


async def test_what_changed_while_nobody_was_told_is_learnt_on_the_next_sync(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    app_settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    # Hourly in production; here a fraction of a second, so the next sync comes soon.
    await aiohttp_client(create_app(replace(app_settings, installation_sync_interval_s=0.2)))
    await until_installed(db, [name for name, _ in BEFORE])

    fake_github.remove_repository("octo/b")  # taken out of installation 7
    fake_github.remove_repository("other/d")  # installation 8 uninstalled with its last one
    fake_github.suspend_installation(9)  # listed, but its repositories do not count
    fake_github.add_repository("octo/f", installation_id=7)
    await until_installed(db, ["octo/a", "octo/c", "octo/f"])
    deleted = await db.fetchval(
        "SELECT deleted_at IS NOT NULL FROM installations WHERE installation_id = 8"
    )
    assert deleted
    assert await db.fetchval(
        "SELECT suspended_at IS NOT NULL FROM installations WHERE installation_id = 9"
    )


async def test_a_rate_limited_listing_waits_in_the_outbox_and_lands(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    app_settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    fake_github.rate_limit_once("/app/installations", reset=int(time.time()) + 1)
    await aiohttp_client(create_app(app_settings))
    await until_installed(db, [name for name, _ in BEFORE])
    refused, *later = fake_github.requests_to("GET", "/app/installations")
    assert refused.status == 403
    assert later[0].at - refused.at >= 1.0  # not before GitHub's reset


async def test_what_a_webhook_stored_after_the_listing_began_is_kept(
    db: asyncpg.Connection,
) -> None:
    listed_since = await db.fetchval("SELECT now() - interval '1 minute'")
    # Installed while the listing was on its way: GitHub's answer cannot show it yet.
    await store.remember_installation(db, 42, "newcomer", None)
    await store.add_repositories(db, 42, [("newcomer/app", 1)])
    assert await store.forget_unlisted(db, [], listed_since=listed_since) == []
    await store.keep_only(db, 42, [], listed_since=listed_since)
    assert await installed(db) == ["newcomer/app"]
    # Listed long after: GitHub's word wins.
    later = await db.fetchval("SELECT now() + $1::interval", timedelta(minutes=1))
    await store.keep_only(db, 42, [], listed_since=later)
    assert await installed(db) == []
    assert await store.forget_unlisted(db, [], listed_since=later) == [42]
