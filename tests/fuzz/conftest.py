"""The service on its own thread and event loop, for fuzzers that drive it synchronously.

Hypothesis and schemathesis run test cases one after another from plain functions; the
service runs beside them, as `heatmeter serve` runs it (same runner), over the session's
database. `budget()` sizes every fuzz run: small and seeded in `make test`, large and
random in `make fuzz`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pytest
import requests
from aiohttp import web
from hypothesis import HealthCheck, settings

from heatmeter.app import create_app
from heatmeter.appkeys import pool_key
from heatmeter.http.server import AppRunner
from heatmeter.reports.trust import SIGNATURE_HEADER, sign
from heatmeter.settings import Settings

from ..conftest import REPORT_SECRET, data_tables, empty_tables

T = TypeVar("T")


def budget(examples: int) -> settings:
    """Hypothesis settings: ``examples`` seeded cases, or HEATMETER_FUZZ_EXAMPLES random ones."""
    wide = os.environ.get("HEATMETER_FUZZ_EXAMPLES")
    return settings(
        max_examples=int(wide) if wide else examples,
        derandomize=not wide,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large],
    )  # fmt: skip


@dataclass
class LiveService:
    url: str
    loop: asyncio.AbstractEventLoop
    app: Any

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def counts(self) -> dict[str, int]:
        """Rows in every table: a refused request must leave each as it was."""

        async def count() -> dict[str, int]:
            async with self.app[pool_key].acquire() as conn:
                return {
                    table: await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
                    for table in await data_tables(conn)
                }

        return self.run(count())

    def fetchval(self, sql: str, *args: Any) -> Any:
        async def fetch() -> Any:
            async with self.app[pool_key].acquire() as conn:
                return await conn.fetchval(sql, *args)

        return self.run(fetch())


@pytest.fixture(scope="module")
def live_service(database_url: str) -> Iterator[LiveService]:
    settings_ = Settings(
        database_url=database_url,
        report_secret=REPORT_SECRET,
        webhook_secret="test-webhook-secret",
        log_format="console",
    )
    ready: dict[str, Any] = {}
    started = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        app = create_app(replace(settings_))
        runner = AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            ready.update(url=f"http://127.0.0.1:{port}", loop=asyncio.get_running_loop(), app=app)
            started.set()
            await stop.wait()
            # Leave the database as the other tests expect it: empty.
            async with app[pool_key].acquire() as conn:
                await empty_tables(conn)
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    started.wait()
    service = LiveService(**ready)
    yield service
    service.loop.call_soon_threadsafe(stop.set)
    thread.join()


class SignReports(requests.auth.AuthBase):
    """Signs each request's body as the action does, whatever the body turned out to be."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        request.headers[SIGNATURE_HEADER] = sign(REPORT_SECRET, body)
        return request


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = SignReports()
        yield session
