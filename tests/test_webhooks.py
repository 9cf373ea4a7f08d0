"""POST /webhooks/github: signed deliveries, handled once, each family of events."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from .conftest import REPORT_SECRET
from .reports import make_report, signed
from .webhooks import payload, webhook_request

WEBHOOK_SECRET = "test-webhook-secret"
REDELIVERED = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


async def deliver(client: TestClient, event: str, data: dict, **kwargs) -> tuple[int, dict]:
    body, headers = webhook_request(event, data, WEBHOOK_SECRET, **kwargs)
    response = await client.post("/webhooks/github", data=body, headers=headers)
    return response.status, await response.json()


async def report(client: TestClient, **fields) -> None:
    body, headers = signed(make_report(**fields), REPORT_SECRET)
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 202, await response.text()


async def test_bad_or_missing_signatures_are_refused(
    client: TestClient, db: asyncpg.Connection
) -> None:
    body, headers = webhook_request("ping", payload("ping.with-app_id"), "wrong-secret")
    response = await client.post("/webhooks/github", data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "bad_signature"

    del headers["X-Hub-Signature-256"]
    response = await client.post("/webhooks/github", data=body, headers=headers)
    assert response.status == 401
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0


async def test_ping_is_answered(client: TestClient) -> None:
    status, answer = await deliver(client, "ping", payload("ping.with-app_id"))
    assert status == 200
    assert answer["zen"]


async def test_unknown_events_are_acknowledged_and_ignored(
    client: TestClient, db: asyncpg.Connection
) -> None:
    status, answer = await deliver(client, "star", {"action": "created", "starred_at": None})
    assert status == 200
    assert answer["duplicate"] is False
    assert await db.fetchval("SELECT count(*) FROM pull_requests") == 0


async def test_a_redelivered_webhook_changes_nothing(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened = payload("pull_request.opened")
    status, first = await deliver(client, "pull_request", opened, delivery_id=REDELIVERED)
    assert (status, first["duplicate"]) == (200, False)
    before = await db.fetchrow("SELECT * FROM pull_requests")

    opened["pull_request"]["head"]["sha"] = "f" * 40
    status, again = await deliver(client, "pull_request", opened, delivery_id=REDELIVERED)
    assert (status, again["duplicate"]) == (200, True)
    assert await db.fetchrow("SELECT * FROM pull_requests") == before
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 1


async def test_a_malformed_payload_is_400_and_not_recorded(
    client: TestClient, db: asyncpg.Connection
) -> None:
    status, answer = await deliver(client, "pull_request", b"[1, 2")
    assert status == 400
    assert answer["error"] == "bad_webhook"
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0


async def test_a_signed_payload_of_the_wrong_shape_is_400_and_not_recorded(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened = payload("pull_request.opened")
    del opened["pull_request"]["head"]
    status, answer = await deliver(client, "pull_request", opened)
    assert status == 400
    assert answer["error"] == "unexpected_payload"
    assert "head" in answer["detail"]
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0
    assert await db.fetchval("SELECT count(*) FROM pull_requests") == 0


async def test_pull_request_attaches_push_reports_by_commit_and_branch(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened = payload("pull_request.opened")
    pr = opened["pull_request"]
    repository = opened["repository"]["full_name"]
    # Before the PR is known: a push run of its head commit, and one of an old commit.
    await report(client, repository=repository, pull_request=None, sha=pr["head"]["sha"])
    await report(client, repository=repository, pull_request=None, sha="a" * 40, run_id=2)

    status, _ = await deliver(client, "pull_request", opened)
    assert status == 200
    row = await db.fetchrow("SELECT * FROM pull_requests")
    assert (row["number"], row["head_ref"], row["base_ref"]) == (2, "changes", "master")
    assert row["installation_id"] == 1
    attached = await db.fetch("SELECT run_id, pull_request FROM task_runs ORDER BY run_id")
    assert [(r["run_id"], r["pull_request"]) for r in attached] == [(2, None), (1001, 2)]
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 1

    # Once the PR is known, a push run on its branch is attached as it arrives.
    await report(
        client, repository=repository, pull_request=None, sha="b" * 40, run_id=3,
        ref="refs/heads/changes",
    )  # fmt: skip
    assert await db.fetchval("SELECT pull_request FROM task_runs WHERE run_id = 3") == 2


async def test_closed_pull_request_is_remembered_as_closed(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await deliver(client, "pull_request", payload("pull_request.opened"))
    await deliver(client, "pull_request", payload("pull_request.closed"))
    assert await db.fetchval("SELECT state FROM pull_requests") == "closed"


START = {
    "phase": "start",
    "finished_at": None,
    "duration_ms": None,
    "outcome": None,
    "exit_code": None,
}


def completed_job(conclusion: str) -> tuple[dict, dict]:
    """A workflow_job completed payload, and the report fields of a task run in that job."""
    completed = payload("workflow_job.completed.success.with-organization")
    job = completed["workflow_job"]
    job["conclusion"] = conclusion
    in_the_job = {
        "repository": completed["repository"]["full_name"],
        "run_id": job["run_id"],
        "runner_name": job["runner_name"],
        "started_at": "2021-08-05T10:35:10+00:00",
    }
    return completed, in_the_job


async def test_cancelled_job_closes_its_unfinished_task_run(
    client: TestClient, db: asyncpg.Connection
) -> None:
    completed, common = completed_job("cancelled")
    await report(client, **common, **START, task="deploy", step="deploy-1")
    # A finished task of the same job, and a running one on another runner, stay as they are.
    await report(
        client, **common, task="lint", step="lint-1",
        finished_at="2021-08-05T10:35:20+00:00", duration_ms=10_000,
    )  # fmt: skip
    await report(client, **{**common, "runner_name": "other"}, **START, task="x", step="x")

    status, _ = await deliver(client, "workflow_job", completed)
    assert status == 200
    rows = {
        r["task"]: r
        for r in await db.fetch("SELECT task, outcome, duration_ms, closed_by FROM task_runs")
    }
    assert rows["deploy"]["outcome"] == "cancelled"
    assert rows["deploy"]["closed_by"] == "workflow_job"
    # 10:35:10 to the job's completion at 10:38:16.
    assert rows["deploy"]["duration_ms"] == 186_000
    assert (rows["lint"]["outcome"], rows["lint"]["closed_by"]) == ("success", "report")
    assert rows["x"]["outcome"] is None


async def test_late_finish_report_replaces_the_jobs_guess(
    client: TestClient, db: asyncpg.Connection
) -> None:
    completed, common = completed_job("failure")
    await report(client, **common, **START)
    await deliver(client, "workflow_job", completed)
    assert await db.fetchval("SELECT outcome FROM task_runs") == "failure"

    await report(
        client, **common, outcome="success",
        finished_at="2021-08-05T10:36:10+00:00", duration_ms=60_000,
    )  # fmt: skip
    row = await db.fetchrow("SELECT outcome, duration_ms, closed_by FROM task_runs")
    assert tuple(row) == ("success", 60_000, "report")


# Which PR a workflow run's reports go to: tests/test_ownership.py.


async def test_workflow_run_ignores_pull_requests_of_other_repositories(
    client: TestClient, db: asyncpg.Connection
) -> None:
    completed = payload("workflow_run.completed.with-pull-requests")
    repository = completed["repository"]["full_name"]
    await report(client, repository=repository, run_id=completed["workflow_run"]["id"],
                 pull_request=None)  # fmt: skip
    await deliver(client, "workflow_run", completed)
    assert await db.fetchval("SELECT pull_request FROM task_runs") is None


async def test_installations_track_their_repositories(
    client: TestClient, db: asyncpg.Connection
) -> None:
    created = payload("installation.created")
    await deliver(client, "installation", created)
    repos = await db.fetch("SELECT installation_id, repository FROM installation_repositories")
    assert [tuple(r) for r in repos] == [(957387, "Codertocat/Hello-World")]

    changed = {
        "action": "added",
        "installation": created["installation"],
        "repositories_added": [{"id": 5, "full_name": "Codertocat/Other"}],
        "repositories_removed": [{"id": 186853002, "full_name": "Codertocat/Hello-World"}],
        "sender": created["sender"],
    }
    await deliver(client, "installation_repositories", changed)
    repos = await db.fetch("SELECT repository FROM installation_repositories")
    assert [r["repository"] for r in repos] == ["Codertocat/Other"]

    suspended = {**created, "action": "suspend"}
    # A fixed date: only whether the installation is suspended is read, never when.
    suspended["installation"] = {**created["installation"], "suspended_at": "2026-01-01T00:00:00Z"}
    await deliver(client, "installation", suspended)
    assert await db.fetchval("SELECT suspended_at IS NOT NULL FROM installations")

    await deliver(client, "installation", {**created, "action": "deleted"})
    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM installations")
    assert await db.fetchval("SELECT count(*) FROM installation_repositories") == 0


async def test_webhooks_without_a_configured_secret_are_503(aiohttp_client, settings) -> None:
    from dataclasses import replace

    from heatmeter.app import create_app

    client = await aiohttp_client(create_app(replace(settings, webhook_secret=None)))
    body, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    response = await client.post("/webhooks/github", data=body, headers=headers)
    assert response.status == 503
    assert "GITHUB_WEBHOOK_SECRET" in (await response.json())["detail"]
