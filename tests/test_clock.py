"""heatmeter's clock: one offset for Python and SQL, and no view left on the real clock."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from heatmeter import clock
from heatmeter.db.connections import connect
from heatmeter.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("", timedelta(0)),
        ("0", timedelta(0)),
        ("+365d", timedelta(days=365)),
        ("-365d", timedelta(days=-365)),
        ("12h", timedelta(hours=12)),
        ("-90m", timedelta(minutes=-90)),
        (" 30s ", timedelta(seconds=30)),
    ],
)
def test_offsets_are_signed_whole_units(text: str, delta: timedelta) -> None:
    assert clock.parse_offset(text) == delta


@pytest.mark.parametrize("text", ["365", "+1y", "1.5d", "d", "+365 d", "٣d", "1234567d"])
def test_anything_else_is_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="HEATMETER_CLOCK_OFFSET"):
        clock.parse_offset(text)


async def test_sql_and_python_agree_on_the_offset(database_url: str) -> None:
    conn = await connect(database_url)
    try:
        moved = await conn.fetchval("SELECT heatmeter_now() - now()")
    finally:
        await conn.close()
    # The same offset on both sides (the suite may run with one: CI moves it ±1 year).
    assert moved == clock.offset()


async def test_a_session_can_set_its_own_clock(db: asyncpg.Connection) -> None:
    await db.execute("SET heatmeter.clock_offset = '-2 days'")
    try:
        assert await db.fetchval("SELECT heatmeter_now() - now()") == timedelta(days=-2)
    finally:
        await db.execute("RESET heatmeter.clock_offset")


async def test_no_view_reads_the_real_clock(db: asyncpg.Connection) -> None:
    """Every rolling window asks heatmeter_now(); a view on now() would pin the real date."""
    on_real_clock = await db.fetch(
        """
        SELECT viewname AS name, definition FROM pg_views WHERE schemaname = current_schema()
        UNION ALL
        SELECT matviewname, definition FROM pg_matviews WHERE schemaname = current_schema()
        """
    )
    offenders = [
        row["name"]
        for row in on_real_clock
        if any(
            word in row["definition"].replace("heatmeter_now()", "")
            for word in ("now()", "CURRENT_TIMESTAMP", "CURRENT_DATE", "statement_timestamp")
        )
    ]
    assert offenders == []


def test_a_bad_offset_stops_the_service_at_start_up() -> None:
    with pytest.raises(SettingsError, match="HEATMETER_CLOCK_OFFSET"):
        Settings.from_env({"HEATMETER_CLOCK_OFFSET": "next year"})
