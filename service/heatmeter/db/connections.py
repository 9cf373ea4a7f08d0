"""How heatmeter opens Postgres connections, and which failures mean "Postgres is away".

Every connection carries the application name and heatmeter's clock offset (heatmeter/
clock.py), so heatmeter_now() in SQL agrees with the service's own clock.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from asyncpg.connection import LoggedQuery

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
    # SQLSTATE 25006: the server takes no writes (a primary demoted by a failover, or a
    # database set read-only). The pool drops such sessions (`ReadOnlySessions`); a retry
    # lands on the new primary, or on this one once it is writable again.
    asyncpg.ReadOnlySQLTransactionError,
)

# Whether a session may write: not on a standby, not in a read-only session.
SELECT_READ_ONLY = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean"


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


def ended(conn: asyncpg.Connection) -> bool:
    """Whether a session held from a pool was ended meanwhile (a failover, a restart,
    ``pg_terminate_backend``): asyncpg then takes it back into the pool by itself, and
    every later call on it fails without reaching the server."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # "connection has been released back to the pool"
        return True


class ReadOnlySessions:
    """Drops a pool's sessions once one of them is found read-only.

    A primary demoted by a failover answers every write with SQLSTATE 25006, and so does a
    database set ``default_transaction_read_only``. Postgres reads that setting when a
    session starts, so a session opened while the database was read-only stays read-only
    after it is writable again: kept in the pool, it would fail writes until ended by
    hand. So any query of the pool failing with 25006, or `accepts_writes` finding a
    session read-only, expires every session of the pool: asyncpg closes each when it is
    next released or acquired and opens a fresh one. Sessions opened after that, while
    the database is still read-only, are expired in turn by the first check that finds the
    database writable again (``/readyz`` asks every few seconds), or by their first failed
    write.
    """

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        # A read-only session was found since the last check that found the database
        # writable: sessions of that time may still be in the pool.
        self.seen = False
        self._expiring: set[asyncio.Task[None]] = set()

    async def watch(self, conn: asyncpg.Connection) -> None:
        """The pool's ``init``: each new session tells of its queries' failures."""
        # A plain function: asyncpg calls it soon after each query; it costs a
        # type check on a query that failed, nothing else.
        conn.add_query_logger(self._after_query)

    def _after_query(self, record: LoggedQuery) -> None:
        if isinstance(record.exception, asyncpg.ReadOnlySQLTransactionError):
            self.seen = True
            if self.pool is not None:
                task = asyncio.get_running_loop().create_task(self.pool.expire_connections())
                self._expiring.add(task)
                task.add_done_callback(self._expiring.discard)

    async def accepts_writes(self, wait_s: float) -> bool:
        """Whether the database takes writes, asked on a session of the pool (and, when
        that one is read-only, again on a fresh one, the others dropped)."""
        assert self.pool is not None, "ReadOnlySessions.pool is set by create_pool"
        for _ in range(2):
            async with self.pool.acquire(timeout=wait_s) as conn:
                read_only = await conn.fetchval(SELECT_READ_ONLY)
            if not read_only:
                break
            self.seen = True
            await self.pool.expire_connections()
        else:
            return False
        if self.seen:
            # Writable again: the sessions opened while it was not are still read-only.
            self.seen = False
            await self.pool.expire_connections()
        return True


async def create_pool(
    dsn: str, *, read_only: ReadOnlySessions | None = None, **options: Any
) -> asyncpg.Pool:
    """The service's pool, with the same session settings as :func:`connect`; with
    ``read_only``, sessions found read-only are dropped (see `ReadOnlySessions`)."""
    if read_only is not None:
        options["init"] = read_only.watch
    pool = await asyncpg.create_pool(dsn, server_settings=server_settings(), **options)
    if read_only is not None:
        read_only.pool = pool
    return pool
