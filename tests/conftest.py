"""Shared fixtures: a real Postgres (DATABASE_URL's server, else an embedded one) per session.

Every test session gets a database of its own, created and migrated here and dropped at
the end, so runs against a shared server never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from heatmeter import clock
from heatmeter.app import create_app
from heatmeter.db.migrations import migrate
from heatmeter.http.server import AppRunner
from heatmeter.settings import Settings

from .oidc_issuer import OidcIssuer, serve_issuer
from .throwaway_postgres import stop_leftover_server

TABLES_TO_KEEP = {"schema_migrations"}


def pytest_report_header() -> str:
    shift = clock.offset()
    return f"heatmeter clock: {'real time' if not shift else f'moved by {shift}'}"


def run_sync(coro_fn: Callable[[], object]) -> None:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro_fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def with_database(dsn: str, database: str) -> str:
    """The same server, another database (works for TCP and Unix-socket DSNs)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A DSN for a server on which tests may create databases."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    from heatmeter.db.embedded import embedded_postgres

    data_dir = Path(tempfile.mkdtemp(prefix="heatmeter-test-"))
    try:
        with embedded_postgres(data_dir) as embedded:
            yield embedded.dsn
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def server_tmp() -> Iterator[Path]:
    """A temporary folder a Postgres run as another user (root runs pgserver's as
    ``pgserver``) can use: outside pytest's own, whose parent every pytest session on the
    machine sets back to mode 0700, locking that user out while its server runs."""
    folder = Path(tempfile.mkdtemp(prefix="heatmeter-pg-"))
    try:
        yield folder
    finally:
        stop_leftover_server(folder / "postgres")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def create_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """A factory of empty databases on the test server, all dropped at the end."""
    created: list[str] = []

    def run(sql: str) -> None:
        async def execute() -> None:
            conn = await asyncpg.connect(postgres_server)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        run_sync(execute)

    def create() -> str:
        name = f"heatmeter_test_{uuid.uuid4().hex[:12]}"
        run(f'CREATE DATABASE "{name}"')
        if shift := clock.offset():
            # Every connection to it, the tests' own included, sees the moved clock.
            run(
                f"ALTER DATABASE \"{name}\" SET {clock.SQL_SETTING} = '{clock.sql_interval(shift)}'"
            )
        created.append(name)
        return with_database(postgres_server, name)

    yield create
    for name in created:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(create_database: Callable[[], str]) -> str:
    """The session's migrated database."""
    url = create_database()

    async def setup() -> None:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    run_sync(setup)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the session's database, left empty for the next test."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await empty_tables(conn)
        await conn.close()


async def data_tables(conn: asyncpg.Connection) -> list[str]:
    """Every table the service writes (quoted), the migration ledger aside."""
    tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return [f'"{t["tablename"]}"' for t in tables if t["tablename"] not in TABLES_TO_KEEP]


async def empty_tables(conn: asyncpg.Connection) -> None:
    if names := await data_tables(conn):
        await conn.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")


REPORT_SECRET = "test-report-secret"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        report_secret=REPORT_SECRET,
        webhook_secret="test-webhook-secret",
        log_format="console",
        # Tests refresh the roll-ups themselves, when their data is in place.
        rollup_interval_s=0,
    )


class ServiceTestServer(TestServer):
    """The app served as `heatmeter serve` serves it: its runner (JSON answers from the HTTP
    parser too) and aiohttp's default of letting a handler finish when its client leaves."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        kwargs.pop("handler_cancellation", None)
        return AppRunner(self.app, **kwargs)


async def serve_app(aiohttp_client: Callable[..., TestClient], settings: Settings) -> TestClient:
    return await aiohttp_client(ServiceTestServer(create_app(settings)))


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., TestClient], settings: Settings, db: asyncpg.Connection
) -> TestClient:
    """The service on a real TCP port of 127.0.0.1, over the session's database."""
    return await serve_app(aiohttp_client, settings)


@pytest.fixture
async def issuer() -> AsyncIterator[OidcIssuer]:
    """A local OIDC issuer standing in for GitHub Actions' (keys, JWKS, runner tokens)."""
    async with serve_issuer() as issuer:
        yield issuer
