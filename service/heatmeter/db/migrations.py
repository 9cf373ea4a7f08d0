"""Applies the numbered SQL files in sql/ once each, under a Postgres advisory lock."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant both migrators agree on; "heatmeter" in ASCII, as a bigint.
ADVISORY_LOCK_ID = 0x6865_6174_6D65_7465
_FILE_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
MIGRATIONS_TABLE_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"
SELECT_APPLIED_VERSIONS = "SELECT version FROM schema_migrations"


class MigrationError(RuntimeError):
    """The migrations on disk disagree with what the database has applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def sql_dir() -> Path:
    """sql/ inside an installed wheel, else the repository's own sql/ (editable installs)."""
    packaged = Path(__file__).resolve().parent.parent / "sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "sql"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or sql_dir()
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        migrations.append(Migration(int(match[1]), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations in order; return the names applied (empty when up to date).

    The advisory lock makes concurrent migrators (replicas starting together) take turns:
    the second one finds everything applied and does nothing.
    """
    migrations = load_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
    try:
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {row["version"]: row for row in await conn.fetch(SELECT_APPLIED)}
        done = []
        for migration in migrations:
            if (row := applied.get(migration.version)) is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} changed after it was applied; add a new migration "
                        "instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    INSERT_APPLIED, migration.version, migration.name, migration.checksum
                )
            log.info("migration applied", migration=migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)


async def pending_count(conn: asyncpg.Connection, migrations: list[Migration]) -> int:
    """How many migrations on disk the database has not applied yet."""
    if not await conn.fetchval(MIGRATIONS_TABLE_EXISTS):
        return len(migrations)
    # The same test migrate() applies: by membership, so a gap filled later still counts.
    applied = {row["version"] for row in await conn.fetch(SELECT_APPLIED_VERSIONS)}
    return sum(1 for m in migrations if m.version not in applied)
