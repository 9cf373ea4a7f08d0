"""Remembers pull requests, so reports from their branch or commit are attached to them."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

from ..http.field_schemas import INT32_MAX
from ..outbox.comment import request_comment
from ..ownership import PullRequestFacts, attach_runs_to_pull_request
from .payloads import (
    FULL_NAME,
    OPTIONAL_FULL_NAME,
    OPTIONAL_TIMESTAMP,
    REF,
    SHA,
    github_time,
    identifier,
    installation_id,
    obj,
    optional_identifier,
    optional_text,
    reads,
    repository_name,
)

router = routing.Router()

UPSERT_PULL_REQUEST = """
INSERT INTO pull_requests (
    repository, number, head_sha, head_ref, head_repository, base_ref, default_branch,
    state, merged, installation_id, opened_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
ON CONFLICT (repository, number) DO UPDATE SET
    head_sha = EXCLUDED.head_sha, head_ref = EXCLUDED.head_ref,
    head_repository = EXCLUDED.head_repository, base_ref = EXCLUDED.base_ref,
    default_branch = EXCLUDED.default_branch, state = EXCLUDED.state,
    merged = EXCLUDED.merged,
    installation_id = coalesce(EXCLUDED.installation_id, pull_requests.installation_id),
    updated_at = now()
"""


PULL_REQUEST_FIELDS = obj(
    ["pull_request", "repository"],
    repository=obj(
        ["full_name"], full_name=FULL_NAME, id=optional_identifier(),
        default_branch=optional_text(255),
    ),
    pull_request=obj(
        ["number", "head", "base", "state"],
        number=identifier(INT32_MAX),
        head=obj(
            ["sha", "ref"], sha=SHA, ref=REF,
            repo=obj(nullable=True, full_name=OPTIONAL_FULL_NAME),
        ),
        base=obj(["ref"], ref=REF),
        state={"enum": ["open", "closed"]},
        merged={"type": ["boolean", "null"]},
        created_at=OPTIONAL_TIMESTAMP,
    ),
)  # fmt: skip


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="edited")
@router.register("pull_request", action="closed")
@reads(PULL_REQUEST_FIELDS)
async def remember_pull_request(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    pr = event.data["pull_request"]
    repository = repository_name(event.data)
    head_repo = (pr["head"].get("repo") or {}).get("full_name")
    await db.execute(
        UPSERT_PULL_REQUEST,
        repository,
        pr["number"],
        pr["head"]["sha"],
        pr["head"]["ref"],
        head_repo,
        pr["base"]["ref"],
        event.data["repository"].get("default_branch"),
        pr["state"],
        bool(pr.get("merged")),
        installation_id(event.data),
        github_time(pr.get("created_at")),
    )
    facts = PullRequestFacts(
        number=pr["number"],
        head_sha=pr["head"]["sha"],
        head_ref=pr["head"]["ref"],
        base_ref=pr["base"]["ref"],
        default_branch=event.data["repository"].get("default_branch"),
        same_repository=head_repo == repository,
        open=pr["state"] == "open",
        opened_at=github_time(pr.get("created_at")),
    )
    attached = await attach_runs_to_pull_request(db, repository, facts)
    if attached:
        await request_comment(db, repository, pr["number"])
