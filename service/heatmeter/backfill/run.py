"""The backfill itself: credentials to repositories, each walked in turn, counts summed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

import aiohttp
import asyncpg
import structlog
from github import GithubException

from ..db.connections import connect
from ..github import USER_AGENT
from ..github.client import GitHubClient, GitHubRefused, GitHubUnavailable
from ..tasks.store import list_task_definitions
from .github import GitHubAccess, NotWalkable
from .progress import Counts, Progress, progress_for
from .walk import BackfillStopped, Clock, RepositoryWalk, Sleep

log = structlog.get_logger(__name__)


async def backfill_database(
    dsn: str, access: GitHubAccess, repositories: list[str], all_installed: bool, since: datetime
) -> Counts:
    from ..db.migrations import migrate

    conn = await connect(dsn)
    try:
        await migrate(conn)
        return await backfill(conn, access, repositories, since, all_installed=all_installed)
    finally:
        await conn.close()


async def backfill(
    conn: asyncpg.Connection,
    access: GitHubAccess,
    repositories: Sequence[str],
    since: datetime,
    *,
    all_installed: bool = False,
    progress: Progress | None = None,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
    result_cap: int | None = None,
    stream: TextIO | None = None,
) -> Counts:
    """Walk each repository in turn; a repository that fails is said so and skipped."""
    progress = progress or progress_for(stream)
    definitions = await list_task_definitions(conn)
    if not definitions:
        log.warning(
            "no task definitions: only queue times will be stored",
            hint="heatmeter tasks add NAME --step PATTERN",
        )
    log.info("backfill starting", github=access.describe(), since=since.isoformat())
    options = {} if result_cap is None else {"result_cap": result_cap}
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        github = GitHubClient(
            session,
            access.auth(session),
            api_url=access.api_url,
            sleep=sleep,
            clock=clock,
            monotonic=clock,
        )
        try:
            targets = await access.targets(github, repositories, all_installed=all_installed)
        except (NotWalkable, GitHubRefused, GitHubUnavailable) as exc:
            raise BackfillStopped(f"cannot list the repositories to walk: {exc}") from None
        progress.targets_found(len(targets))
        total = Counts()
        try:
            for target in targets:
                walk = RepositoryWalk(
                    conn, target, definitions, progress, clock=clock, sleep=sleep, **options
                )
                await _walk(walk, since, progress)
                total.add(walk.counts)
        finally:
            progress.close()
    return total


async def _walk(walk: RepositoryWalk, since: datetime, progress: Progress) -> None:
    """Walk one repository; a repository that fails is said so, and the backfill goes on."""
    repository = walk.repository
    try:
        await walk.run(since)
    except (BackfillStopped, GithubException) as exc:
        walk.counts.failed_repositories += 1
        error = str(exc) if isinstance(exc, BackfillStopped) else _refusal(exc)
        log.error("backfill of a repository stopped", repository=repository, error=error)
        progress.repository_failed(repository, f"{error}; run it again to resume where it stopped")
    else:
        progress.repository_done(repository, walk.counts)


def _refusal(exc: GithubException) -> str:
    if exc.status == 404:
        return "not found, or not visible to these credentials (is the App installed there?)"
    if exc.status == 401:
        return "GitHub refused the credentials (401)"
    return f"GitHub answered {exc.status}: {exc.message or exc.data}"
