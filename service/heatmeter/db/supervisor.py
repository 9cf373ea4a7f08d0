"""Keeps the embedded Postgres running: notices its postmaster gone and starts it again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

CHECK_INTERVAL_S = 1.0
RESTART_BACKOFF_BASE_S = 0.5
RESTART_BACKOFF_CAP_S = 30.0


class Supervised(Protocol):
    def postmaster_pid(self) -> int | None: ...

    def start_again(self) -> int: ...


def restart_backoff(failures: int) -> float:
    """Seconds before the next start after ``failures`` failed starts in a row."""
    return min(RESTART_BACKOFF_CAP_S, RESTART_BACKOFF_BASE_S * 2 ** max(failures - 1, 0))


async def supervise(
    server: Supervised,
    *,
    check_interval_s: float = CHECK_INTERVAL_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Check every ``check_interval_s``; start a dead server again, backing off while that
    fails. Runs until cancelled (the service stopping, which then stops the server)."""
    failures = 0
    pid = await asyncio.to_thread(server.postmaster_pid)
    while True:
        await sleep(restart_backoff(failures) if failures else check_interval_s)
        current = await asyncio.to_thread(server.postmaster_pid)
        if current is not None and current == pid:
            continue
        if current is None:
            log.warning("embedded postgres is down; starting it again", attempt=failures + 1)
        # Else started by someone else (by hand, another process on the folder, or a start
        # of ours that pg_ctl gave up on): adopt it, so that it is stopped with the service
        # all the same. Either may fail (one not ready yet is refused): tried again, backing
        # off, never ending the supervision.
        try:
            pid = await _finished_even_if_cancelled(asyncio.to_thread(server.start_again))
        except Exception as exc:
            failures += 1
            log.warning(
                "embedded postgres did not start" if current is None else
                "embedded postgres found running could not be adopted",
                error=f"{type(exc).__name__}: {exc}",
                attempt=failures,
                retry_in_s=restart_backoff(failures),
            )  # fmt: skip
            continue
        if current is None:
            log.info("embedded postgres started again", pid=pid, attempts=failures + 1)
        else:
            log.info("embedded postgres adopted a postmaster started elsewhere", pid=pid)
        failures = 0


async def _finished_even_if_cancelled(work: Awaitable[int]) -> int:
    """Await ``work``; if cancelled meanwhile (the service stopping), let it finish first.

    A start under way runs on in its thread anyway: waiting for it means the server it
    starts is known, and stopped with the service, rather than left running.
    """
    future = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            pid = await future
            log.info("embedded postgres started again while the service stops", pid=pid)
        raise
