"""Background upkeep of the history: monthly partitions, retention, task_health's snapshot."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
import structlog

from .connections import DATABASE_DOWN

log = structlog.get_logger(__name__)

# sql/005 defines the function: partitions for this month and the next ones, a
# partition for any month found waiting in the default partition, retention.
MAINTAIN = "SELECT change FROM heatmeter_task_runs_maintain($1, $2) AS change"
REFRESH_TASK_HEALTH = "SELECT heatmeter_refresh_task_health()"

# Two months ahead: a service that stops for a few weeks still finds its month ready.
MONTHS_AHEAD = 2
# Adding or dropping a partition takes a short lock on task_runs; rather than queue
# behind a long query (and make reports queue behind us), give up and try next round.
LOCK_TIMEOUT = "5s"


async def maintain_partitions(conn: asyncpg.Connection, retention_days: int | None) -> list[str]:
    """Run one round; return what changed ("created task_runs_y2026m12", "dropped ...")."""
    keep = timedelta(days=retention_days) if retention_days else None
    async with conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        rows = await conn.fetch(MAINTAIN, MONTHS_AHEAD, keep)
    return [row["change"] for row in rows]


async def refresh_task_health(conn: asyncpg.Connection) -> bool:
    """Recompute task_health's snapshot; False when another replica is at it."""
    return await conn.fetchval(REFRESH_TASK_HEALTH)


# The snapshot's refresh reads the whole 28-day window (about 30 s of one core at 10
# million runs): however short HEATMETER_VIEWS_REFRESH, it takes at most this share
# of the time.
REFRESH_SHARE = 0.1


async def upkeep(pool: asyncpg.Pool, retention_days: int | None, *, refresh: bool = True) -> float:
    """One round, logged; a failure is logged and left to the next round.

    Returns how long the snapshot's refresh took, in seconds (0 when none ran).
    """
    took = 0.0
    try:
        async with pool.acquire() as conn:
            changes = await maintain_partitions(conn, retention_days)
            if changes:
                log.info("task_runs partitions maintained", changes=changes)
            if refresh:
                started = time.monotonic()
                await refresh_task_health(conn)
                took = time.monotonic() - started
    except (*DATABASE_DOWN, asyncpg.LockNotAvailableError) as exc:
        # Rows of a month without its partition wait in the default partition, and the
        # snapshot only gets older, so a missed round delays this work and loses nothing.
        log.warning("history upkeep postponed", error=repr(exc))
    except asyncpg.PostgresError:
        log.exception("history upkeep failed")
    return took


async def keep_history(pool: asyncpg.Pool, retention_days: int | None, interval_s: float) -> None:
    """A round every `interval_s` until cancelled (start-up runs its own first round)."""
    took = 0.0
    while True:
        await asyncio.sleep(max(interval_s, took / REFRESH_SHARE - took))
        took = await upkeep(pool, retention_days)
