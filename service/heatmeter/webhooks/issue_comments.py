"""Routes `issue_comment` events on pull requests to happiness (`/heatmeter rate N ...`)."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

from ..happiness import ratings
from ..happiness.responses import RatingComment
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
    if where is not None:
        await ratings.read_rating(db, where, event.data["comment"].get("body") or "")


@router.register("issue_comment", action="deleted")
@reads(DELETED_COMMENT_FIELDS)
async def forget_rating(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    await ratings.forget_rating(db, int(event.data["comment"]["id"]))
