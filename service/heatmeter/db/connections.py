"""How heatmeter opens Postgres connections, and which failures mean "Postgres is away".

Every connection carries the application name and heatmeter's clock offset (heatmeter/
clock.py), so heatmeter_now() in SQL agrees with the service's own clock.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from .. import __version__, clock

# Failures that mean "Postgres is not there right now": the client should retry later.
# OSError is here for connection failures; a client that hangs up mid-body raises one
# too, which is why `http.errors.read_body` turns those into `ClientError` first.
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


class DatabaseUnreachable(Exception):
    """Postgres could not be reached or refused us; the message says how."""


def server_settings() -> dict[str, str]:
    return {"application_name": f"heatmeter/{__version__}", **clock.server_settings()}


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection, or DatabaseUnreachable saying why not (for the CLI's commands)."""
    try:
        return await asyncpg.connect(dsn, server_settings=server_settings())
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnreachable(str(exc)) from None


async def create_pool(dsn: str, **options: Any) -> asyncpg.Pool:
    """The service's pool, with the same session settings as :func:`connect`."""
    return await asyncpg.create_pool(dsn, server_settings=server_settings(), **options)
