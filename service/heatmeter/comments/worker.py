"""The comment worker: drains the outbox, rendering and writing each PR's one comment."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import structlog

from ..github.client import GitHubClient, GitHubRefused, GitHubUnavailable, web_url
from ..http.errors import DATABASE_DOWN
from ..scorecard.links import scorecard_link
from ..summary.metrics import TaskSummary
from ..summary.render import render_summary
from ..summary.stats import DEFAULT_MIN_BASELINE_RUNS
from . import outbox
from .data import WrittenComment, load_summaries, remember_comment, written_comment
from .sticky import upsert_comment

log = structlog.get_logger(__name__)

REFUSED_RETRY_S = 3600.0


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
        lease_s: float = 120.0,
        idle_poll_s: float = 1.0,
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
        # Told "written", "unchanged" or "failed" for each claim processed.
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
            await self._process(claim)
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
        except (GitHubUnavailable, GitHubRefused) as exc:
            # A refusal (repository gone, app uninstalled) will not mend itself soon: park
            # the row for an hour rather than drop it; an outage gets the usual backoff.
            refused = isinstance(exc, GitHubRefused)
            retry_after = REFUSED_RETRY_S if refused else exc.retry_after
            delay = await self._fail(claim, exc, retry_after)
            bound.warning(
                "comment write failed; kept for retry",
                error=_describe(exc),
                attempts=claim.attempts,
                retry_in_s=round(delay, 1),
            )
            result = "failed"
        except Exception as exc:
            # A bug must not stop the worker nor lose the request: keep it, say so, go on.
            bound.exception("comment refresh crashed; kept for retry")
            await self._fail(claim, exc, None)
            result = "failed"
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
        body = self._render(claim, summaries, datetime.now(UTC))
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
        self, claim: outbox.Claim, exc: BaseException, retry_after: float | None
    ) -> float:
        async with self._pool.acquire() as conn:
            return await outbox.fail(conn, claim, _describe(exc), retry_after)


def body_digest(body: str) -> str:
    """What pr_comments.body_sha256 holds: the SHA-256 of the body rendered without a time."""
    return hashlib.sha256(body.encode()).hexdigest()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
