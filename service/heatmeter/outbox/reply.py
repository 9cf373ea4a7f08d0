"""Kind "reply": one reply to an issue comment (the syntax of a malformed rating), once.

The reply carries a hidden marker naming the comment it answers, so an attempt whose
answer was lost is found rather than posted twice (``marker.post_once``).
"""

from __future__ import annotations

import asyncpg

from . import queue
from .kind import Context, Kind
from .marker import post_once
from .queue import Item

NAME = "reply"
MARKER = "<!-- heatmeter:reply-to:{comment_id} -->"


def key(comment_id: int) -> dict[str, int]:
    return {"comment_id": comment_id}


async def request_reply(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int, text: str
) -> None:
    """Reply ``text`` (heatmeter's words, Markdown) to the comment on ``pull_request``, once."""
    detail = {"repository": repository, "pull_request": pull_request, "text": text}
    await queue.request(conn, NAME, key(comment_id), detail, once=True)


async def reply(item: Item, context: Context) -> str:
    assert context.github is not None
    assert item.detail is not None
    repository = item.detail["repository"]
    await post_once(
        context.github.operation(repository),
        context.github.auth,
        repository,
        int(item.detail["pull_request"]),
        MARKER.format(comment_id=int(item.key["comment_id"])),
        item.detail["text"],
        # After a failed attempt, that attempt may have posted it: look first.
        look_first=item.attempts > 1,
    )
    return "written"


KIND = Kind(NAME, reply, once=True)
