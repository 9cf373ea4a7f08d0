"""Posting a comment once, known by a hidden marker: found if it is there, posted if not.

heatmeter's own comments carry an HTML comment (``<!-- heatmeter:… -->``) that nobody
sees on GitHub. A write whose answer was lost (a 502 after GitHub made the comment, a
replica killed mid-request) may have posted it already: before posting again, the
issue's comments are searched for the marker, among those heatmeter wrote
(``GitHubAuth.owns``, so a person quoting the marker is never mistaken for us).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import gidgethub.aiohttp

from ..github.client import MaybeApplied, Operation
from ..github.credentials import GitHubAuth, split_repository

_PER_PAGE = 100


@dataclass(frozen=True)
class Marked:
    """heatmeter's comment that carries a marker: its id, and whether we just posted it
    (with the text asked for) or found it (saying whatever it said)."""

    comment_id: int
    posted: bool


def with_marker(marker: str, body: str) -> str:
    """The comment's full text as written to GitHub: the marker line, then the body."""
    return f"{marker}\n{body}"


async def find_marked(
    calls: Operation, auth: GitHubAuth, repository: str, number: int, marker: str
) -> int | None:
    """The oldest comment on issue or PR ``number`` that carries ``marker`` and is ours."""
    owner, name = split_repository(repository)
    where = {"owner": owner, "repo": name, "number": number}

    async def search(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> int | None:
        listing = gh.getiter(
            f"/repos/{{owner}}/{{repo}}/issues/{{number}}/comments?per_page={_PER_PAGE}",
            where,
            oauth_token=token,
        )
        async with contextlib.aclosing(listing) as comments:
            async for comment in comments:
                if marker in (comment.get("body") or "") and auth.owns(comment):
                    return int(comment["id"])
        return None

    return await calls.run(f"GET comments of #{number}", search)


async def post_once(
    calls: Operation,
    auth: GitHubAuth,
    repository: str,
    number: int,
    marker: str,
    body: str,
    *,
    look_first: bool = True,
) -> Marked:
    """Our comment with ``marker`` on ``number``: found, or posted saying ``body``.

    ``look_first=False`` skips the search when nothing can be there yet (a first try);
    a post that may have reached GitHub is always looked for before it is posted again.
    """
    owner, name = split_repository(repository)
    where = {"owner": owner, "repo": name, "number": number}

    async def post(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> int:
        created = await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            where,
            data={"body": with_marker(marker, body)},
            oauth_token=token,
        )
        return int(created["id"])

    while True:
        if look_first:
            found = await find_marked(calls, auth, repository, number, marker)
            if found is not None:
                return Marked(found, posted=False)
        try:
            posted = await calls.run(f"POST comment on #{number}", post, idempotent=False)
        except MaybeApplied:
            # GitHub may have made it before failing: look before posting again.
            look_first = True
            continue
        return Marked(posted, posted=True)
