"""The one way a report reaches task_runs: a group commit, a statement per batch.

Each request hands its report to a `ReportWriter` and waits for the commit that stores
it, so a 202 still means "durably stored". While one batch is being written, the
next one gathers; under load a batch holds as many reports as arrived meanwhile, and
alone a report is written at once, so nothing waits on a timer. One statement per
batch stores the runs, finds their pull requests and asks for the PRs' comments (each
PR's outbox row locked once per batch, not once per report), in a single round trip
committed on its own.

A batch that fails as a whole (a row Postgres refuses, a deadlock with a concurrent
writer) is written again one report at a time, each as a batch of one by the same
statement, so a bad report fails alone; when the database is away, every report of the
batch gets that error (a 503).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from ..db.connections import DATABASE_DOWN, ended
from .schema import Report
from .trust import Reporter
from .upsert import Stored, store_reports

log = structlog.get_logger(__name__)

MAX_BATCH = 500
# Two batches in flight: one is committing (waiting on the WAL flush) while the next
# is sent, so the database is never idle waiting for the service, nor the reverse.
WRITERS = 2


def _key(report: Report) -> tuple[Any, ...]:
    return (
        report.repository,
        report.run_id,
        report.run_attempt,
        report.job,
        report.task,
        report.step,
        report.started_at,
    )


@dataclass
class _Waiting:
    report: Report
    document: str
    reporter: Reporter
    answer: asyncio.Future[Stored]


class ReportWriter:
    """Stores reports handed in by concurrent requests, a batch per commit."""

    def __init__(
        self, pool: asyncpg.Pool, *, max_batch: int = MAX_BATCH, writers: int = WRITERS
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._writers = writers
        self._waiting: deque[_Waiting] = deque()
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[tuple[Any, ...]] = set()  # runs of the batches being written
        self.batches = 0  # how many batches were written, for tests and /metrics

    async def store(self, report: Report, document: str, reporter: Reporter) -> Stored:
        """Store one report; return once the commit that holds it is done.

        `document` is the report's JSON body, as validated into `report`.
        """
        answer: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(report, document, reporter, answer))
        self._arrived.set()
        # shield: a request given up on (client gone) must not cancel its batch-mates.
        return await asyncio.shield(answer)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_forever(), name=f"report-writer-{n}")
            for n in range(self._writers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._waiting:
            _settle(self._waiting.popleft().answer, ConnectionError("the service is stopping"))

    def _take(self) -> list[_Waiting]:
        """The next batch: reports of distinct runs, none of a run another batch is still
        writing. A later report of such a run waits for a later batch (one statement
        cannot write a row twice), so the reports of one run are stored in the order they
        arrived."""
        batch: list[_Waiting] = []
        later: list[_Waiting] = []
        while self._waiting and len(batch) < self._max_batch:
            waiting = self._waiting.popleft()
            key = _key(waiting.report)
            if key in self._in_flight:
                later.append(waiting)
            else:
                self._in_flight.add(key)
                batch.append(waiting)
        self._waiting.extendleft(reversed(later))
        if not batch or not self._waiting:
            # Nothing to take now: wait until a report arrives or a batch completes.
            self._arrived.clear()
        return batch

    def _done(self, batch: list[_Waiting]) -> None:
        for waiting in batch:
            self._in_flight.discard(_key(waiting.report))
        if self._waiting:
            self._arrived.set()

    async def _write_forever(self) -> None:
        # Each writer keeps its connection between batches (a pool round trip and a
        # session reset saved per batch), and gives it back when it breaks.
        conn: asyncpg.Connection | None = None
        try:
            while True:
                await self._arrived.wait()
                batch = self._take()
                if not batch:
                    continue
                try:
                    if conn is not None and ended(conn):
                        # Ended while held (the server restarted, failed over, or ended
                        # it): nothing was sent on it, so the batch goes on a fresh one.
                        await self._pool.release(conn)
                        conn = None
                    if conn is None:
                        conn = await self._pool.acquire()
                    await self._write(conn, batch)
                except DATABASE_DOWN as exc:
                    for waiting in batch:
                        _settle(waiting.answer, exc)
                    if conn is not None:
                        await self._pool.release(conn)
                        conn = None
                finally:
                    self._done(batch)
        finally:
            if conn is not None:
                await self._pool.release(conn)

    async def _write(self, conn: asyncpg.Connection, batch: list[_Waiting]) -> None:
        self.batches += 1
        try:
            answers = await store_reports(conn, [(w.report, w.document, w.reporter) for w in batch])
        except DATABASE_DOWN:
            raise
        except Exception as exc:
            log.warning(
                "a batch of reports failed; storing them one by one",
                reports=len(batch),
                error=repr(exc),
            )
            await self._write_one_by_one(batch)
            return
        for waiting, answer in zip(batch, answers, strict=True):
            _settle(waiting.answer, answer)

    async def _write_one_by_one(self, batch: list[_Waiting]) -> None:
        for waiting in batch:
            try:
                async with self._pool.acquire() as conn:
                    [answer] = await store_reports(
                        conn, [(waiting.report, waiting.document, waiting.reporter)]
                    )
            except Exception as exc:
                _settle(waiting.answer, exc)
            else:
                _settle(waiting.answer, answer)


def _settle(answer: asyncio.Future[Stored], outcome: Stored | BaseException) -> None:
    if answer.done():  # the request was cancelled; its report is stored all the same
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)
