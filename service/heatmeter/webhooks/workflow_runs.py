"""Attaches a finished workflow run's task runs to its PRs and refreshes their comments."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

from ..comments.outbox import request_comments
from .payloads import repository_name

router = routing.Router()

# A run's reports may lack a PR number (push events, or a PR opened after the push).
ATTACH_RUN = """
UPDATE task_runs SET pull_request = $3, updated_at = now()
WHERE repository = $1 AND run_id = $2 AND pull_request IS NULL
"""

SELECT_RUN_PRS = """
SELECT DISTINCT pull_request FROM task_runs
WHERE repository = $1 AND run_id = $2 AND pull_request IS NOT NULL
"""


@router.register("workflow_run", action="completed")
async def refresh_run_pull_requests(
    event: sansio.Event, *, db: asyncpg.Connection, **_: Any
) -> None:
    run = event.data["workflow_run"]
    repository = repository_name(event.data)
    # Only PRs of this repository: a fork's PR lists its own repository's numbers.
    numbers = [
        pr["number"]
        for pr in run.get("pull_requests") or []
        if (pr.get("base", {}).get("repo") or {}).get("id") == event.data["repository"]["id"]
    ]
    if numbers:
        # A run serves one head commit; with several PRs on it the first one gets the rows.
        await db.execute(ATTACH_RUN, repository, run["id"], numbers[0])
    reported = {
        row["pull_request"] for row in await db.fetch(SELECT_RUN_PRS, repository, run["id"])
    }
    await request_comments(db, {(repository, n) for n in {*numbers, *reported}})
