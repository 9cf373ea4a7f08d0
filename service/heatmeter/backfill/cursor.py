"""Where a repository's backfill has been: a contiguous span of run creation times, in Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

SELECT_CURSOR = """
SELECT walked_from, walked_until FROM backfill_cursors WHERE repository = $1
"""
SAVE_CURSOR = """
INSERT INTO backfill_cursors (repository, walked_from, walked_until) VALUES ($1, $2, $3)
ON CONFLICT (repository) DO UPDATE SET
    walked_from = EXCLUDED.walked_from, walked_until = EXCLUDED.walked_until, updated_at = now()
"""


@dataclass(frozen=True)
class Cursor:
    """Every run created in [walked_from, walked_until) has been walked."""

    walked_from: datetime
    walked_until: datetime


def resume_point(cursor: Cursor | None, since: datetime) -> tuple[datetime, datetime]:
    """Where to start walking for runs created since ``since``, and where the walked span
    will then begin: after the span already walked when it covers ``since``, else from
    ``since`` (walking again what was walked stores nothing twice)."""
    if cursor is not None and cursor.walked_from <= since <= cursor.walked_until:
        return cursor.walked_until, cursor.walked_from
    return since, since


async def load_cursor(conn: asyncpg.Connection, repository: str) -> Cursor | None:
    row = await conn.fetchrow(SELECT_CURSOR, repository.lower())
    return Cursor(**row) if row else None


async def save_cursor(conn: asyncpg.Connection, repository: str, cursor: Cursor) -> None:
    await conn.execute(SAVE_CURSOR, repository.lower(), cursor.walked_from, cursor.walked_until)
