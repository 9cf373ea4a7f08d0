"""Kind "reaction": a reaction on an issue comment (the 👍 on a stored rating), once."""

from __future__ import annotations

import asyncpg
import gidgethub.aiohttp

from ..github.client import NotFound
from ..github.credentials import split_repository
from . import queue
from .kind import Context, Gone, Kind
from .queue import Item

NAME = "reaction"


def key(comment_id: int) -> dict[str, int]:
    return {"comment_id": comment_id}


async def request_reaction(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int, content: str
) -> None:
    """React with ``content`` (GitHub's names: "+1", "eyes", …) to the comment, once."""
    detail = {"repository": repository, "pull_request": pull_request, "content": content}
    await queue.request(conn, NAME, key(comment_id), detail, once=True)


async def react(item: Item, context: Context) -> str:
    """GitHub answers 200 for a reaction we already made, so trying again is harmless."""
    assert context.github is not None
    assert item.detail is not None
    repository, comment_id = item.detail["repository"], int(item.key["comment_id"])
    owner, name = split_repository(repository)

    async def post(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> None:
        await gh.post(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            {"owner": owner, "repo": name, "comment_id": comment_id},
            data={"content": item.detail["content"]},
            oauth_token=token,
        )

    try:
        await context.github.call(
            repository, f"POST reaction on comment {comment_id}", post, missing_is_gone=True
        )
    except NotFound:
        raise Gone("the comment is gone") from None
    return "written"


KIND = Kind(NAME, react, once=True)
