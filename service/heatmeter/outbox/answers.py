"""Kinds "reaction" and "reply": heatmeter's answer to someone's issue comment, once each.

A reaction (the 👍 on a stored rating) and a reply (the syntax of a malformed one) are
about one comment, named by its id; each is performed once per comment, however often
the comment is edited or its webhook redelivered (``Kind.once``). What a comment is
owed is decided elsewhere (happiness/feedback.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import gidgethub.aiohttp

from ..github.client import GitHubClient, NotFound
from ..github.credentials import split_repository
from . import queue
from .kind import Context, Gone, Kind
from .marker import post_once
from .queue import Item

REACTION = "reaction"
REPLY = "reply"
# Tells our reply to a comment from everyone else's, to find it instead of posting twice.
REPLY_MARKER = "<!-- heatmeter:reply-to:{comment_id} -->"


def key(comment_id: int) -> dict[str, int]:
    """The key of both kinds: the comment answered."""
    return {"comment_id": comment_id}


@dataclass(frozen=True)
class _Answered:
    """The comment an item answers, and the client to answer it with."""

    github: GitHubClient
    repository: str
    pull_request: int
    comment_id: int


async def _ask(
    conn: asyncpg.Connection,
    kind: str,
    repository: str,
    pull_request: int,
    comment_id: int,
    **detail: Any,
) -> None:
    where = {"repository": repository, "pull_request": pull_request}
    await queue.request(conn, kind, key(comment_id), {**where, **detail}, once=True)


def _answered(item: Item, context: Context) -> _Answered:
    assert context.github is not None
    assert item.detail is not None
    return _Answered(
        context.github,
        item.detail["repository"],
        int(item.detail["pull_request"]),
        int(item.key["comment_id"]),
    )


async def request_reaction(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int, content: str
) -> None:
    """React with ``content`` (GitHub's names: "+1", "eyes", …) to the comment, once."""
    await _ask(conn, REACTION, repository, pull_request, comment_id, content=content)


async def request_reply(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int, text: str
) -> None:
    """Reply ``text`` (heatmeter's words, Markdown) to the comment, on its PR, once."""
    await _ask(conn, REPLY, repository, pull_request, comment_id, text=text)


async def react(item: Item, context: Context) -> str:
    """GitHub answers 200 for a reaction we already made, so trying again is harmless."""
    to = _answered(item, context)
    owner, name = split_repository(to.repository)

    async def post(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> None:
        await gh.post(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            {"owner": owner, "repo": name, "comment_id": to.comment_id},
            data={"content": (item.detail or {})["content"]},
            oauth_token=token,
        )

    try:
        await to.github.call(
            to.repository, f"POST reaction on comment {to.comment_id}", post, missing_is_gone=True
        )
    except NotFound:
        raise Gone("the comment is gone") from None
    return "written"


async def reply(item: Item, context: Context) -> str:
    to = _answered(item, context)
    await post_once(
        to.github.operation(to.repository),
        to.github.auth,
        to.repository,
        to.pull_request,
        REPLY_MARKER.format(comment_id=to.comment_id),
        (item.detail or {})["text"],
        # After a failed attempt, that attempt may have posted it: look first.
        look_first=item.attempts > 1,
    )
    return "written"


REACTION_KIND = Kind(REACTION, react, once=True)
REPLY_KIND = Kind(REPLY, reply, once=True)
