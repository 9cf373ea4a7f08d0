"""Group commit: reports that arrive together are stored by one statement and one commit.

Each request hands its report to a `ReportWriter` and waits for the commit that stores
it, so a 202 still means "durably stored". While one batch is being written, the
next one gathers; under load a batch holds as many reports as arrived meanwhile, and
alone a report is written at once, so nothing waits on a timer. One statement per
batch stores the runs, finds their pull requests and asks for the PRs' comments (each
PR's outbox row locked once per batch, not once per report), in a single round trip
committed on its own.

A batch that fails as a whole (a row Postgres refuses, a deadlock with a concurrent
writer) is written again one report at a time, so a bad report fails alone; when the
database is away, every report of the batch gets that error (a 503).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from ..http.errors import DATABASE_DOWN
from ..outbox import comment
from ..outbox.queue import ASK_AGAIN
from ..ownership import RunFacts, owning_pull_requests
from .schema import Report
from .store import FINISH_OVER_START, Stored, store_report
from .trust import Reporter

log = structlog.get_logger(__name__)

# The batch travels as one JSON array of the reports' own bodies (already validated
# against the schema) beside an array of how each was authenticated: Postgres takes the
# fields apart, and the service encodes nothing per report.
_INPUT = """
ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::text[]), unnest($3::integer[]))
    WITH ORDINALITY AS j(d, auth_method, pull_request, ord)
"""
_FIELDS = """
j.ord, j.auth_method,
d->>'repository' AS repository, d->>'workflow' AS workflow,
(d->>'run_id')::bigint AS run_id, (d->>'run_attempt')::integer AS run_attempt,
d->>'job' AS job, d->>'task' AS task, d->>'kind' AS kind, d->>'step' AS step_id,
(d->>'started_at')::timestamptz AS started_at, (d->>'finished_at')::timestamptz AS finished_at,
(d->>'duration_ms')::bigint AS duration_ms, d->>'outcome' AS outcome,
(d->>'exit_code')::integer AS exit_code, d->>'sha' AS sha, d->>'ref' AS ref,
d->>'head_ref' AS head_ref, j.pull_request,
d->>'event_name' AS event_name, d->>'runner_os' AS runner_os,
d->>'runner_name' AS runner_name, d->>'actor' AS actor, d->>'version' AS version,
d->>'phase' = 'finish' AS finish
"""
_COLUMNS = """
repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at,
finished_at, duration_ms, outcome, exit_code, sha, ref, head_ref, pull_request,
event_name, runner_os, runner_name, actor, auth_method, closed_by, version
"""
_KEY = "repository, run_id, run_attempt, job, task, step_id, started_at"

# The same rules as store.py's INSERT_START / UPSERT_FINISH and the outbox's
# REQUEST, for many reports at once; each report's pull request is decided
# beforehand by heatmeter.ownership's rule (the third array). Rows are written in key order, so
# two batches in flight take their locks in the same order. Reports stored (not
# duplicates) get their id; a duplicate's id is looked up afterwards (SELECT_IDS).
STORE_BATCH = f"""
WITH input AS (
    SELECT {_FIELDS} FROM {_INPUT}
), starts AS (
    INSERT INTO task_runs ({_COLUMNS})
    SELECT {_COLUMNS.replace("closed_by", "NULL")} FROM input WHERE NOT finish ORDER BY {_KEY}
    ON CONFLICT ON CONSTRAINT task_runs_idempotency DO NOTHING
    RETURNING id, {_KEY}
), finishes AS (
    INSERT INTO task_runs ({_COLUMNS})
    SELECT {_COLUMNS.replace("closed_by", "'report'")} FROM input WHERE finish ORDER BY {_KEY}
    ON CONFLICT ON CONSTRAINT task_runs_idempotency DO UPDATE SET {FINISH_OVER_START}
    RETURNING id, {_KEY}
), stored AS (
    SELECT i.ord, s.id, i.repository, i.pull_request
    FROM (SELECT * FROM starts UNION ALL SELECT * FROM finishes) AS s
    JOIN input AS i USING ({_KEY})
), asked AS (
    INSERT INTO outbox (kind, key, requests)
    SELECT '{comment.NAME}', {comment.KEY_SQL}, count(*) FROM stored
    WHERE pull_request IS NOT NULL
    GROUP BY repository, pull_request
    ORDER BY repository, pull_request
    ON CONFLICT (kind, key) DO UPDATE SET {ASK_AGAIN}
)
SELECT ord, id FROM stored
"""  # noqa: S608 (built from this module's own constants, no input)

# The ids of the batch's duplicates (by position), read with the same parsing.
SELECT_IDS = f"""
SELECT k.ord, t.id
FROM (SELECT {_FIELDS} FROM {_INPUT}) AS k
JOIN task_runs AS t USING ({_KEY})
WHERE k.ord = ANY($4::bigint[])
"""  # noqa: S608 (built from this module's own constants, no input)

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


async def store_batch(
    conn: asyncpg.Connection, items: list[tuple[Report, str, Reporter]]
) -> list[Stored]:
    """Store reports with distinct keys in one statement; their answers, in order.

    Each item is a report, its validated JSON body and who sent it. Autocommit: the
    statement is its own transaction.
    """
    owners = await owning_pull_requests(
        conn,
        [
            (
                r.repository,
                RunFacts(r.sha, r.ref, r.head_ref, r.event_name, r.pull_request, r.started_at),
            )
            for r, _, _ in items
        ],
    )
    documents = "[" + ",".join(document for _, document, _ in items) + "]"
    methods = [reporter.method for _, _, reporter in items]
    rows = await conn.fetch(STORE_BATCH, documents, methods, owners)
    ids: dict[int, int] = {row["ord"]: row["id"] for row in rows}
    duplicates = [n for n in range(1, len(items) + 1) if n not in ids]
    found: dict[int, int] = {}
    if duplicates:
        rows = await conn.fetch(SELECT_IDS, documents, methods, owners, duplicates)
        found = {row["ord"]: row["id"] for row in rows}
    return [
        Stored(ids[n], False) if n in ids else Stored(found[n], True)
        for n in range(1, len(items) + 1)
    ]


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
            answers = await store_batch(conn, [(w.report, w.document, w.reporter) for w in batch])
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
                    answer = await store_report(conn, waiting.report, waiting.reporter)
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
