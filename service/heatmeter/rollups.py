"""Keeps the scorecard's daily roll-ups current: heat_refresh_rollups() (sql/007) on a schedule."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from .db.connections import DATABASE_DOWN

log = structlog.get_logger(__name__)

REFRESH = "SELECT heat_refresh_rollups(rebuild => $1)"
# A refresh recomputes only what changed, in milliseconds; the first one after the
# migration (or a rebuild) reads all of task_runs and may take minutes on a large history.
REFRESH_TIMEOUT_S = 3600.0
# After a failure, wait at least this long before trying again.
RETRY_WAIT_S = 5.0


async def refresh_rollups(conn: asyncpg.Connection, *, rebuild: bool = False) -> int | None:
    """Recompute what changed (everything with ``rebuild``); return the cells recomputed.

    None when another session (another replica) is refreshing at this moment.
    """
    return await conn.fetchval(REFRESH, rebuild, timeout=REFRESH_TIMEOUT_S)


class RollupRefresher:
    """Refreshes the roll-ups every ``interval_s`` seconds until cancelled.

    Every replica runs one; an advisory lock inside the refresh lets one of them work
    while the others skip that turn, so N replicas cost one refresh per interval.
    """

    def __init__(self, pool: asyncpg.Pool, *, interval_s: float) -> None:
        self._pool = pool
        self._interval_s = interval_s

    async def run(self) -> None:
        while True:
            wait = self._interval_s
            try:
                await self.run_once()
            except DATABASE_DOWN as exc:
                log.warning("roll-up refresh waiting for the database", error=repr(exc))
                wait = max(wait, RETRY_WAIT_S)
            except Exception:
                # A bug must not stop the schedule: the next turn recomputes the same cells.
                log.exception("roll-up refresh failed; trying again next turn")
                wait = max(wait, RETRY_WAIT_S)
            await asyncio.sleep(wait)

    async def run_once(self) -> int | None:
        async with self._pool.acquire() as conn:
            cells = await refresh_rollups(conn)
        if cells:
            log.debug("roll-ups refreshed", cells=cells)
        return cells
