"""The comment worker: drains the outbox, rendering and writing each PR's one comment."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime

import asyncpg
import structlog

from .. import clock
from ..db.connections import DATABASE_DOWN
from ..github.client import GitHubClient, GitHubRefused, GitHubUnavailable, web_url
from ..scorecard.links import scorecard_link
from ..summary.metrics import TaskSummary
from ..summary.render import render_summary
from ..summary.stats import DEFAULT_MIN_BASELINE_RUNS
from . import outbox
from .data import WrittenComment, load_summaries, remember_comment, written_comment
from .retries import DEFAULT_MAX_REFUSALS
from .sticky import upsert_comment

log = structlog.get_logger(__name__)

DEFAULT_LEASE_S = 120.0


def lease_for(budget_s: float) -> float:
    """How long a claim is kept: one write spends at most the GitHub retry budget waiting,
    plus its requests' own time; twice that and a minute is ample. A killed worker's
    claims are taken over once it runs out."""
    return max(DEFAULT_LEASE_S, 2 * budget_s + 60)


class CommentWorker:
    """Claims due outbox rows and writes their comments, one PR at a time.

    One PR at a time on purpose: GitHub asks integrations to serialise writes to avoid
    its secondary rate limits, and replicas add parallelism where it is safe.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        github: GitHubClient,
        *,
        debounce_s: float,
        batch: int = 10,
        lease_s: float = DEFAULT_LEASE_S,
        idle_poll_s: float = 1.0,
        max_refusals: int = DEFAULT_MAX_REFUSALS,
        count: Callable[[str], None] = lambda result: None,
        min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS,
        public_url: str | None = None,
    ) -> None:
        self._pool = pool
        self._github = github
        self._debounce_s = debounce_s
        self._web_url = web_url(github.api_url)
        self._batch = batch
        self._lease_s = lease_s
        self._idle_poll_s = idle_poll_s
        self._max_refusals = max_refusals
        # Told "written", "unchanged", "failed" or "abandoned" for each claim processed.
        self._count = count
        self._min_baseline_runs = min_baseline_runs
        # HEATMETER_PUBLIC_URL: the comment links to the scorecard when it is set.
        self._public_url = public_url

    async def run(self) -> None:
        """Work until cancelled; a database outage pauses the worker, it does not stop it."""
        while True:
            try:
                done = await self.run_once()
                if not done:
                    await asyncio.sleep(await self._idle_wait())
            except DATABASE_DOWN as exc:
                log.warning("comment worker waiting for the database", error=repr(exc))
                await asyncio.sleep(5)
            except Exception:
                # Claiming itself failed in an unforeseen way: wait, do not spin.
                log.exception("comment worker pass failed; trying again shortly")
                await asyncio.sleep(5)

    async def run_once(self) -> int:
        """Process the rows due now; return how many were claimed."""
        async with self._pool.acquire() as conn:
            claims = await outbox.claim_due(
                conn, debounce_s=self._debounce_s, limit=self._batch, lease_s=self._lease_s
            )
        for claim in claims:
            async with self._pool.acquire() as conn:
                renewed = await outbox.renew(conn, claim, lease_s=self._lease_s)
            if renewed is None:
                log.info(
                    "comment claim lost before its turn; another worker has it",
                    repository=claim.repository,
                    pull_request=claim.pull_request,
                )
                continue
            await self._process(renewed)
        return len(claims)

    async def _idle_wait(self) -> float:
        async with self._pool.acquire() as conn:
            wait = await outbox.seconds_until_next_due(conn, debounce_s=self._debounce_s)
        ceiling = min(self._idle_poll_s, max(self._debounce_s, 0.05))
        return ceiling if wait is None else min(max(wait, 0.02), ceiling)

    async def _process(self, claim: outbox.Claim) -> None:
        bound = log.bind(repository=claim.repository, pull_request=claim.pull_request)
        try:
            result = await self._refresh(claim)
        except DATABASE_DOWN:
            # Nothing can be recorded now; the lease runs out and the row is claimed again.
            raise
        except GitHubUnavailable as exc:
            # An outage: waited out however long it lasts.
            result = await self._fail(claim, exc, exc.retry_after, refused=False)
        except GitHubRefused as exc:
            # A refusal (repository gone, app uninstalled) will not mend by itself: retried
            # a bounded number of times, in case a person mends it, then abandoned.
            result = await self._fail(claim, exc, None, refused=True)
        except Exception as exc:
            # A bug must not stop the worker nor lose the request, nor loop forever: it
            # counts as a refusal, kept with its traceback in the log.
            bound.exception("comment refresh crashed")
            result = await self._fail(claim, exc, None, refused=True)
        else:
            if result == "written":
                bound.info("comment written")
        self._count(result)

    async def _refresh(self, claim: outbox.Claim) -> str:
        """Render the PR's summary and write it if it changed; "written" or "unchanged"."""
        async with self._pool.acquire() as conn:
            summaries = await load_summaries(
                conn,
                claim.repository,
                claim.pull_request,
                web_url=self._web_url,
                min_baseline_runs=self._min_baseline_runs,
            )
            previous = await written_comment(conn, claim.repository, claim.pull_request)
        # The digest is of the body as rendered, less its timestamp: a webhook that
        # changes nothing costs no GitHub call, and a new renderer (other words, a fixed
        # chart) rewrites each comment once, on its next request.
        digest = body_digest(self._render(claim, summaries, None))
        if not summaries or (previous and previous.body_sha256 == digest):
            async with self._pool.acquire() as conn:
                await outbox.complete(conn, claim)
            return "unchanged"
        body = self._render(claim, summaries, clock.now())
        comment_id = await upsert_comment(
            self._github,
            claim.repository,
            claim.pull_request,
            body,
            comment_id=previous and previous.comment_id,
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await remember_comment(
                conn, claim.repository, claim.pull_request, WrittenComment(comment_id, digest)
            )
            await outbox.complete(conn, claim)
        return "written"

    def _render(
        self, claim: outbox.Claim, summaries: list[TaskSummary], updated_at: datetime | None
    ) -> str:
        return render_summary(
            summaries,
            repository=claim.repository,
            pull_request=claim.pull_request,
            updated_at=updated_at,
            dashboard_url=scorecard_link(
                self._public_url, claim.repository, [summary.task for summary in summaries]
            ),
        )

    async def _fail(
        self, claim: outbox.Claim, exc: BaseException, retry_after: float | None, *, refused: bool
    ) -> str:
        """Record the failure; "failed" (kept for a later try) or "abandoned"."""
        async with self._pool.acquire() as conn:
            delay = await outbox.fail(
                conn,
                claim,
                _describe(exc),
                retry_after,
                refused=refused,
                max_refusals=self._max_refusals,
            )
        bound = log.bind(
            repository=claim.repository,
            pull_request=claim.pull_request,
            error=_describe(exc),
            attempts=claim.attempts,
        )
        if delay is None:
            bound.error(
                "comment write abandoned after repeated refusals; a new report retries it",
                refusals=claim.refusals + 1,
            )
            return "abandoned"
        bound.warning("comment write failed; kept for retry", retry_in_s=round(delay, 1))
        return "failed"


def body_digest(body: str) -> str:
    """What pr_comments.body_sha256 holds: the SHA-256 of the body rendered without a time."""
    return hashlib.sha256(body.encode()).hexdigest()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
