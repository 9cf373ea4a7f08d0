"""Start a real `heatmeter serve` process for a benchmark, on its own database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """DATABASE_URL's server with a fresh database, else an embedded server in a temp dir."""
    if url := os.environ.get("DATABASE_URL"):
        name = f"heatmeter_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_execute(url, f'CREATE DATABASE "{name}"'))
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
        finally:
            asyncio.run(_execute(url, f'DROP DATABASE "{name}" WITH (FORCE)'))
        return
    sys.path.insert(0, str(ROOT / "service"))
    from heatmeter.db.embedded import embedded_postgres

    with (
        tempfile.TemporaryDirectory(prefix="heatmeter-bench-") as data,
        embedded_postgres(Path(data)) as embedded,
    ):
        yield embedded.dsn


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def service(database_url: str, **env: str) -> Iterator[str]:
    """A `heatmeter serve` subprocess; yields its base URL once /readyz answers 200."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "heatmeter", "serve", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": database_url, "HEATMETER_LOG_FORMAT": "json", **env},
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    host, port = urlsplit(url).hostname, urlsplit(url).port
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"heatmeter serve exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("heatmeter serve did not become ready")
