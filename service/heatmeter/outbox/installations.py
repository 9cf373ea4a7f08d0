"""Kind "installations": learn from GitHub's API where the App is installed (a GitHub lookup).

Asked for at start-up and then hourly by every replica (``request_sync``); requests
coalesce into one item, so one replica performs each. It lists the App's installations
and their repositories through the one client (paginated, rate-limited) and makes the
installation tables say the same, so adoption's denominator is right from the first
day, even for installations made before the service ever ran, or while it was down.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from .. import installations as store
from ..db.connections import DATABASE_DOWN
from ..github.credentials import AppAuth
from ..github.installations import list_installations
from . import queue
from .kind import Context, Kind, has_github_app
from .queue import Item

log = structlog.get_logger(__name__)

NAME = "installations"
KEY: dict[str, str] = {}  # one item: the whole listing

LISTING_STARTS = "SELECT clock_timestamp()"


async def request_sync(conn: asyncpg.Connection) -> None:
    await queue.request(conn, NAME, KEY)


async def keep_synced(pool: asyncpg.Pool, interval_s: float) -> None:
    """Ask for a sync now, then every ``interval_s``, until cancelled; a database outage
    delays the request, it does not stop the schedule."""
    while True:
        try:
            async with pool.acquire() as conn:
                await request_sync(conn)
        except DATABASE_DOWN as exc:
            log.warning("installation sync not requested: database away", error=repr(exc))
            await asyncio.sleep(min(interval_s, 5.0))
            continue
        await asyncio.sleep(interval_s)


async def sync_installations(item: Item, context: Context) -> str:
    """Make the installation tables say what GitHub lists; "synced"."""
    github = context.github
    assert github is not None
    auth = github.auth
    assert isinstance(auth, AppAuth)
    async with context.pool.acquire() as conn:
        # What a webhook stores after this moment is newer than the listing: kept.
        listed_since = await conn.fetchval(LISTING_STARTS)
    listed = await list_installations(github)
    async with context.pool.acquire() as conn, conn.transaction():
        for installation in listed:
            await store.remember_installation(
                conn, installation.id, installation.account, installation.suspended_at
            )
            if installation.repositories is not None:
                repositories = [(r.full_name, r.id) for r in installation.repositories]
                await store.keep_only(
                    conn, installation.id, repositories, listed_since=listed_since
                )
        gone = await store.forget_unlisted(conn, [i.id for i in listed], listed_since=listed_since)
    for installation in listed:
        for repository in installation.repositories or []:
            # Spares the App a lookup when it next writes there.
            auth.remember_installation(repository.full_name, installation.id)
    for installation_id in gone:
        auth.forget_installation(installation_id)
    log.info(
        "installations learnt from GitHub",
        installations=len(listed),
        repositories=sum(len(i.repositories or []) for i in listed),
        uninstalled_meanwhile=len(gone),
    )
    return "synced"


KIND = Kind(NAME, sync_installations, available=has_github_app)
