"""Follows repositories renamed, transferred or deleted, so adoption counts each one once."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from gidgethub import routing, sansio

from .payloads import FULL_NAME, NAME, obj, optional_identifier, reads

log = structlog.get_logger(__name__)
router = routing.Router()

MOVED_REPOSITORY = obj(
    ["full_name", "name"], full_name=FULL_NAME, name=NAME, id=optional_identifier()
)
RENAMED_FIELDS = obj(
    ["repository", "changes"],
    repository=MOVED_REPOSITORY,
    changes=obj(["repository"], repository=obj(["name"], name=obj(["from"], **{"from": NAME}))),
)
_ACCOUNT = obj(["login"], login=NAME)
TRANSFERRED_FIELDS = obj(
    ["repository", "changes"],
    repository=MOVED_REPOSITORY,
    changes=obj(["owner"], owner=obj(["from"], **{"from": {"anyOf": [
        obj(["user"], user=_ACCOUNT), obj(["organization"], organization=_ACCOUNT),
    ]}})),
)  # fmt: skip
DELETED_FIELDS = obj(
    ["repository"], repository=obj(["full_name"], full_name=FULL_NAME, id=optional_identifier())
)

# The rows of the repository under its old name (or its id), taken out to be put back
# under the new one: an UPDATE could collide with a row the new name already has.
TAKE_INSTALLED = """
DELETE FROM installation_repositories
WHERE repository_id = $1 OR lower(repository) = lower($2)
RETURNING installation_id, repository_id, added_at
"""
PUT_INSTALLED = """
INSERT INTO installation_repositories (installation_id, repository, repository_id, added_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (installation_id, repository) DO UPDATE SET repository_id = EXCLUDED.repository_id
"""
# An installation covers the repositories of its own account only: after a transfer the
# old account's installation no longer reaches the repository.
SELECT_ACCOUNT = "SELECT account FROM installations WHERE installation_id = $1"

# Keep repository_renames flat (every old name points at the current one) in three steps,
# because a rename back (a → b → a) touches one row twice.
REVIVE_NAME = "DELETE FROM repository_renames WHERE old_key = $1"
FORWARD_RENAMES = (
    "UPDATE repository_renames SET new_key = $2, renamed_at = now() WHERE new_key = $1"
)
ADD_RENAME = """
INSERT INTO repository_renames (old_key, new_key) VALUES ($1, $2)
ON CONFLICT (old_key) DO UPDATE SET new_key = EXCLUDED.new_key, renamed_at = now()
"""

FORGET_INSTALLED = """
DELETE FROM installation_repositories WHERE repository_id = $1 OR lower(repository) = lower($2)
"""


async def _moved(db: asyncpg.Connection, repository: dict[str, Any], old_name: str) -> None:
    new_name = repository["full_name"]
    owner = new_name.split("/", 1)[0]
    for row in await db.fetch(TAKE_INSTALLED, repository.get("id"), old_name):
        account = await db.fetchval(SELECT_ACCOUNT, row["installation_id"])
        if account is not None and account.lower() != owner.lower():
            continue
        await db.execute(
            PUT_INSTALLED, row["installation_id"], new_name, row["repository_id"], row["added_at"]
        )
    old_key, new_key = old_name.lower(), new_name.lower()
    if old_key != new_key:
        await db.execute(REVIVE_NAME, new_key)
        await db.execute(FORWARD_RENAMES, old_key, new_key)
        await db.execute(ADD_RENAME, old_key, new_key)
    log.info("repository moved", old=old_name, new=new_name)


@router.register("repository", action="renamed")
@reads(RENAMED_FIELDS)
async def renamed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    repository = event.data["repository"]
    owner = repository["full_name"].split("/", 1)[0]
    old_name = f"{owner}/{event.data['changes']['repository']['name']['from']}"
    await _moved(db, repository, old_name)


@router.register("repository", action="transferred")
@reads(TRANSFERRED_FIELDS)
async def transferred(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    repository = event.data["repository"]
    previous = event.data["changes"]["owner"]["from"]
    previous_owner = (previous.get("user") or previous.get("organization"))["login"]
    await _moved(db, repository, f"{previous_owner}/{repository['name']}")


@router.register("repository", action="deleted")
@reads(DELETED_FIELDS)
async def deleted(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    repository = event.data["repository"]
    await db.execute(FORGET_INSTALLED, repository.get("id"), repository["full_name"])
