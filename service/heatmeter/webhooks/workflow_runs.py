"""Remembers where each workflow run came from; gives a finished run's task runs to their
PR and refreshes the comments."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

from ..http.field_schemas import INT32_MAX
from ..jobs.origins import RunOrigin, remember_origin
from ..outbox.comment import request_comments
from ..ownership import BRANCH_PREFIX, PullRequestFacts, RunFacts, attach_workflow_run
from .payloads import (
    FULL_NAME,
    OPTIONAL_FULL_NAME,
    OPTIONAL_SHA,
    REF,
    SHA,
    identifier,
    obj,
    optional_identifier,
    optional_text,
    reads,
    repository_name,
)

router = routing.Router()

SELECT_RUN_PRS = """
SELECT DISTINCT pull_request FROM task_runs
WHERE repository = $1 AND run_id = $2 AND pull_request IS NOT NULL
"""


REPO_ID = obj(nullable=True, id=optional_identifier())
COMPLETED_RUN_FIELDS = obj(
    ["workflow_run", "repository"],
    repository=obj(
        ["full_name", "id"],
        full_name=FULL_NAME,
        id=identifier(),
        default_branch=optional_text(255),
    ),
    workflow_run=obj(
        ["id"],
        id=identifier(),
        head_sha=OPTIONAL_SHA,
        head_branch=optional_text(255),
        event=optional_text(100),
        pull_requests={
            "type": ["array", "null"],
            "items": obj(
                ["number", "head", "base"],
                number=identifier(INT32_MAX),
                head=obj(
                    ["sha", "ref"],
                    sha=SHA,
                    ref=REF,
                    repo=obj(nullable=True, id=optional_identifier()),
                ),
                base=obj(["ref"], ref=REF, repo=obj(nullable=True, id=optional_identifier())),
            ),
        },
    ),
)


def listed_pull_requests(data: dict[str, Any]) -> list[PullRequestFacts]:
    """The PRs a workflow_run payload lists, as the ownership rule sees them.

    Only PRs of this repository: a fork's run lists its own repository's numbers.
    """
    repository = data["repository"]
    listed = []
    for pr in data["workflow_run"].get("pull_requests") or []:
        base, head = pr.get("base") or {}, pr.get("head") or {}
        if (base.get("repo") or {}).get("id") != repository["id"]:
            continue
        listed.append(
            PullRequestFacts(
                number=pr["number"],
                head_sha=head["sha"],
                head_ref=head["ref"],
                base_ref=base["ref"],
                default_branch=repository.get("default_branch"),
                same_repository=(head.get("repo") or {}).get("id") == repository["id"],
            )
        )
    return listed


ORIGIN_FIELDS = obj(
    ["workflow_run", "repository"],
    repository=obj(["full_name"], full_name=FULL_NAME),
    workflow_run=obj(
        ["id"],
        id=identifier(),
        event=optional_text(100),
        head_branch=optional_text(255),
        head_repository=obj(nullable=True, full_name=OPTIONAL_FULL_NAME),
    ),
)


@router.register("workflow_run", action="requested")
@router.register("workflow_run", action="in_progress")
@router.register("workflow_run", action="completed")
@reads(ORIGIN_FIELDS)
async def remember_run_origin(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    # The one place GitHub says which repository a run's head lives in (jobs/origins.py):
    # job steps stored before it wait for it to count in the default branch's baseline.
    run = event.data["workflow_run"]
    origin = RunOrigin(run.get("event"), (run.get("head_repository") or {}).get("full_name"))
    await remember_origin(
        db, repository_name(event.data), run["id"], origin, run.get("head_branch")
    )


@router.register("workflow_run", action="completed")
@reads(COMPLETED_RUN_FIELDS)
async def refresh_run_pull_requests(
    event: sansio.Event, *, db: asyncpg.Connection, **_: Any
) -> None:
    run = event.data["workflow_run"]
    repository = repository_name(event.data)
    # The run as the rule sees it: by head commit and head branch, not by the payload's
    # `pull_requests` alone, which also lists PRs *into* the run's branch.
    facts = RunFacts(
        sha=run.get("head_sha"),
        ref=BRANCH_PREFIX + run["head_branch"] if run.get("head_branch") else None,
        event_name=run.get("event"),
    )
    number = await attach_workflow_run(
        db, repository, run["id"], facts, listed_pull_requests(event.data)
    )
    reported = {
        row["pull_request"] for row in await db.fetch(SELECT_RUN_PRS, repository, run["id"])
    }
    await request_comments(db, {(repository, n) for n in {number, *reported} if n is not None})
