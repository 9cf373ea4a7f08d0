"""Turns `/heatmeter rate N [task] [words]` comments on pull requests into happiness responses."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from gidgethub import routing, sansio

from ..comments import feedback
from ..happiness.command import Malformed, Rating, parse_comment
from ..happiness.responses import RatingComment, forget_response, known_tasks, store_response
from ..http.field_schemas import INT32_MAX, TEXT_PATTERN, TIMESTAMP_PATTERN
from .payloads import (
    OPTIONAL_TIMESTAMP,
    REPOSITORY,
    github_time,
    identifier,
    obj,
    optional_text,
    reads,
    repository_name,
)

log = structlog.get_logger(__name__)
router = routing.Router()

# heatmeter's own comments carry a hidden marker of this form; never read them as ratings.
_OWN_MARKER = "<!-- heatmeter:"


def _rating_comment(data: dict[str, Any]) -> RatingComment | None:
    """The comment as a place a rating can live, or None when it cannot hold one."""
    issue, comment = data["issue"], data["comment"]
    if not issue.get("pull_request"):
        return None  # a comment on an issue, not on a pull request
    user = comment.get("user") or {}
    login = user.get("login") or ""
    if (
        user.get("type") == "Bot"
        or login.endswith("[bot]")
        or comment.get("performed_via_github_app")
        or _OWN_MARKER in (comment.get("body") or "")
    ):
        return None
    created = github_time(comment["created_at"])
    return RatingComment(
        comment_id=int(comment["id"]),
        repository=repository_name(data),
        pull_request=int(issue["number"]),
        author=login,
        url=comment.get("html_url"),
        created_at=created,
        updated_at=github_time(comment.get("updated_at")) or created,
    )


# GitHub caps a comment at 65,536 characters.
COMMENT_FIELDS = obj(
    ["issue", "comment", "repository"],
    repository=REPOSITORY,
    issue=obj(["number"], number=identifier(INT32_MAX)),
    comment=obj(
        ["id", "created_at"],
        id=identifier(),
        user=obj(nullable=True, login=optional_text(255), type=optional_text(50)),
        body={"type": ["string", "null"], "maxLength": 65_536, "pattern": TEXT_PATTERN},
        html_url=optional_text(2000),
        created_at={"type": "string", "pattern": TIMESTAMP_PATTERN, "maxLength": 64},
        updated_at=OPTIONAL_TIMESTAMP,
    ),
)
DELETED_COMMENT_FIELDS = obj(["comment"], comment=obj(["id"], id=identifier()))


@router.register("issue_comment", action="created")
@router.register("issue_comment", action="edited")
@reads(COMMENT_FIELDS)
async def read_rating(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    where = _rating_comment(event.data)
    if where is None:
        return
    body = event.data["comment"].get("body") or ""
    result = parse_comment(body)
    if isinstance(result, Rating):
        # Most comments are no rating: only a rating costs the lookup of task names.
        result = parse_comment(body, await known_tasks(db, where.repository, where.pull_request))
    bound = log.bind(
        repository=where.repository, pull_request=where.pull_request, comment=where.comment_id
    )
    if result is None:
        # An edit that took the command out: the comment rates nothing any more.
        if await forget_response(db, where.comment_id):
            bound.info("happiness response withdrawn by an edit")
        await feedback.withdraw(db, where.comment_id)
    elif isinstance(result, Malformed):
        await forget_response(db, where.comment_id)
        await feedback.request_reply(
            db, where.repository, where.pull_request, where.comment_id, result.problem
        )
        bound.info("malformed rating command", problem=result.problem)
    else:
        await store_response(db, where, result)
        await feedback.request_reaction(db, where.repository, where.pull_request, where.comment_id)
        bound.info("happiness response stored", score=result.score, task=result.task)


@router.register("issue_comment", action="deleted")
@reads(DELETED_COMMENT_FIELDS)
async def forget_rating(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    comment_id = int(event.data["comment"]["id"])
    if await forget_response(db, comment_id):
        log.info("happiness response deleted with its comment", comment=comment_id)
    await feedback.withdraw(db, comment_id)
