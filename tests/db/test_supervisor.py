"""The embedded Postgres's supervisor keeps going whatever one start attempt does."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from heatmeter.db.supervisor import supervise


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
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 5:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await supervise(server, check_interval_s=1.0, sleep=sleep)
    # Down: a start that timed out; then the server it launched, not ready yet; then ready.
    assert server.started == 3
