"""The embedded Postgres is supervised: killed, it is started again; it stops with the service.

The tests wait for what the service says it did (its log, as it writes it) and for its
answers, never for a guessed duration: on a busy machine a start after a kill (crash
recovery) can take longer than any deadline a test would pick, and longer than the 10 s
pgserver gives ``pg_ctl start`` (see tests/db/test_embedded.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from heatmeter.db.supervisor import RESTART_BACKOFF_CAP_S, restart_backoff, supervise

from .github.test_pr_comment import wait_ready
from .reports import make_report, signed


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


async def post_report(url: str, run_id: int) -> int:
    body, headers = signed(make_report(run_id=run_id), "s")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/reports", data=body, headers=headers) as response,
    ):
        return response.status


class ServiceLog:
    """The service's JSON log lines as they come (its stdout, a pipe), kept in a file too;
    ``seen`` waits for an event to be logged: no guess of how long anything takes."""

    def __init__(self, stream: asyncio.StreamReader, copy: Path) -> None:
        self.events: list[str] = []
        self._changed = asyncio.Condition()
        self._reading = asyncio.create_task(self._read(stream, copy))

    async def _read(self, stream: asyncio.StreamReader, copy: Path) -> None:
        with copy.open("wb") as out:
            async for line in stream:
                out.write(line)
                out.flush()
                try:
                    event = json.loads(line)["event"]
                except (ValueError, KeyError, TypeError):
                    continue  # not a log line of the service's (a child's output)
                async with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def seen(self, event: str) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: event in self.events or self._reading.done())
        assert event in self.events, f"the service ended without logging {event!r}"

    async def closed(self) -> None:
        await self._reading


async def test_a_killed_embedded_postgres_is_started_again_and_stopped_with_the_service(
    server_tmp: Path, tmp_path: Path, unused_tcp_port: int
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", "serve", "--port", str(unused_tcp_port),
        env={**env, "HEATMETER_DATA_DIR": str(server_tmp), "HEATMETER_REPORT_SECRET": "s",
             "HEATMETER_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    log = ServiceLog(process.stdout, tmp_path / "service.log")
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        await wait_ready(url)
        assert await post_report(url, 1) == 202
        killed = postmaster_pid(server_tmp)
        assert killed is not None
        os.kill(killed, signal.SIGKILL)

        # Nobody helps: the service notices and starts it again by itself. The test waits
        # for the supervisor to say so, however long a busy machine makes that take.
        await log.seen("embedded postgres is down; starting it again")
        await log.seen("embedded postgres started again")
        restarted = postmaster_pid(server_tmp)
        assert restarted not in {None, killed}
        # Then the service stores reports again; until its pool has mended, it asks the
        # client to come back (503), never anything else.
        while (status := await post_report(url, 2)) != 202:
            assert status == 503, status
            await asyncio.sleep(0.05)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        await log.closed()
    output = (tmp_path / "service.log").read_text()
    assert process.returncode == 0, output[-3000:]
    # The server started again is the one stopped with the service.
    assert postmaster_pid(server_tmp) is None, output[-3000:]


async def serve_embedded(data_dir: Path, port: int, log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "heatmeter", "serve", "--port", str(port),
            env={**env, "HEATMETER_DATA_DIR": str(data_dir), "HEATMETER_REPORT_SECRET": "s",
                 "HEATMETER_LOG_FORMAT": "json"},
            stdout=output, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip


async def test_a_postgres_left_by_a_killed_service_is_stopped_by_the_next_one(
    server_tmp: Path, tmp_path: Path, unused_tcp_port_factory
) -> None:
    log = tmp_path / "service.log"
    first_port, second_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    first = await serve_embedded(server_tmp, first_port, log)
    await wait_ready(f"http://127.0.0.1:{first_port}")
    first.kill()  # no chance to stop its Postgres
    await first.wait()
    left = postmaster_pid(server_tmp)
    assert left is not None

    second = await serve_embedded(server_tmp, second_port, log)
    try:
        await wait_ready(f"http://127.0.0.1:{second_port}")
        assert postmaster_pid(server_tmp) == left  # joined, not started anew
    finally:
        second.terminate()
        assert await second.wait() == 0
    assert postmaster_pid(server_tmp) is None, log.read_text()[-3000:]


class FlakyServer:
    """A supervised server that dies once, then fails to start twice, then starts."""

    def __init__(self) -> None:
        self.pids: list[int | None] = [100, 100, None, None, None]
        self.starts: list[str] = ["fail", "fail", "ok"]
        self.started = 0

    def postmaster_pid(self) -> int | None:
        return self.pids.pop(0) if self.pids else 200

    def start_again(self) -> int:
        self.started += 1
        if self.starts.pop(0) == "fail":
            raise RuntimeError("shared memory still in use")
        return 200


def counted_sleep(waits: list[float], most: int):
    """The supervisor's sleep, recorded not slept; cancels it after ``most`` waits."""

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > most:
            raise asyncio.CancelledError

    return sleep


async def test_the_supervisor_backs_off_while_starting_fails() -> None:
    server = FlakyServer()
    waits: list[float] = []
    with pytest.raises(asyncio.CancelledError):
        await supervise(server, check_interval_s=1.0, sleep=counted_sleep(waits, 6))
    assert server.started == 3
    # Checks every second; after failed starts, 0.5 s then 1 s; then checks again.
    assert waits[:6] == [1.0, 1.0, restart_backoff(1), restart_backoff(2), 1.0, 1.0]
    assert restart_backoff(50) == RESTART_BACKOFF_CAP_S


class SlowToStart:
    """A killed server whose start outlasts pg_ctl's patience (pgserver gives it 10 s):
    the attempt fails, yet the server it launched comes up; found running while it still
    recovers, it is not ready to be adopted at once."""

    def __init__(self) -> None:
        self.pids: list[int | None] = [100, None, 300, 300]
        self.attempts: list[BaseException | None] = [
            subprocess.TimeoutExpired("pg_ctl", 10),
            AssertionError("postmaster status is 'starting', not 'ready'"),
            None,
        ]
        self.started = 0

    def postmaster_pid(self) -> int | None:
        return self.pids.pop(0) if self.pids else 300

    def start_again(self) -> int:
        self.started += 1
        failure = self.attempts.pop(0)
        if failure is not None:
            raise failure
        return 300


async def test_a_failed_adoption_does_not_end_the_supervision() -> None:
    server = SlowToStart()
    with pytest.raises(asyncio.CancelledError):
        await supervise(server, check_interval_s=1.0, sleep=counted_sleep([], 5))
    # Down: a start that timed out; then the server it launched, not ready yet; then ready.
    assert server.started == 3
