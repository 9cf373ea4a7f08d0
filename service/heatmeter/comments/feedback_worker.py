"""The feedback worker: writes the reactions and syntax replies rating comments are owed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
import gidgethub.aiohttp
import structlog

from ..db.connections import DATABASE_DOWN
from ..github.client import GitHubClient, GitHubRefused, GitHubUnavailable, MaybeApplied, NotFound
from ..github.credentials import split_repository
from ..happiness.command import SYNTAX
from . import feedback
from .feedback import Feedback
from .retries import DEFAULT_MAX_REFUSALS

log = structlog.get_logger(__name__)

# 👍: "your rating is stored".
REACTION_CONTENT = "+1"
# Tells our reply to a comment from everyone else's, to find it instead of posting twice.
REPLY_MARKER = "<!-- heatmeter:reply-to:{comment_id} -->"
_PER_PAGE = 100


def reply_body(comment_id: int, problem: str) -> str:
    """One short reply: what was wrong (heatmeter's words, never the user's) and the syntax.

    No line of it starts with the command, so it is never read as a rating itself.
    """
    return (
        f"{REPLY_MARKER.format(comment_id=comment_id)}\n"
        f"heatmeter could not read that rating: {problem}. "
        f"The syntax is `{SYNTAX}`, with N from 1 (awful) to 5 (great), "
        "e.g. `/heatmeter rate 4` or `/heatmeter rate 2 deploy waited for a lock`."
    )


async def add_reaction(client: GitHubClient, repository: str, comment_id: int) -> None:
    """React to the comment; GitHub answers 200 for a reaction we already made."""
    owner, name = split_repository(repository)

    async def post(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> None:
        await gh.post(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            {"owner": owner, "repo": name, "comment_id": comment_id},
            data={"content": REACTION_CONTENT},
            oauth_token=token,
        )

    await client.call(
        repository, f"POST reaction on comment {comment_id}", post, missing_is_gone=True
    )


async def reply_once(client: GitHubClient, item: Feedback, body: str, *, look_first: bool) -> int:
    """Post the reply, unless it is already there; return its comment id.

    ``look_first`` after an earlier attempt failed: that attempt may have posted it.
    """
    owner, name = split_repository(item.repository)
    where = {"owner": owner, "repo": name, "number": item.pull_request}
    marker = REPLY_MARKER.format(comment_id=item.comment_id)
    calls = client.operation(item.repository)

    async def search(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> int | None:
        listing = gh.getiter(
            f"/repos/{{owner}}/{{repo}}/issues/{{number}}/comments?per_page={_PER_PAGE}",
            where,
            oauth_token=token,
        )
        async with contextlib.aclosing(listing) as comments:
            async for comment in comments:
                if marker in (comment.get("body") or "") and client.auth.owns(comment):
                    return int(comment["id"])
        return None

    async def post(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> int:
        created = await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            where,
            data={"body": body},
            oauth_token=token,
        )
        return int(created["id"])

    listing = f"GET comments of #{item.pull_request}"
    if look_first and (found := await calls.run(listing, search)) is not None:
        return found
    while True:
        try:
            return await calls.run(f"POST reply on #{item.pull_request}", post, idempotent=False)
        except MaybeApplied:
            # GitHub may have made it before failing: look before posting again.
            if (found := await calls.run(listing, search)) is not None:
                return found


class FeedbackWorker:
    """Claims owed reactions and replies and writes them, one at a time (as GitHub asks)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        github: GitHubClient,
        *,
        idle_poll_s: float = 1.0,
        batch: int = 10,
        lease_s: float = 120.0,
        max_refusals: int = DEFAULT_MAX_REFUSALS,
        count: Callable[[str, str], None] = lambda kind, result: None,
    ) -> None:
        self._pool = pool
        self._github = github
        self._idle_poll_s = idle_poll_s
        self._batch = batch
        self._lease_s = lease_s
        self._max_refusals = max_refusals
        # Told (kind, "written" | "gone" | "failed" | "abandoned") for each claim processed.
        self._count = count

    async def run(self) -> None:
        """Work until cancelled; a database outage pauses the worker, it does not stop it."""
        while True:
            try:
                if not await self.run_once():
                    await asyncio.sleep(self._idle_poll_s)
            except DATABASE_DOWN as exc:
                log.warning("feedback worker waiting for the database", error=repr(exc))
                await asyncio.sleep(5)
            except Exception:
                log.exception("feedback worker pass failed; trying again shortly")
                await asyncio.sleep(5)

    async def run_once(self) -> int:
        """Write what is due now; return how many were claimed."""
        async with self._pool.acquire() as conn:
            claims = await feedback.claim_due(conn, limit=self._batch, lease_s=self._lease_s)
        for item in claims:
            # Claimed as a batch, written one by one: only while the lease is still ours.
            async with self._pool.acquire() as conn:
                renewed = await feedback.renew(conn, item, lease_s=self._lease_s)
            if renewed is None:
                log.info(
                    "comment feedback claim lost before its turn; another worker has it",
                    comment=item.comment_id,
                    kind=item.kind,
                )
                continue
            await self._process(renewed)
        return len(claims)

    async def _process(self, item: Feedback) -> None:
        bound = log.bind(repository=item.repository, comment=item.comment_id, kind=item.kind)
        note, result = None, "written"
        try:
            if item.kind == feedback.REACTION:
                await add_reaction(self._github, item.repository, item.comment_id)
            else:
                body = reply_body(item.comment_id, item.detail or "the command is malformed")
                await reply_once(self._github, item, body, look_first=item.attempts > 1)
        except DATABASE_DOWN:
            raise
        except NotFound:
            # The comment was deleted before we got to it: nothing left to react to.
            note, result = "the comment is gone", "gone"
        except GitHubUnavailable as exc:
            # An outage: waited out however long it lasts.
            self._count(item.kind, await self._fail(item, exc, exc.retry_after, refused=False))
            return
        except GitHubRefused as exc:
            # Retried a bounded number of times, in case a person mends it, then abandoned.
            self._count(item.kind, await self._fail(item, exc, None, refused=True))
            return
        except Exception as exc:
            bound.exception("comment feedback crashed")
            self._count(item.kind, await self._fail(item, exc, None, refused=True))
            return
        async with self._pool.acquire() as conn:
            await feedback.done(conn, item, note)
        bound.info("comment feedback written" if note is None else "comment feedback dropped")
        self._count(item.kind, result)

    async def _fail(
        self, item: Feedback, exc: BaseException, retry_after: float | None, *, refused: bool
    ) -> str:
        """Record the failure (``retries.next_try``); "failed" or "abandoned"."""
        async with self._pool.acquire() as conn:
            delay = await feedback.fail(
                conn,
                item,
                _describe(exc),
                retry_after,
                refused=refused,
                max_refusals=self._max_refusals,
            )
        bound = log.bind(
            repository=item.repository,
            comment=item.comment_id,
            kind=item.kind,
            error=_describe(exc),
            attempts=item.attempts,
        )
        if delay is None:
            bound.error("comment feedback abandoned after repeated refusals")
            return "abandoned"
        bound.warning("comment feedback failed; kept for retry", retry_in_s=round(delay, 1))
        return "failed"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
