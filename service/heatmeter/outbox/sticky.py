"""The one sticky heatmeter comment per pull request: found by its marker, edited in place."""

from __future__ import annotations

import gidgethub.aiohttp
import structlog

from ..github.client import GitHubClient, GitHubUnavailable, NotFound
from ..github.credentials import split_repository
from .marker import post_once, with_marker

log = structlog.get_logger(__name__)

# The hidden first line that tells our comment from everyone else's. It belongs to the
# comment, not to what the comment says: the renderer never sees it.
MARKER = "<!-- heatmeter:summary -->"
# Listing shows the comment but editing says it is gone: a deletion racing us. Say so
# after a few rounds rather than loop.
_MAX_VANISHED = 3


async def upsert_comment(
    client: GitHubClient,
    repository: str,
    number: int,
    body: str,
    *,
    comment_id: int | None = None,
) -> int:
    """Make PR ``number``'s heatmeter comment say ``body``; return the comment's id.

    Edits ``comment_id`` when given and still there; otherwise edits the oldest comment
    on the PR that carries the marker and that the client's identity ``owns``; otherwise
    creates one. All calls share one retry budget: past it ``GitHubUnavailable``; an
    answer no retry changes is ``GitHubRefused``.
    """
    owner, name = split_repository(repository)
    calls = client.operation(repository)
    text = with_marker(MARKER, body)

    async def edit(target: int) -> None:
        async def patch(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> None:
            await gh.patch(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                {"owner": owner, "repo": name, "comment_id": target},
                data={"body": text},
                oauth_token=token,
            )

        await calls.run(f"PATCH comment {target}", patch, missing_is_gone=True)

    bound = log.bind(repository=repository, number=number)
    if comment_id is not None:
        try:
            await edit(comment_id)
        except NotFound:
            bound.info("github comment gone", comment=comment_id)
        else:
            return comment_id
    for _ in range(_MAX_VANISHED):
        marked = await post_once(calls, client.auth, repository, number, MARKER, body)
        if marked.posted:
            bound.info("github comment created", comment=marked.comment_id)
            return marked.comment_id
        # Found, saying whatever it said (an older version, or what a lost post made).
        try:
            await edit(marked.comment_id)
        except NotFound:
            continue
        bound.info("github comment found", comment=marked.comment_id)
        return marked.comment_id
    raise GitHubUnavailable(
        f"a comment on {repository}#{number} is listed but cannot be edited"
    ) from None
