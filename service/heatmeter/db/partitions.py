"""Keeps task_runs' monthly partitions ready before their month, and drops months past retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import structlog

from ..http.errors import DATABASE_DOWN

log = structlog.get_logger(__name__)

# sql/005 defines the function: partitions for this month and the next ones, a
# partition for any month found waiting in the default partition, retention.
MAINTAIN = "SELECT change FROM heatmeter_task_runs_maintain($1, $2) AS change"

# Two months ahead: a service that stops for a few weeks still finds its month ready.
MONTHS_AHEAD = 2
# Adding or dropping a partition takes a short lock on task_runs; rather than queue
# behind a long query (and make reports queue behind us), give up and try next round.
LOCK_TIMEOUT = "5s"
INTERVAL_S = 3600.0


async def maintain_partitions(conn: asyncpg.Connection, retention_days: int | None) -> list[str]:
    """Run one round; return what changed ("created task_runs_y2026m12", "dropped ...")."""
    keep = timedelta(days=retention_days) if retention_days else None
    async with conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        rows = await conn.fetch(MAINTAIN, MONTHS_AHEAD, keep)
    return [row["change"] for row in rows]


async def upkeep(pool: asyncpg.Pool, retention_days: int | None) -> None:
    """One round, logged; a failure is logged and left to the next round."""
    try:
        async with pool.acquire() as conn:
            changes = await maintain_partitions(conn, retention_days)
        if changes:
            log.info("task_runs partitions maintained", changes=changes)
    except (*DATABASE_DOWN, asyncpg.LockNotAvailableError) as exc:
        # Rows of a month without its partition wait in the default partition, so a
        # missed round delays this work and loses nothing.
        log.warning("task_runs partition upkeep postponed", error=repr(exc))
    except asyncpg.PostgresError:
        log.exception("task_runs partition upkeep failed")


async def keep_partitions(
    pool: asyncpg.Pool, retention_days: int | None, *, interval_s: float = INTERVAL_S
) -> None:
    """A round every `interval_s` until cancelled (the first one is the caller's)."""
    while True:
        await asyncio.sleep(interval_s)
        await upkeep(pool, retention_days)
