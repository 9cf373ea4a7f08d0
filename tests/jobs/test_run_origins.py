"""Where a job's run came from decides whether its steps are the default branch's baseline.

A ``workflow_job`` webhook names its head commit and branch, not the repository the head
came from nor the event that started the run. A pull request from a fork whose branch is
called like the default branch (``master`` here) sends jobs that look exactly like a push
to the default branch. If a job arrives before heatmeter knows the pull request, only the
run's ``workflow_run`` webhook, or the backfill, can tell: until then its steps are no
one's baseline.
"""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter.jobs.model import job_from_payload
from heatmeter.jobs.store import record_job
from heatmeter.ownership import BASELINE_RUN_CONDITION
from heatmeter.tasks.definitions import define_task
from heatmeter.tasks.store import add_task_definition, list_task_definitions

from ..test_webhooks import deliver
from ..webhooks import payload, workflow_run_payload

REPOSITORY = "Codertocat/Hello-World"  # the fixtures' repository; its default is master
FORK = "someone/Hello-World"
RUN_ID = 2202229078  # the workflow_job fixture's run
FORK_SHA = "f0" * 20
DEFAULT_REF = "refs/heads/master"

# The comment's baseline query (comments/data.py) counts exactly these runs.
BASELINE_RUNS = f"SELECT count(*) FROM task_runs WHERE {BASELINE_RUN_CONDITION.format(ref='$1')}"  # noqa: S608


def job(**changes) -> dict:
    data = payload("workflow_job.completed.success.with-organization")
    data["workflow_job"].update(changes)
    return data


def workflow_run(action: str, *, event: str, head_repository: str, **changes) -> dict:
    return workflow_run_payload(
        job()["repository"], RUN_ID, action=action, event=event,
        head_repository=None if head_repository == REPOSITORY else head_repository, **changes,
    )  # fmt: skip


def fork_pull_request() -> dict:
    data = payload("pull_request.opened")  # #2 into master
    head = data["pull_request"]["head"]
    head.update(sha=FORK_SHA, ref="master")  # the fork's own master
    head["repo"] = {**head["repo"], "full_name": FORK, "id": 99}
    return data


async def baseline(db: asyncpg.Connection) -> int:
    return await db.fetchval(BASELINE_RUNS, DEFAULT_REF)


async def define_lint(db: asyncpg.Connection) -> None:
    await add_task_definition(db, define_task("lint", kind="other", step="Run Rubocop"))


async def test_a_fork_prs_job_before_its_pr_is_never_baseline(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define_lint(db)
    assert (await deliver(client, "workflow_job", job(head_sha=FORK_SHA, head_branch="master")))[
        0
    ] == 200
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 1
    assert await baseline(db) == 0

    await deliver(client, "pull_request", fork_pull_request())
    row = await db.fetchrow("SELECT pull_request, ref, head_ref FROM task_runs")
    assert tuple(row) == (2, None, "master")
    assert await baseline(db) == 0


async def test_a_fork_prs_run_told_by_workflow_run_stays_out_of_the_baseline(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define_lint(db)
    await deliver(client, "workflow_job", job(head_sha=FORK_SHA, head_branch="master"))
    fork_run = workflow_run(
        "completed", event="pull_request", head_repository=FORK, head_sha=FORK_SHA,
        head_branch="master",
    )  # fmt: skip
    assert (await deliver(client, "workflow_run", fork_run))[0] == 200
    assert await baseline(db) == 0
    # The pull request, known at last, gets the run by its commit.
    await deliver(client, "pull_request", fork_pull_request())
    assert await db.fetchval("SELECT pull_request FROM task_runs") == 2
    assert await baseline(db) == 0


async def test_a_fork_prs_run_told_first_is_never_baseline(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define_lint(db)
    fork_run = workflow_run(
        "requested", event="pull_request", head_repository=FORK, head_sha=FORK_SHA,
        head_branch="master",
    )  # fmt: skip
    await deliver(client, "workflow_run", fork_run)
    await deliver(client, "workflow_job", job(head_sha=FORK_SHA, head_branch="master"))
    assert await db.fetchval("SELECT ref FROM task_runs") is None
    assert await baseline(db) == 0


async def test_a_push_to_the_default_branch_is_baseline_once_its_run_is_known(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define_lint(db)
    await deliver(client, "workflow_job", job(head_branch="master"))
    assert await baseline(db) == 0  # not yet: it could be a fork's master
    push = workflow_run("completed", event="push", head_repository=REPOSITORY)
    await deliver(client, "workflow_run", push)
    assert await baseline(db) == 1
    row = await db.fetchrow("SELECT ref, event_name, pull_request FROM task_runs")
    assert tuple(row) == (DEFAULT_REF, "push", None)


async def test_a_push_whose_run_was_told_first_is_baseline_at_once(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define_lint(db)
    push = workflow_run("requested", event="push", head_repository=REPOSITORY)
    await deliver(client, "workflow_run", push)
    await deliver(client, "workflow_job", job(head_branch="master"))
    assert await baseline(db) == 1


async def test_the_backfill_places_a_run_its_webhooks_left_unplaced(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define_lint(db)
    await deliver(client, "workflow_job", job(head_branch="master"))
    assert await baseline(db) == 0
    # The backfill reads the job again, from the run it knows: a push to this repository.
    backfilled = job_from_payload(
        REPOSITORY, job(head_branch="master")["workflow_job"],
        head_repository=REPOSITORY, event="push",
    )  # fmt: skip
    recorded = await record_job(
        db, backfilled, await list_task_definitions(db), source="backfill", request_comment=False
    )
    assert recorded.task_runs == 0  # the same step, stored once
    assert await baseline(db) == 1
