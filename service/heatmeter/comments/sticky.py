"""The one sticky heatmeter comment per pull request: found by its marker, edited in place."""

from __future__ import annotations

import contextlib
from typing import Any

import gidgethub.aiohttp
import structlog

from ..github.client import GitHubClient, GitHubUnavailable, MaybeApplied, NotFound
from ..github.credentials import split_repository

log = structlog.get_logger(__name__)

# The hidden first line that tells our comment from everyone else's. It belongs to the
# comment, not to what the comment says: the renderer never sees it.
MARKER = "<!-- heatmeter:summary -->"
_PER_PAGE = 100
# Listing shows the comment but editing says it is gone: a deletion racing us. Say so
# after a few rounds rather than loop.
_MAX_VANISHED = 3


def with_marker(body: str) -> str:
    """The comment's full text as written to GitHub: the marker, then the body."""
    return f"{MARKER}\n{body}"


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
    where: dict[str, Any] = {"owner": owner, "repo": name, "number": number}
    text = with_marker(body)

    async def edit(target: int) -> None:
        async def patch(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> None:
            await gh.patch(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                {**where, "comment_id": target},
                data={"body": text},
                oauth_token=token,
            )

        await calls.run(f"PATCH comment {target}", patch, missing_is_gone=True)

    async def find() -> int | None:
        async def search(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> int | None:
            listing = gh.getiter(
                f"/repos/{{owner}}/{{repo}}/issues/{{number}}/comments?per_page={_PER_PAGE}",
                where,
                oauth_token=token,
            )
            async with contextlib.aclosing(listing) as comments:
                async for comment in comments:
                    if MARKER in (comment.get("body") or "") and client.auth.owns(comment):
                        return int(comment["id"])
            return None

        return await calls.run(f"GET comments of #{number}", search)

    async def create() -> int:
        async def post(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> int:
            created = await gh.post(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                where,
                data={"body": text},
                oauth_token=token,
            )
            return int(created["id"])

        return await calls.run(f"POST comment on #{number}", post, idempotent=False)

    if comment_id is not None:
        try:
            await edit(comment_id)
        except NotFound:
            log.info(
                "github comment gone", repository=repository, number=number, comment=comment_id
            )
        else:
            return comment_id
    vanished = 0
    while True:
        found = await find()
        if found is not None:
            try:
                await edit(found)
            except NotFound:
                vanished += 1
                if vanished >= _MAX_VANISHED:
                    raise GitHubUnavailable(
                        f"comment {found} on {repository}#{number} is listed but cannot be edited"
                    ) from None
                continue
            log.info("github comment found", repository=repository, number=number, comment=found)
            return found
        try:
            created = await create()
        except MaybeApplied:
            # GitHub may have made it before failing; look again rather than post twice.
            continue
        log.info("github comment created", repository=repository, number=number, comment=created)
        return created
