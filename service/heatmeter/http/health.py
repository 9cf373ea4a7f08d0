"""Liveness and readiness: /healthz answers while the process runs, /readyz when it can work."""

from __future__ import annotations

from functools import cache

from aiohttp import web

from ..appkeys import pool_key, read_only_key
from ..db.connections import DATABASE_DOWN
from ..db.migrations import Migration, load_migrations, pending_count
from .errors import RETRY_AFTER_S

routes = web.RouteTableDef()


@cache
def _migrations_on_disk() -> list[Migration]:
    # Probes come every few seconds; the files do not change under a running process.
    return load_migrations()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when the primary takes writes and every migration is applied.

    A reachable database that takes no writes (a primary demoted by a failover) is not
    ready: every report and webhook would be refused. Asking also drops the sessions a
    read-only time left in the pool (see `ReadOnlySessions`).
    """
    try:
        writable = await request.app[read_only_key].accepts_writes(wait_s=2)
        async with request.app[pool_key].acquire(timeout=2) as conn:
            pending = await pending_count(conn, _migrations_on_disk())
    except DATABASE_DOWN:
        return web.json_response(
            {"status": "unavailable", "database": "unreachable"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if not writable:
        return web.json_response(
            {"status": "unavailable", "database": "read_only"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if pending:
        return web.json_response(
            {"status": "unavailable", "database": "ok", "pending_migrations": pending},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return web.json_response({"status": "ok", "database": "ok", "pending_migrations": 0})
