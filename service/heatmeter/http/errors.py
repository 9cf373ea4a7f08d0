"""JSON error answers, and the failures that mean "the database is away"."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

# Failures that mean "Postgres is not there right now": the client should retry later.
DATABASE_DOWN = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    # The server shutting down, or resetting after a crash, ends every session with these.
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # asyncpg's own confusion when the server vanishes mid-statement ("cannot switch to
    # state ..."), seen when the postmaster is killed. Retrying is safe: every write is
    # idempotent (a report's key, a delivery's id).
    asyncpg.InternalClientError,
)
RETRY_AFTER_S = 5


def json_error(status: int, error: str, detail: str, **extra: Any) -> web.Response:
    """An error answer clients can act on: a stable ``error`` code and a readable ``detail``."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return web.json_response(
        {"error": error, "detail": detail, **extra}, status=status, headers=headers
    )


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing (413) as soon as it passes ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> web.HTTPException:
    return web.HTTPRequestEntityTooLarge(
        max_size=limit,
        actual_size=-1,
        text=f"the body is larger than {limit} bytes",
    )
