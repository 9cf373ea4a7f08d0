"""A database that fails over to read-only, or ends the service's sessions: 503, never 500.

Played for real on a database of each test's own: ``default_transaction_read_only`` set on
it (as a demoted primary answers: SQLSTATE 25006 on every write) and the service's
sessions ended with ``pg_terminate_backend``, then the setting reverted. Sessions opened
while the database was read-only stay read-only after the revert (Postgres reads the
setting when a session starts), so the service must drop them itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.db.migrations import migrate
from heatmeter.settings import Settings

from ..conftest import REPORT_SECRET, serve_app
from ..reports import make_report, signed
from ..test_webhooks import WEBHOOK_SECRET
from ..webhooks import payload, webhook_request


class Database:
    """A test's own database, and a session outside the service to switch it around."""

    def __init__(self, url: str, admin: asyncpg.Connection) -> None:
        self.url = url
        self.admin = admin
        self.name = urlsplit(url).path.lstrip("/")

    async def read_only(self, on: bool) -> None:
        if on:
            await self.admin.execute(
                f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = on'
            )
        else:
            await self.admin.execute(
                f'ALTER DATABASE "{self.name}" RESET default_transaction_read_only'
            )

    async def service_sessions(self) -> list[int]:
        rows = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name LIKE 'heatmeter/%'",
            self.name,
        )
        return [row["pid"] for row in rows]

    async def end_service_sessions(self) -> None:
        """pg_terminate_backend on each of the service's sessions; returns once all are gone."""
        for pid in await self.service_sessions():
            await self.admin.execute("SELECT pg_terminate_backend($1)", pid)
        while await self.service_sessions():
            await asyncio.sleep(0.01)  # until Postgres has ended them: an observed state

    async def count(self, table: str) -> int:
        return await self.admin.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608


@pytest.fixture
async def database(create_database: Callable[[], str]) -> AsyncIterator[Database]:
    url = await asyncio.to_thread(create_database)
    admin = await asyncpg.connect(url)
    try:
        await migrate(admin)
        yield Database(url, admin)
    finally:
        # Writable again, so that dropping it at the end of the session works as ever.
        await Database(url, admin).read_only(False)
        await admin.close()


@pytest.fixture
async def service(aiohttp_client, settings: Settings, database: Database) -> TestClient:
    return await serve_app(aiohttp_client, replace(settings, database_url=database.url))


async def report(client: TestClient, run_id: int) -> aiohttp.ClientResponse:
    body, headers = signed(make_report(run_id=run_id), REPORT_SECRET)
    response = await client.post("/v1/reports", data=body, headers=headers)
    await response.read()
    return response


async def webhook(client: TestClient) -> aiohttp.ClientResponse:
    body, headers = webhook_request(
        "ping", payload("ping.with-app_id"), WEBHOOK_SECRET, delivery_id=str(uuid.uuid4())
    )
    response = await client.post("/webhooks/github", data=body, headers=headers)
    await response.read()
    return response


async def assert_unavailable(response: aiohttp.ClientResponse) -> None:
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"].isdigit()
    assert response.content_type == "application/json"
    answer = await response.json()
    assert answer["error"] == "database_unavailable", answer
    assert "Traceback" not in answer["detail"]


async def fail_over(database: Database, service: TestClient) -> None:
    """The database turns read-only and every session of the service is ended."""
    # The service has sessions to lose: the report writer's, the webhook's, /readyz's.
    assert (await report(service, 1)).status == 202
    assert (await webhook(service)).status == 200
    assert (await service.get("/readyz")).status == 200
    await database.read_only(True)
    await database.end_service_sessions()


async def test_every_write_to_a_read_only_database_is_503_and_readyz_says_so(
    database: Database, service: TestClient
) -> None:
    await fail_over(database, service)
    for run_id in range(2, 6):
        await assert_unavailable(await report(service, run_id))
        await assert_unavailable(await webhook(service))
    readiness = await service.get("/readyz")
    assert readiness.status == 503
    assert readiness.headers["Retry-After"].isdigit()
    assert (await readiness.json())["database"] == "read_only"
    # Reads still work from a read-only database: the scorecard is served.
    assert (await service.get("/v1/summary")).status == 200
    assert await database.count("task_runs") == 1
    assert await database.count("webhook_deliveries") == 1

    # The setting reverted, the sessions opened meanwhile (read-only still) are dropped:
    # /readyz, asked as an orchestrator does, finds the database writable, and every
    # write after it is stored.
    await database.read_only(False)
    readiness = await service.get("/readyz")
    assert readiness.status == 200, await readiness.text()
    for run_id in range(6, 10):
        assert (await report(service, run_id)).status == 202
        assert (await webhook(service)).status == 200
    assert await database.count("task_runs") == 5
    assert await database.count("webhook_deliveries") == 5


async def test_without_readyz_a_read_only_session_is_dropped_at_its_first_failed_write(
    database: Database, service: TestClient
) -> None:
    await fail_over(database, service)
    await assert_unavailable(await report(service, 2))
    # Sessions opened while read-only, for reads that work: they stay in the pool.
    await asyncio.gather(*(service.get("/v1/summary") for _ in range(4)))
    await database.read_only(False)

    statuses = [(await report(service, run_id)).status for run_id in range(3, 8)]
    # The first may meet a session opened while read-only; it is answered 503 (the action
    # retries), and that session and every other of its time are dropped: the rest land.
    assert statuses[0] in {202, 503}, statuses
    assert statuses[1:] == [202] * 4, statuses
    assert [(await webhook(service)).status for _ in range(3)] == [200] * 3
