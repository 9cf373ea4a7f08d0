"""A fork's pull request, measured from its job steps alone, gets the summary comment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.outbox.sticky import MARKER
from heatmeter.settings import Settings
from heatmeter.tasks.definitions import define_task
from heatmeter.tasks.store import add_task_definition

from ..test_webhooks import deliver
from ..webhooks import payload
from .fake_github import FakeGitHub
from .test_pr_comment import settled

REPOSITORY = "Codertocat/Hello-World"  # the fixtures' repository
TOKEN = "ghs_app_stand_in"


async def test_a_fork_pr_is_measured_from_job_steps_and_gets_the_comment(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    service = await aiohttp_client(
        create_app(
            replace(
                settings,
                github_token=TOKEN,
                github_api_url=fake_github.url,
                comment_debounce_s=0.1,
            )
        )
    )
    await add_task_definition(db, define_task("lint", kind="other", step="Run *"))

    # A contributor opens a PR from their fork's own `main`: its workflows get no secret
    # and no OIDC token, so the action cannot report. Only GitHub's webhooks speak.
    opened = payload("pull_request.opened")
    head = opened["pull_request"]["head"]
    head["ref"] = "main"
    head["repo"] = {**head["repo"], "full_name": "contributor/Hello-World", "id": 99}
    assert (await deliver(service, "pull_request", opened))[0] == 200
    job = payload("workflow_job.completed.success.with-organization")
    job["workflow_job"].update(head_sha=head["sha"], head_branch="main")
    assert (await deliver(service, "workflow_job", job))[0] == 200

    await settled(db)
    [comment] = [c for c in fake_github.comments(REPOSITORY, 2) if MARKER in c["body"]]
    assert "lint" in comment["body"]
    # Three matching steps (Rubocop, Brakeman, Bundle Audit), all passed.
    assert "| 3 |" in comment["body"]
    rows = await db.fetch("SELECT pull_request, ref, source FROM task_runs")
    assert {tuple(r) for r in rows} == {(2, None, "job_step")}
