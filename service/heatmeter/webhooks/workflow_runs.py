"""Attaches a finished workflow run's task runs to its PRs and refreshes their comments."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

from ..comments.outbox import request_comments
from ..http.schemas import INT32_MAX
from .payloads import (
    REPOSITORY,
    identifier,
    obj,
    optional_identifier,
    reads,
    repository_name,
)

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


COMPLETED_RUN_FIELDS = obj(
    ["workflow_run", "repository"],
    repository={**REPOSITORY, "required": ["full_name", "id"]},
    workflow_run=obj(
        ["id"],
        id=identifier(),
        pull_requests={
            "type": ["array", "null"],
            "items": obj(
                ["number"],
                number=identifier(INT32_MAX),
                base=obj(repo=obj(nullable=True, id=optional_identifier())),
            ),
        },
    ),
)


@router.register("workflow_run", action="completed")
@reads(COMPLETED_RUN_FIELDS)
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
