"""A rating comment's life: read when written or edited, answered, forgotten when deleted.

Called by the ``issue_comment`` webhook (webhooks/issue_comments.py) inside the
delivery's transaction; what the comment is owed goes to the outbox (``feedback``).
"""

from __future__ import annotations

import asyncpg
import structlog

from . import feedback
from .command import Malformed, Rating, parse_comment
from .responses import (
    RatingComment,
    delete_response,
    forget_response,
    is_deleted,
    known_tasks,
    lock_comment,
    store_response,
)

log = structlog.get_logger(__name__)


async def read_rating(conn: asyncpg.Connection, where: RatingComment, body: str) -> None:
    """A comment was written or edited: store its rating, or say what is wrong with it."""
    await lock_comment(conn, where.comment_id)
    bound = log.bind(
        repository=where.repository, pull_request=where.pull_request, comment=where.comment_id
    )
    if await is_deleted(conn, where.comment_id):
        # An older delivery arriving after the deletion: the comment is gone for good.
        bound.info("rating comment already deleted; late delivery ignored")
        return
    result = parse_comment(body)
    if isinstance(result, Rating):
        # Most comments are no rating: only a rating costs the lookup of task names.
        result = parse_comment(body, await known_tasks(conn, where.repository, where.pull_request))
    if result is None:
        # An edit that took the command out: the comment rates nothing any more.
        if await forget_response(conn, where.comment_id):
            bound.info("happiness response withdrawn by an edit")
        await feedback.withdraw(conn, where.comment_id)
    elif isinstance(result, Malformed):
        await forget_response(conn, where.comment_id)
        await feedback.show_syntax(
            conn, where.repository, where.pull_request, where.comment_id, result.problem
        )
        bound.info("malformed rating command", problem=result.problem)
    else:
        await store_response(conn, where, result)
        await feedback.acknowledge(conn, where.repository, where.pull_request, where.comment_id)
        bound.info("happiness response stored", score=result.score, task=result.task)


async def forget_rating(conn: asyncpg.Connection, comment_id: int) -> None:
    """A comment was deleted: its response goes, and no late delivery brings it back."""
    await lock_comment(conn, comment_id)
    if await delete_response(conn, comment_id):
        log.info("happiness response deleted with its comment", comment=comment_id)
    await feedback.withdraw(conn, comment_id)
