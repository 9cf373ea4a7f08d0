"""Installation and repository events keep adoption's denominator true."""

from __future__ import annotations

import copy
from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter import clock

from .heat_seed import insert_runs
from .support.clock import ago, iso
from .test_webhooks import deliver
from .webhooks import payload

OWNER = "Codertocat"


def repo(name: str, repository_id: int, owner: str = OWNER) -> dict:
    return {"id": repository_id, "name": name, "full_name": f"{owner}/{name}", "private": False}


def installation_event(action: str, *, suspended: bool = False, **extra) -> dict:
    """installation.created (octokit's real payload) turned into another action."""
    data = payload("installation.created")
    data["action"] = action
    if suspended:
        data["installation"]["suspended_at"] = iso(ago(days=1))
    data.update(extra)
    return data


def repository_event(action: str, repository: dict, changes: dict | None = None) -> dict:
    """A `repository` event shaped as GitHub sends it (see octokit's renamed/transferred)."""
    created = payload("installation.created")
    data = {
        "action": action,
        "repository": {**repository, "owner": {"login": repository["full_name"].split("/")[0]}},
        "sender": created["sender"],
        "installation": {"id": created["installation"]["id"]},
    }
    if changes is not None:
        data["changes"] = changes
    return data


async def installed(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT repository_key FROM heat_installed_repositories")
    return sorted(row["repository_key"] for row in rows)


async def adoption(db: asyncpg.Connection) -> tuple[int, int, int]:
    await db.execute("SELECT heat_refresh_rollups()")
    row = await db.fetchrow(
        "SELECT adopting_repositories, installed_repositories, outside_app_repositories "
        "FROM task_adoption WHERE task = 'deploy'"
    )
    return tuple(row)


async def test_installation_events_move_the_denominator(
    client: TestClient, db: asyncpg.Connection
) -> None:
    yesterday = clock.now() - timedelta(days=1)
    await insert_runs(
        db,
        [
            (f"{OWNER}/{name}", "deploy", None, "success", 1_000, yesterday, "a" * 40, None,
             "report")
            for name in ("hello-world", "Spoon-Knife", "Linguist")
        ],
    )  # fmt: skip

    # The real payload installs Codertocat/Hello-World; the runs spell it in lower case.
    assert (await deliver(client, "installation", installation_event("created")))[0] == 200
    assert await installed(db) == ["codertocat/hello-world"]
    assert await adoption(db) == (1, 1, 2)

    added = installation_event(
        "added",
        repositories_added=[repo("Spoon-Knife", 2), repo("Idle", 3)],
        repositories_removed=[],
    )
    added.pop("repositories")
    await deliver(client, "installation_repositories", added)
    assert await adoption(db) == (2, 3, 1)

    removed = installation_event(
        "removed", repositories_added=[], repositories_removed=[repo("spoon-knife", 2)]
    )
    removed.pop("repositories")
    await deliver(client, "installation_repositories", removed)
    assert await installed(db) == ["codertocat/hello-world", "codertocat/idle"]
    assert await adoption(db) == (1, 2, 2)

    await deliver(client, "installation", installation_event("suspend", suspended=True))
    assert await installed(db) == []
    assert await adoption(db) == (0, 0, 3)  # every run is outside the app while suspended

    await deliver(client, "installation", installation_event("unsuspend", repositories=None))
    assert await adoption(db) == (1, 2, 2)
    # New permissions accepted: the installation and its repositories stay as they are.
    accepted = installation_event("new_permissions_accepted")
    accepted.pop("repositories")
    await deliver(client, "installation", accepted)
    assert await installed(db) == ["codertocat/hello-world", "codertocat/idle"]

    await deliver(client, "installation", installation_event("deleted"))
    assert await installed(db) == []
    # A late event about the deleted installation does not bring it back.
    await deliver(client, "installation", installation_event("unsuspend", repositories=None))
    assert await installed(db) == []
    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM installations")


async def test_renamed_and_transferred_repositories_keep_their_history(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await deliver(client, "installation", installation_event("created"))
    last_week = clock.now() - timedelta(days=7)
    await insert_runs(
        db,
        [(f"{OWNER}/Hello-World", "deploy", None, "success", 1_000, last_week, "a" * 40, None,
          "report")],
    )  # fmt: skip
    assert await adoption(db) == (1, 1, 0)

    hello = payload("installation.created")["repositories"][0]
    renamed = repository_event(
        "renamed",
        {**hello, "name": "Hello-Universe", "full_name": f"{OWNER}/Hello-Universe"},
        {"repository": {"name": {"from": "Hello-World"}}},
    )
    assert (await deliver(client, "repository", renamed))[0] == 200
    assert await installed(db) == ["codertocat/hello-universe"]
    # The run reported under the old name counts for the new one, inside the app.
    assert await adoption(db) == (1, 1, 0)

    # Renamed back and forth: every old name points at the current one.
    again = copy.deepcopy(renamed)
    again["repository"].update(name="Hello-Galaxy", full_name=f"{OWNER}/Hello-Galaxy")
    again["changes"]["repository"]["name"]["from"] = "Hello-Universe"
    await deliver(client, "repository", again)
    renames = await db.fetch("SELECT old_key, new_key FROM repository_renames ORDER BY old_key")
    assert [tuple(r) for r in renames] == [
        ("codertocat/hello-universe", "codertocat/hello-galaxy"),
        ("codertocat/hello-world", "codertocat/hello-galaxy"),
    ]
    assert await adoption(db) == (1, 1, 0)

    # Transferred to an account without the App: the installation no longer reaches it,
    # and its runs now count outside the app.
    transferred = repository_event(
        "transferred",
        {**hello, "name": "Hello-Galaxy", "full_name": "Octocoders/Hello-Galaxy"},
        {"owner": {"from": {"user": {"login": OWNER, "type": "User"}}}},
    )
    await deliver(client, "repository", transferred)
    assert await installed(db) == []
    assert await adoption(db) == (0, 0, 1)
    outside = await db.fetchval("SELECT repository_key FROM heat_outside_app")
    assert outside == "octocoders/hello-galaxy"


async def test_a_deleted_repository_leaves_the_denominator(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await deliver(client, "installation", installation_event("created"))
    hello = payload("installation.created")["repositories"][0]
    await deliver(client, "repository", repository_event("deleted", hello))
    assert await installed(db) == []
