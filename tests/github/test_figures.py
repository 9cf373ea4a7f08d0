"""The figures a PR comment shows, end to end: reports and webhooks in, the comment out."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.outbox.comment import request_comment
from heatmeter.summary import render

from ..support.clock import ago, iso
from ..webhooks import payload, webhook_request
from .fake_github import FakeGitHub
from .test_pr_comment import (
    COMMENTS,
    PR,
    REPOSITORY,
    github_settings,
    marked,
    send,
    service,
    settled,
)

__all__ = ["github_settings", "service"]  # fixtures, shared with test_pr_comment

SHA = "3484a3fb816e0859fd6e1cea078d76385ff50625"


def verdict_line(body: str) -> str:
    return body.split("\n\n")[1]


async def test_a_deploy_that_fails_and_passes_on_re_run_is_flaky_not_failing(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await send(service, run_id=41, run_attempt=1, outcome="failure", exit_code=1, sha=SHA)
    await settled(db)
    [comment] = marked(fake_github)
    assert "failing on this PR: deploy (the latest run failed" in verdict_line(comment["body"])

    # The developer re-runs the failed job: same run, attempt 2, same commit; it passes.
    await send(service, run_id=41, run_attempt=2, outcome="success", sha=SHA)
    await settled(db)
    [comment] = marked(fake_github)
    line = verdict_line(comment["body"])
    assert "🔁 flaky: deploy (failed, then passed on the same commit; 2 attempts" in line
    assert "failing" not in line.lower()
    assert not line.startswith("⚠️")
    assert "| 1 ✅ 1 ❌ 🔁 |" in comment["body"]


async def test_a_task_closed_by_the_job_webhook_has_no_duration_and_leaves_p50(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await send(service, run_id=1, duration_ms=40_000, runner_name="r1")
    await send(service, run_id=2, duration_ms=44_000, runner_name="r1")
    await settled(db)
    [comment] = marked(fake_github)
    assert "| 42 s / 44 s |" in comment["body"]

    # A third run's job is cancelled an hour into the task: the action never finishes it.
    started = ago(hours=2)
    start = {"phase": "start", "finished_at": None, "duration_ms": None, "outcome": None,
             "exit_code": None, "started_at": started.isoformat()}  # fmt: skip
    await send(service, run_id=3, runner_name="r1", **start)
    completed = payload("workflow_job.completed.success.with-organization")
    completed["repository"]["full_name"] = REPOSITORY
    completed["workflow_job"].update(run_id=3, runner_name="r1", conclusion="cancelled",
                                     completed_at=iso(started + timedelta(hours=1)))  # fmt: skip
    body, headers = webhook_request("workflow_job", completed, "test-webhook-secret")
    assert (await service.post("/webhooks/github", data=body, headers=headers)).status == 200
    await settled(db)
    [comment] = marked(fake_github)
    assert "| 42 s / 44 s |" in comment["body"]  # not moved by the hour
    assert "| ⏹️ no duration |" in comment["body"]
    assert "1 run has no duration" in comment["body"]


async def test_a_renderer_change_rewrites_an_unchanged_comment_once(
    service: TestClient,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edits = f"/repos/{REPOSITORY}/issues/comments/*"
    await send(service)
    await settled(db)
    assert len(fake_github.writes) == 1

    # Asked again with nothing changed: no write, whatever the time is now.
    await request_comment(db, REPOSITORY, PR)
    await settled(db)
    assert len(fake_github.writes) == 1

    # A new renderer (here: another title) reaches the comment on its next request…
    monkeypatch.setattr(render, "TITLE", "### heatmeter: the platform's tasks here")
    await request_comment(db, REPOSITORY, PR)
    await settled(db)
    assert len(fake_github.requests_to("PATCH", edits)) == 1
    [comment] = marked(fake_github)
    assert "the platform's tasks here" in comment["body"]

    # …once: the next request finds the comment as the new renderer would write it.
    await request_comment(db, REPOSITORY, PR)
    await settled(db)
    assert len(fake_github.requests_to("PATCH", edits)) == 1
    assert len(fake_github.requests_to("POST", COMMENTS)) == 1
