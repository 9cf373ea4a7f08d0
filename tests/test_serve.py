"""`heatmeter serve` and `heatmeter migrate` as processes: start-up, settings, graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from .conftest import REPORT_SECRET
from .github.test_pr_comment import wait_ready
from .reports import make_report, signed


def heatmeter(*args: str, **env: str) -> Callable[[], asyncio.subprocess.Process]:
    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "heatmeter", *args,
            env={**os.environ, "HEATMETER_LOG_FORMAT": "json", **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

    return start


@pytest.fixture
async def served(
    database_url: str, db: asyncpg.Connection, unused_tcp_port: int
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    process = await heatmeter(
        "serve",
        "--port",
        str(unused_tcp_port),
        DATABASE_URL=database_url,
        HEATMETER_REPORT_SECRET=REPORT_SECRET,
    )()
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        await wait_ready(url)
        yield url, process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_lets_the_request_in_flight_finish(
    served: tuple[str, asyncio.subprocess.Process], db: asyncpg.Connection
) -> None:
    url, process = served
    body, headers = signed(make_report(), REPORT_SECRET)

    async def post() -> tuple[int, dict]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/v1/reports", data=body, headers=headers) as response,
        ):
            return response.status, await response.json()

    # Hold the table so the report is stuck mid-insert when the service is told to stop.
    async with db.transaction():
        await db.execute("LOCK TABLE task_runs IN EXCLUSIVE MODE")
        request = asyncio.create_task(post())
        while not await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE relation = 'task_runs'::regclass AND NOT granted"
        ):
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        await listener_closed(url)
        # Stopping has begun, and the request still waits for its row: not cut short.
        assert not request.done()
    status, answer = await request
    assert status == 202
    assert await db.fetchval("SELECT id FROM task_runs") == answer["id"]
    assert await process.wait() == 0


async def listener_closed(url: str) -> None:
    """Wait until the service refuses new connections: the first step of its graceful stop."""
    host, port = url.removeprefix("http://").split(":")
    while True:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except ConnectionError:  # refused, or reset while the listener closes
            return
        writer.close()
        await asyncio.sleep(0.02)


async def test_migrate_command_is_idempotent(create_database: Callable[[], str]) -> None:
    url = create_database()
    for _ in range(2):
        process = await heatmeter("migrate", DATABASE_URL=url)()
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") >= 2
    finally:
        await conn.close()


async def test_a_bad_setting_is_a_clear_error_not_a_traceback() -> None:
    process = await heatmeter("serve", HEATMETER_PORT="eighty")()
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"HEATMETER_PORT must be a number" in stderr
    assert b"Traceback" not in stderr


async def test_an_unreachable_database_is_a_clear_error(unused_tcp_port: int) -> None:
    process = await heatmeter(
        "migrate", DATABASE_URL=f"postgresql://nobody@127.0.0.1:{unused_tcp_port}/none"
    )()
    _, stderr = await process.communicate()
    assert process.returncode == 1
    assert b"cannot reach the database" in stderr
    assert b"Traceback" not in stderr


async def test_a_broken_app_key_is_a_clear_error_that_does_not_echo_it(
    database_url: str, unused_tcp_port: int
) -> None:
    key = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END PRIVATE KEY-----\n"
    process = await heatmeter(
        "serve", "--port", str(unused_tcp_port),
        DATABASE_URL=database_url, GITHUB_APP_ID="1", GITHUB_APP_PRIVATE_KEY=key,
    )()  # fmt: skip
    stdout, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"GITHUB_APP_PRIVATE_KEY" in stderr
    assert b"c2VjcmV0" not in stdout + stderr
    assert b"Traceback" not in stderr


async def test_serve_without_database_url_starts_and_stops_an_embedded_postgres(
    server_tmp: Path, unused_tcp_port: int
) -> None:
    tmp_path = server_tmp
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", "serve", "--port", str(unused_tcp_port),
        env={**env, "HEATMETER_DATA_DIR": str(tmp_path), "HEATMETER_REPORT_SECRET": "s"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        await wait_ready(url)
        body, headers = signed(make_report(), "s")
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/v1/reports", data=body, headers=headers) as response,
        ):
            assert response.status == 202
        conn = await asyncpg.connect(f"postgresql://postgres@/postgres?host={tmp_path}/postgres")
        try:
            assert await conn.fetchval("SELECT count(*) FROM task_runs") == 1
        finally:
            await conn.close()
    finally:
        process.terminate()
        assert await process.wait() == 0
    # The server stopped with the service: its pid file is gone.
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()


async def test_a_busy_port_is_a_clear_error(database_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await heatmeter("serve", "--port", str(port), DATABASE_URL=database_url)()
        _, stderr = await process.communicate()
    assert process.returncode == 1
    assert b"cannot listen" in stderr
    assert b"Traceback" not in stderr


async def test_an_unusable_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", "migrate",
        env={**env, "HEATMETER_DATA_DIR": str(blocker / "inside")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    assert process.returncode == 1
    assert b"did not start" in stderr
    assert b"HEATMETER_DATA_DIR" in stderr
    assert b"Traceback" not in stderr
