"""task_runs by month: the migration keeps the rows, months are added ahead, retention drops."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter import clock
from heatmeter.db.migrations import load_migrations, migrate
from heatmeter.db.upkeep import MONTHS_AHEAD, maintain_partitions
from heatmeter.settings import Settings, SettingsError

from .conftest import REPORT_SECRET
from .reports import make_report, signed

INSERT_RUN = """
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id,
                       started_at, auth_method)
VALUES ('octo/app', 'CI', $1, 1, 'build', 'deploy', 'deploy', 'step', $2, 'hmac')
RETURNING id
"""

PARTITIONS = """
SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = 'task_runs'::regclass ORDER BY c.relname
"""


def month_name(moment: datetime) -> str:
    return f"task_runs_y{moment.year:04d}m{moment.month:02d}"


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    start = month_start(moment)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


@pytest.fixture
async def fresh(create_database: Callable[[], str]) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own: these tests add and drop partitions."""
    conn = await asyncpg.connect(create_database())
    try:
        yield conn
    finally:
        await conn.close()


async def partition_of(conn: asyncpg.Connection, run_id: int) -> str:
    return await conn.fetchval(
        "SELECT tableoid::regclass::text FROM task_runs WHERE run_id = $1", run_id
    )


async def test_the_migration_keeps_rows_ids_and_views(fresh: asyncpg.Connection) -> None:
    before = [m for m in load_migrations() if m.version < 5]
    await migrate(fresh, before)
    now = clock.now()
    ids = [await fresh.fetchval(INSERT_RUN, n, now - timedelta(days=40 * n)) for n in range(4)]

    await migrate(fresh)

    rows = await fresh.fetch("SELECT id, run_id, tableoid::regclass::text AS part FROM task_runs")
    assert sorted((r["id"], r["run_id"]) for r in rows) == list(zip(ids, range(4), strict=True))
    assert {r["part"] for r in rows} == {month_name(now - timedelta(days=40 * n)) for n in range(4)}
    # Ids go on from the old table's: none is reused.
    assert await fresh.fetchval(INSERT_RUN, 99, now) == max(ids) + 1
    key = await fresh.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conname = 'task_runs_idempotency'"
    )
    assert key == "PRIMARY KEY (repository, run_id, run_attempt, job, task, step_id, started_at)"
    assert await fresh.fetchval("SELECT count(*) FROM task_health_live") == 1


async def test_months_ahead_exist_after_the_migration(fresh: asyncpg.Connection) -> None:
    await migrate(fresh)
    names = {r["relname"] for r in await fresh.fetch(PARTITIONS)}
    month = clock.now()
    for _ in range(MONTHS_AHEAD + 1):
        assert month_name(month) in names
        month = next_month(month)
    assert "task_runs_default" in names


async def test_a_report_from_a_month_without_partition_waits_then_moves(
    create_database: Callable[[], str], aiohttp_client: Callable
) -> None:
    """An old run (a backfill, a slow runner's clock) is stored at once and never lost."""
    from heatmeter.app import create_app

    url = create_database()
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        settings = Settings(database_url=url, report_secret=REPORT_SECRET, log_format="console")
        client: TestClient = await aiohttp_client(create_app(settings))
        old = clock.now() - timedelta(days=3 * 365)
        report = make_report(
            run_id=7,
            started_at=old.isoformat(),
            finished_at=(old + timedelta(minutes=1)).isoformat(),
        )
        body, headers = signed(report, REPORT_SECRET)
        first = await (await client.post("/v1/reports", data=body, headers=headers)).json()
        # The service's upkeep ran at start-up, before the report; this is the next round.
        assert await partition_of(conn, 7) == "task_runs_default"

        changes = await maintain_partitions(conn, retention_days=None)

        assert changes == [f"created {month_name(old)}"]
        assert await partition_of(conn, 7) == month_name(old)
        assert await conn.fetchval("SELECT count(*) FROM task_runs_default") == 0
        again = await (await client.post("/v1/reports", data=body, headers=headers)).json()
        assert again == {"id": first["id"], "duplicate": True}
        assert await maintain_partitions(conn, retention_days=None) == []
    finally:
        await conn.close()


async def test_retention_drops_whole_months_and_old_rows_in_default(
    fresh: asyncpg.Connection,
) -> None:
    await migrate(fresh)
    now = clock.now()
    ages = {1: 5, 2: 70, 3: 130, 4: 400}  # run_id: days ago
    for run_id, days in ages.items():
        await fresh.fetchval(INSERT_RUN, run_id, now - timedelta(days=days))
    await fresh.execute(
        "INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, "
        "step_id, started_at, auth_method) "
        "VALUES ('octo/gone', 'CI', 6, 1, 'b', 'lint', 'other', 's', $1, 'hmac')",
        now - timedelta(days=400),
    )
    await maintain_partitions(fresh, retention_days=None)  # months for runs 2, 3, 4
    await fresh.fetchval(INSERT_RUN, 5, now - timedelta(days=500))  # waits in default

    changes = await maintain_partitions(fresh, retention_days=100)

    cutoff = now - timedelta(days=100)
    # A month goes once all of it is past the cutoff: run 3's month (130 days ago) does,
    # and so does the month of run 4; run 5 is deleted from the default partition.
    assert f"dropped {month_name(now - timedelta(days=130))}" in changes
    assert f"dropped {month_name(now - timedelta(days=400))}" in changes
    assert "deleted 1 rows from task_runs_default" in changes
    kept = {r["run_id"] for r in await fresh.fetch("SELECT run_id FROM task_runs")}
    assert {1, 2} <= kept
    assert not {3, 4, 5, 6} & kept
    for name in (r["relname"] for r in await fresh.fetch(PARTITIONS)):
        if name != "task_runs_default":
            year, month = int(name[11:15]), int(name[16:18])
            assert next_month(datetime(year, month, 1, tzinfo=UTC)) > cutoff
    # Nothing past retention is recreated by the next round.
    assert await maintain_partitions(fresh, retention_days=100) == []


async def test_two_replicas_maintaining_at_once_do_the_work_once(
    create_database: Callable[[], str],
) -> None:
    url = create_database()
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        await migrate(first)
        old = clock.now() - timedelta(days=800)
        await first.fetchval(INSERT_RUN, 1, old)
        async with first.transaction():
            # While one replica holds the upkeep lock, the other returns at once.
            await first.execute("SELECT pg_advisory_xact_lock(7308604897068083570)")
            assert await maintain_partitions(second, retention_days=None) == []
        assert await maintain_partitions(second, retention_days=None) == [
            f"created {month_name(old)}"
        ]
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "forever"])
def test_retention_must_be_whole_positive_days(value: str) -> None:
    with pytest.raises(SettingsError, match="HEATMETER_RETENTION_DAYS"):
        Settings.from_env({"HEATMETER_RETENTION_DAYS": value})


def test_retention_is_off_unless_set() -> None:
    assert Settings.from_env({}).retention_days is None
    assert Settings.from_env({"HEATMETER_RETENTION_DAYS": "400"}).retention_days == 400


def test_views_refresh_interval_is_read_and_checked() -> None:
    assert Settings.from_env({}).views_refresh_s == 300
    assert Settings.from_env({"HEATMETER_VIEWS_REFRESH": "60"}).views_refresh_s == 60
    with pytest.raises(SettingsError, match="HEATMETER_VIEWS_REFRESH"):
        Settings.from_env({"HEATMETER_VIEWS_REFRESH": "0.5"})
