"""Stores happiness responses: one per comment, its latest edit, gone with the comment.

A deleted comment leaves a tombstone: a late delivery of an older edit finds it and
stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .command import Rating

# The tasks a rating may name: those that ran on its pull request, and every task the
# platform ran lately (a developer may rate a task by name wherever it ran).
SELECT_KNOWN_TASKS = """
SELECT task FROM task_runs WHERE repository = $1 AND pull_request = $2
UNION
SELECT task FROM task_daily WHERE day > heat_day(heatmeter_now()) - 90
"""

# An edit replaces the response, unless a newer edit is already stored (deliveries can
# arrive out of order); the same edit delivered again changes nothing. GitHub's times are
# whole seconds, so two edits within one second are told apart by what they say.
UPSERT_RESPONSE = """
INSERT INTO happiness (
    comment_id, repository, pull_request, author, task, score, words, comment_url,
    created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (comment_id) DO UPDATE SET
    repository = EXCLUDED.repository, pull_request = EXCLUDED.pull_request,
    author = EXCLUDED.author, task = EXCLUDED.task, score = EXCLUDED.score,
    words = EXCLUDED.words, comment_url = EXCLUDED.comment_url,
    updated_at = EXCLUDED.updated_at, received_at = now()
WHERE happiness.updated_at < EXCLUDED.updated_at
   OR (happiness.updated_at = EXCLUDED.updated_at
       AND (happiness.score, happiness.task, happiness.words)
           IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.task, EXCLUDED.words))
"""

DELETE_RESPONSE = "DELETE FROM happiness WHERE comment_id = $1"
REMEMBER_DELETED = """
INSERT INTO happiness_deleted_comments (comment_id) VALUES ($1) ON CONFLICT DO NOTHING
"""
IS_DELETED = "SELECT EXISTS (SELECT 1 FROM happiness_deleted_comments WHERE comment_id = $1)"
# One comment's deliveries are applied one at a time: an edit and the deletion delivered
# at once would otherwise each miss the other's uncommitted row. Held to the end of the
# caller's transaction.
LOCK_COMMENT = """
SELECT pg_advisory_xact_lock(hashtextextended('heatmeter happiness comment ' || $1::bigint, 0))
"""


@dataclass(frozen=True)
class RatingComment:
    """Where a rating was given, by whom and when: the comment's side of a response."""

    comment_id: int
    repository: str
    pull_request: int
    author: str
    url: str | None
    created_at: datetime
    updated_at: datetime


async def known_tasks(conn: asyncpg.Connection, repository: str, pull_request: int) -> list[str]:
    return [row["task"] for row in await conn.fetch(SELECT_KNOWN_TASKS, repository, pull_request)]


async def store_response(conn: asyncpg.Connection, comment: RatingComment, rating: Rating) -> None:
    await conn.execute(
        UPSERT_RESPONSE,
        comment.comment_id,
        comment.repository,
        comment.pull_request,
        comment.author,
        rating.task,
        rating.score,
        rating.words,
        comment.url,
        comment.created_at,
        comment.updated_at,
    )


async def lock_comment(conn: asyncpg.Connection, comment_id: int) -> None:
    """Apply this comment's changes one delivery at a time (inside a transaction)."""
    await conn.execute(LOCK_COMMENT, comment_id)


async def forget_response(conn: asyncpg.Connection, comment_id: int) -> bool:
    """Delete the comment's response (an edit took the rating out); True when there was one."""
    return await conn.execute(DELETE_RESPONSE, comment_id) != "DELETE 0"


async def delete_response(conn: asyncpg.Connection, comment_id: int) -> bool:
    """The comment was deleted: delete its response, and for good; True when there was one."""
    await conn.execute(REMEMBER_DELETED, comment_id)
    return await forget_response(conn, comment_id)


async def is_deleted(conn: asyncpg.Connection, comment_id: int) -> bool:
    """Whether the comment was deleted: no delivery about it may store a response again."""
    return await conn.fetchval(IS_DELETED, comment_id)
