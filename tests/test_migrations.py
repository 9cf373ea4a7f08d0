"""Migrations apply on an empty database, once, even when two migrators race."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from heatmeter.db.migrations import MigrationError, load_migrations, migrate, pending_count


async def test_apply_on_empty_database_then_noop(create_database: Callable[[], str]) -> None:
    conn = await asyncpg.connect(create_database())
    try:
        migrations = load_migrations()
        assert await pending_count(conn, migrations) == len(migrations)

        applied = await migrate(conn)
        assert applied == [m.name for m in migrations]
        assert await pending_count(conn, migrations) == 0
        assert await conn.fetchval("SELECT to_regclass('task_runs') IS NOT NULL")

        assert await migrate(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(migrations)
    finally:
        await conn.close()


async def test_two_racing_migrators_apply_each_migration_once(
    create_database: Callable[[], str],
) -> None:
    url = create_database()
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
        names = [m.name for m in load_migrations()]
        assert sorted(results, key=len) == [[], names]
        assert await first.fetchval("SELECT count(*) FROM schema_migrations") == len(names)
    finally:
        await first.close()
        await second.close()


async def test_edited_migration_is_refused(create_database: Callable[[], str]) -> None:
    conn = await asyncpg.connect(create_database())
    try:
        await migrate(conn)
        edited = load_migrations()
        first = edited[0]
        edited[0] = type(first)(first.version, first.name, first.sql + "\n-- edited\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, edited)
    finally:
        await conn.close()
