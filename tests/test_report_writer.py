"""Group commit: reports that arrive together share one statement, and each keeps its answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from heatmeter.db.migrations import migrate
from heatmeter.reports.schema import parse_report
from heatmeter.reports.trust import Reporter
from heatmeter.reports.upsert import Stored
from heatmeter.reports.writer import ReportWriter

from .reports import make_report

HMAC = Reporter("hmac")


@pytest.fixture
async def pool(database_url: str, db: asyncpg.Connection) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=0, max_size=4) as pool:
        yield pool


def queue(writer: ReportWriter, *reports: dict) -> list[asyncio.Task[Stored]]:
    """Hand reports to a writer that has not started: they wait for one batch."""
    return [
        asyncio.create_task(writer.store(parse_report(r), json.dumps(r), HMAC)) for r in reports
    ]


async def settle(
    writer: ReportWriter, tasks: list[asyncio.Task[Stored]], *, return_exceptions: bool = False
) -> list[Stored | BaseException]:
    await asyncio.sleep(0)  # let every task hand its report in before the writer looks
    writer.start()
    try:
        return list(await asyncio.gather(*tasks, return_exceptions=return_exceptions))
    finally:
        await writer.stop()


async def test_concurrent_reports_are_stored_by_one_batch(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    writer = ReportWriter(pool)
    reports = [make_report(run_id=n, pull_request=1 + n % 3) for n in range(1, 41)]
    answers = await settle(writer, queue(writer, *reports))

    assert writer.batches == 1
    rows = {r["run_id"]: r["id"] for r in await db.fetch("SELECT run_id, id FROM task_runs")}
    assert answers == [Stored(rows[n], duplicate=False) for n in range(1, 41)]
    # Each PR's comment was asked for once per report, in one upsert per PR.
    outbox = await db.fetch("SELECT pull_request, requests FROM comment_outbox ORDER BY 1")
    assert [(r["pull_request"], r["requests"]) for r in outbox] == [(1, 13), (2, 14), (3, 13)]


async def test_the_same_run_twice_in_a_batch_answers_one_id(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    writer = ReportWriter(pool)
    start = make_report(run_id=7, phase="start", finished_at=None, duration_ms=None, outcome=None)
    finish = make_report(run_id=7, outcome="failure")
    replay = make_report(run_id=8)
    answers = await settle(writer, queue(writer, start, replay, finish, replay, start))

    # A report of a run already in the batch waits for a later batch: one statement
    # never writes a row twice.
    assert writer.batches == 3
    ids = {r["run_id"]: r["id"] for r in await db.fetch("SELECT run_id, id FROM task_runs")}
    run_7, run_8 = ids[7], ids[8]
    assert answers == [
        Stored(run_7, False),  # the start creates the run
        Stored(run_8, False),
        Stored(run_7, False),  # the finish completes it
        Stored(run_8, True),  # the replay changes nothing
        Stored(run_7, True),  # so does a start after the finish
    ]
    row = await db.fetchrow("SELECT outcome, closed_by FROM task_runs WHERE run_id = 7")
    assert (row["outcome"], row["closed_by"]) == ("failure", "report")
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 2


async def test_a_replay_of_a_stored_run_in_a_later_batch_is_a_duplicate(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    first = await settle(writer := ReportWriter(pool), queue(writer, make_report(run_id=1)))
    writer = ReportWriter(pool)
    again = await settle(
        writer, queue(writer, make_report(run_id=1, outcome="failure"), make_report(run_id=2))
    )
    assert again[0] == Stored(first[0].id, duplicate=True)
    assert not again[1].duplicate
    assert await db.fetchval("SELECT outcome FROM task_runs WHERE run_id = 1") == "success"


async def test_a_report_pushed_without_its_pr_finds_it(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO pull_requests (repository, number, head_sha, head_ref, head_repository, "
        "base_ref, state) VALUES ('octo-org/octo-repo', 12, $1, 'feature', "
        "'octo-org/octo-repo', 'main', 'open')",
        "a" * 40,
    )
    writer = ReportWriter(pool)
    await settle(
        writer,
        queue(
            writer,
            make_report(run_id=1, pull_request=None, sha="a" * 40, ref="refs/heads/other"),
            make_report(run_id=2, pull_request=None, sha="b" * 40, ref="refs/heads/feature"),
            make_report(run_id=3, pull_request=None, sha="b" * 40, ref="refs/heads/main"),
        ),
    )
    rows = await db.fetch("SELECT run_id, pull_request FROM task_runs ORDER BY run_id")
    assert [(r["run_id"], r["pull_request"]) for r in rows] == [(1, 12), (2, 12), (3, None)]
    assert await db.fetchval("SELECT requests FROM comment_outbox WHERE pull_request = 12") == 2


async def test_a_row_postgres_refuses_fails_alone(create_database: Callable[[], str]) -> None:
    """The batch is written again one report at a time: the others are stored and told so."""
    url = create_database()
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        # A rule of this database only, standing for any row Postgres may refuse.
        await conn.execute(
            """
            CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.repository = 'octo/bad' THEN RAISE EXCEPTION 'refused'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_bad BEFORE INSERT ON task_runs
                FOR EACH ROW EXECUTE FUNCTION refuse_bad();
            """
        )
        async with asyncpg.create_pool(url, min_size=0, max_size=4) as pool:
            writer = ReportWriter(pool)
            tasks = queue(
                writer,
                make_report(run_id=1),
                make_report(run_id=2, repository="octo/bad"),
                make_report(run_id=3),
            )
            done = await settle(writer, tasks, return_exceptions=True)
        assert isinstance(done[1], asyncpg.RaiseError)
        stored = {
            r["run_id"]: r["id"] for r in await conn.fetch("SELECT run_id, id FROM task_runs")
        }
        assert stored.keys() == {1, 3}
        assert [done[0], done[2]] == [Stored(stored[1], False), Stored(stored[3], False)]
        assert await conn.fetchval("SELECT requests FROM comment_outbox") == 2
    finally:
        await conn.close()


async def test_a_request_given_up_on_does_not_cancel_its_batch(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    writer = ReportWriter(pool)
    tasks = queue(writer, make_report(run_id=1), make_report(run_id=2))
    await asyncio.sleep(0)
    tasks[0].cancel()  # the client went away while its report waited
    writer.start()
    try:
        second = await tasks[1]
    finally:
        await writer.stop()
    assert not second.duplicate
    # The abandoned report is stored all the same: the action's retry finds it a duplicate.
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 2


async def test_an_outage_answers_every_report_of_the_batch_with_it() -> None:
    # Port 9 (discard) on loopback: nothing listens, so every connection is refused.
    async with asyncpg.create_pool(
        "postgresql://heatmeter@127.0.0.1:9/none", min_size=0, max_size=2
    ) as pool:
        writer = ReportWriter(pool)
        tasks = queue(writer, make_report(run_id=1), make_report(run_id=2))
        done = await settle(writer, tasks, return_exceptions=True)
    assert all(isinstance(outcome, OSError) for outcome in done)
