"""Kind "comment": each pull request's one summary comment, rewritten when its figures change.

Asked for by every report and webhook that concerns a pull request; a burst of them
costs one write per debounce window (``HEATMETER_COMMENT_DEBOUNCE``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .. import clock
from ..github.client import web_url
from ..summary.links import scorecard_link
from ..summary.render import render_summary
from . import queue
from .kind import Context, Kind
from .pull_request_runs import load_summaries
from .queue import Item
from .sticky import upsert_comment

NAME = "comment"

# Which comment heatmeter wrote on each PR, and a digest of what it said.
SELECT_WRITTEN = """
SELECT comment_id, body_sha256 FROM pr_comments WHERE repository = $1 AND pull_request = $2
"""
UPSERT_WRITTEN = """
INSERT INTO pr_comments (repository, pull_request, comment_id, body_sha256)
VALUES ($1, $2, $3, $4)
ON CONFLICT (repository, pull_request) DO UPDATE SET
    comment_id = EXCLUDED.comment_id, body_sha256 = EXCLUDED.body_sha256, written_at = now()
"""

# The key of a PR's item, built in SQL from columns named repository and pull_request
# (report batches ask for many PRs' comments in the statement that stores their runs).
KEY_SQL = "jsonb_build_object('repository', repository, 'pull_request', pull_request)"


@dataclass(frozen=True)
class WrittenComment:
    comment_id: int
    body_sha256: str


def key(repository: str, pull_request: int) -> dict[str, str | int]:
    return {"repository": repository, "pull_request": pull_request}


async def request_comment(conn: asyncpg.Connection, repository: str, pull_request: int) -> None:
    await queue.request(conn, NAME, key(repository, pull_request))


async def request_comments(conn: asyncpg.Connection, prs: Iterable[tuple[str, int]]) -> None:
    # By repository and PR, the order report batches lock them in.
    await queue.request_many(conn, NAME, [key(*pr) for pr in sorted(set(prs))])


async def write_comment(item: Item, context: Context) -> str:
    """Render the PR's summary and write it if it changed; "written" or "unchanged"."""
    assert context.github is not None
    repository, pull_request = item.key["repository"], int(item.key["pull_request"])
    settings = context.settings
    async with context.pool.acquire() as conn:
        summaries = await load_summaries(
            conn,
            repository,
            pull_request,
            web_url=web_url(context.github.api_url),
            min_baseline_runs=settings.min_baseline_runs,
        )
        row = await conn.fetchrow(SELECT_WRITTEN, repository, pull_request)
    previous = WrittenComment(**row) if row else None

    def render(updated_at: datetime | None) -> str:
        return render_summary(
            summaries,
            repository=repository,
            pull_request=pull_request,
            updated_at=updated_at,
            # HEATMETER_PUBLIC_URL: the comment links to the scorecard when it is set.
            dashboard_url=scorecard_link(
                settings.public_url, repository, [summary.task for summary in summaries]
            ),
        )

    # The digest is of the body as rendered, less its timestamp: a webhook that changes
    # nothing costs no GitHub call, and a new renderer (other words, a fixed chart)
    # rewrites each comment once, on its next request.
    digest = body_digest(render(None))
    if not summaries or (previous and previous.body_sha256 == digest):
        return "unchanged"
    comment_id = await upsert_comment(
        context.github,
        repository,
        pull_request,
        render(clock.now()),
        comment_id=previous and previous.comment_id,
    )
    async with context.pool.acquire() as conn:
        await conn.execute(UPSERT_WRITTEN, repository, pull_request, comment_id, digest)
    return "written"


def body_digest(body: str) -> str:
    """What pr_comments.body_sha256 holds: the SHA-256 of the body rendered without a time."""
    return hashlib.sha256(body.encode()).hexdigest()


KIND = Kind(NAME, write_comment, debounce_s=lambda settings: settings.comment_debounce_s)
