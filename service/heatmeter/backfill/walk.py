"""Walks one repository's past workflow runs and their jobs, storing what the webhooks would have.

Runs are listed by creation time in windows, oldest window first: GitHub serves at most
1,000 runs of one filtered query, so a window with more is halved until each fits. When
a window is done the repository's cursor moves to its end, so an interrupted backfill
resumes there. A run still in progress holds the cursor at its creation time, so its
jobs are picked up next time. Every PyGithub call runs in a worker thread; a refusal for
the rate limit is waited out (with the clock and sleep given, logged), never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import requests
import structlog
from github import GithubException, UnknownObjectException
from github.PaginatedList import PaginatedList
from github.WorkflowRun import WorkflowRun

from ..github.client import DEFAULT_BUDGET_S, GitHubRefused, GitHubUnavailable
from ..github.policy import RESET_SLACK_S, Backoff, Failure, read_answer
from ..jobs.model import job_from_payload
from ..jobs.store import record_job
from ..tasks.definitions import TaskDefinition
from .cursor import Cursor, load_cursor, resume_point, save_cursor
from .github import Target, head_repository, job_payload, jobs_of, runs_created
from .progress import Counts, Progress

log = structlog.get_logger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

RESULT_CAP = 1000  # GitHub's limit on the runs one filtered listing serves
# Below this many requests left, wait for the reset before starting a repository.
MIN_REMAINING = 50


class BackfillStopped(Exception):
    """GitHub kept failing (not a rate limit) or refused; what was walked is kept."""


@dataclass(frozen=True)
class _Run:
    """What the walk reads of a run, read in the worker thread (attributes may fetch)."""

    run: WorkflowRun
    id: int
    status: str | None
    created_at: datetime
    event: str | None
    head_repository: str | None


class RepositoryWalk:
    """The walk of one repository; ``counts`` says what it found."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        target: Target,
        definitions: list[TaskDefinition],
        progress: Progress,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        result_cap: int = RESULT_CAP,
    ) -> None:
        self._conn = conn
        self._target = target
        self.repository = self._name = target.repository
        self._definitions = definitions
        self._progress = progress
        self._clock = clock
        self._sleep = sleep
        self._result_cap = result_cap
        self._hold: int | None = None  # creation time of the first unfinished run seen
        self.counts = Counts(repositories=1)

    async def run(self, since: datetime) -> Counts:
        """Walk runs created from ``since`` (or the cursor) until now."""
        await self._wait_if_nearly_spent()
        cursor = await load_cursor(self._conn, self._name)
        start, walked_from = resume_point(cursor, since)
        until = int(self._clock())
        self._progress.repository_started(self._name, start, _moment(until))
        repo = self._target.repo()
        if int(start.timestamp()) < until:
            await self._window(repo, int(start.timestamp()), until, walked_from)
        return self.counts

    async def _window(self, repo: Any, start: int, end: int, walked_from: datetime) -> None:
        listing = runs_created(repo, _moment(start), _moment(end))
        total = await self._call(lambda: _first_page_total(listing))
        if total > self._result_cap and end - start > 1:
            middle = start + (end - start) // 2
            await self._window(repo, start, middle, walked_from)
            await self._window(repo, middle, end, walked_from)
            return
        runs = await self._collect(listing, _run_facts)
        if total > len(runs):
            log.warning(
                "GitHub lists only part of the runs created in one second",
                repository=self._name,
                listed=len(runs),
                total=total,
                second=_moment(start).isoformat(),
            )
        for run in sorted(runs, key=lambda r: (r.created_at, r.id)):
            await self._run(run)
        walked_until = end if self._hold is None else min(self._hold, end)
        await save_cursor(self._conn, self._name, Cursor(walked_from, _moment(walked_until)))

    async def _run(self, run: _Run) -> None:
        self.counts.runs += 1
        if run.status != "completed":
            self.counts.unfinished_runs += 1
            created = int(run.created_at.timestamp())
            self._hold = created if self._hold is None else min(self._hold, created)
            return
        jobs = await self._collect(jobs_of(run.run), job_payload)
        for payload in jobs:
            if payload["status"] != "completed":
                continue
            job = job_from_payload(
                self._name, payload, head_repository=run.head_repository, event=run.event
            )
            async with self._conn.transaction():
                recorded = await record_job(self._conn, job, self._definitions, source="backfill")
            self.counts.jobs += 1
            self.counts.task_runs += recorded.task_runs
            self.counts.known_task_runs += recorded.matched - recorded.task_runs
            self.counts.queue_times += recorded.queue_times
        self._progress.run_done(self._name, self.counts)

    async def _wait_if_nearly_spent(self) -> None:
        """GET /rate_limit first: start a long walk with requests to spend, or wait."""
        try:
            overview = await self._call(self._target.client.get_rate_limit)
        except UnknownObjectException:
            # GitHub Enterprise Server with rate limiting turned off answers 404.
            return
        core = overview.resources.core
        log.info(
            "GitHub rate limit before the walk",
            repository=self._name,
            remaining=core.remaining,
            limit=core.limit,
            reset_at=core.reset.isoformat(),
        )
        if core.remaining < MIN_REMAINING:
            wait = max(0.0, core.reset.timestamp() - self._clock()) + RESET_SLACK_S
            await self._wait(wait, "GitHub rate limit nearly spent")

    async def _collect(self, listing: PaginatedList[Any], read: Callable[[Any], T]) -> list[T]:
        """Every item of ``listing``, following its Link headers, read in the thread.

        A PaginatedList keeps the pages it fetched, so after a rate-limit wait the walk
        goes on from the page that was refused, not from the first.
        """
        done: list[T] = []

        def extend() -> list[T]:
            for index, item in enumerate(listing):
                if index >= len(done):
                    done.append(read(item))
            return done

        return await self._call(extend)

    async def _call(self, blocking: Callable[[], T]) -> T:
        """Run a PyGithub call in a thread; wait out rate limits, retry what is transient
        within the same budget as the service's calls, refuse the rest."""
        backoff = Backoff(DEFAULT_BUDGET_S, monotonic=self._clock)
        while True:
            try:
                await self._target.refresh()
            except (GitHubRefused, GitHubUnavailable) as exc:
                raise BackfillStopped(f"no token to walk with: {exc}") from exc
            try:
                return await asyncio.to_thread(blocking)
            except GithubException as exc:
                headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
                failure = read_answer(
                    exc.status, headers, str(exc.message or exc.data or ""), now=self._clock()
                )
                error: Exception = exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure, error = Failure("transient", type(exc).__name__), exc
            if failure is not None and failure.kind == "rate_limited":
                self.counts.rate_limit_waits += 1
                await self._wait(failure.wait_s or 0.0, "GitHub rate limit reached")
                continue
            if failure is None or failure.kind != "transient":
                raise error
            delay = backoff.next_wait(failure)
            if delay is None:
                raise BackfillStopped(
                    f"GitHub failed {backoff.failures} times in a row: {_describe(error)}"
                ) from error
            log.warning(
                "GitHub call failed; retrying",
                repository=self._name,
                error=_describe(error),
                attempt=backoff.failures,
                retry_in_s=round(delay, 3),
            )
            await self._sleep(delay)

    async def _wait(self, seconds: float, reason: str) -> None:
        until = _moment(self._clock() + seconds)
        log.warning(
            f"{reason}; waiting for the reset",
            repository=self._name,
            wait_s=round(seconds, 1),
            reset_at=until.isoformat(),
        )
        self._progress.waiting(self._name, seconds, until, reason)
        await self._sleep(seconds)


def _first_page_total(listing: PaginatedList[Any]) -> int:
    """Fetch the first page (kept by the list) and return GitHub's total_count."""
    with contextlib.suppress(IndexError):
        listing[0]
    return listing.totalCount


def _run_facts(run: WorkflowRun) -> _Run:
    return _Run(
        run=run,
        id=run.id,
        status=run.status,
        created_at=run.created_at,
        event=run.event,
        head_repository=head_repository(run),
    )


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _describe(error: Exception) -> str:
    if isinstance(error, GithubException):
        return f"{error.status} {error.message or ''}".strip()
    return type(error).__name__
