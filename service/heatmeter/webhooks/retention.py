"""Forgets webhook delivery ids past their retention, in batches, every hour."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from ..db.connections import DATABASE_DOWN
from ..jobs.origins import PRUNE_ORIGINS

log = structlog.get_logger(__name__)

PRUNE_INTERVAL_S = 3600.0
FIRST_PRUNE_AFTER_S = 60.0
# Small batches keep each delete short, so webhooks being recorded never wait long.
BATCH = 5000

PRUNE_DELIVERIES = """
DELETE FROM webhook_deliveries WHERE delivery_id IN (
    SELECT delivery_id FROM webhook_deliveries
    WHERE received_at < now() - make_interval(secs => $1)
    LIMIT $2
)
"""

PRUNE_REDELIVERIES = """
DELETE FROM webhook_redeliveries WHERE guid IN (
    SELECT guid FROM webhook_redeliveries
    WHERE requested_at < now() - make_interval(secs => $1)
    LIMIT $2
)
"""


async def prune(conn: asyncpg.Connection, retention_s: float, *, batch: int = BATCH) -> int:
    """Delete deliveries (and redelivery requests, and the origins of workflow runs) older
    than ``retention_s``; how many."""
    pruned = 0
    for statement in (PRUNE_DELIVERIES, PRUNE_REDELIVERIES, PRUNE_ORIGINS):
        while True:
            deleted = int((await conn.execute(statement, retention_s, batch)).split()[-1])
            pruned += deleted
            if deleted < batch:
                break
    return pruned


async def keep_pruned(
    pool: asyncpg.Pool,
    retention_s: float,
    *,
    interval_s: float = PRUNE_INTERVAL_S,
    first_after_s: float = FIRST_PRUNE_AFTER_S,
) -> None:
    """Prune until cancelled. Replicas may prune together: a row is deleted once."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            async with pool.acquire() as conn:
                pruned = await prune(conn, retention_s)
            if pruned:
                log.info("webhook deliveries pruned", rows=pruned, retention_s=retention_s)
        except DATABASE_DOWN as exc:
            log.warning("webhook pruning waiting for the database", error=repr(exc))
        except Exception:
            log.exception("webhook pruning failed; trying again at the next interval")
        await asyncio.sleep(interval_s)
