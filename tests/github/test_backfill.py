"""heatmeter backfill against the fake GitHub: paginated, windowed, rate limited, resumable."""

from __future__ import annotations

import io
from datetime import timedelta

import asyncpg
import pytest
from structlog.testing import capture_logs

from heatmeter.backfill.github import GitHubAccess
from heatmeter.backfill.run import backfill
from heatmeter.github.client import DEFAULT_BUDGET_S
from heatmeter.github.policy import BACKOFF_CAP_S
from heatmeter.jobs.model import job_from_payload
from heatmeter.jobs.store import record_job
from heatmeter.tasks.definitions import define_task
from heatmeter.tasks.store import add_task_definition, list_task_definitions

from .actions_history import NOW, Sleeps, add_history, workflow_job, workflow_run
from .fake_github import FakeGitHub

REPOSITORY = "octo/widgets"
TOKEN = "ghp_backfill"
CAP = 3  # runs one filtered listing serves, here and in the fake: windows must split
RUNS = f"/repos/{REPOSITORY}/actions/runs"


@pytest.fixture
def access(fake_github: FakeGitHub) -> GitHubAccess:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    fake_github.actions.result_cap = CAP
    # Two items a page, so every listing of more than two follows a Link header.
    return GitHubAccess(
        api_url=fake_github.url, token=TOKEN, per_page=2, seconds_between_requests=None
    )


@pytest.fixture
async def deploy(db: asyncpg.Connection) -> None:
    await add_task_definition(db, define_task("deploy", kind="deploy", step="Deploy to *"))


async def run_backfill(
    db: asyncpg.Connection, access: GitHubAccess, days: int = 10, **kwargs
) -> tuple:
    sleeps = kwargs.pop("sleeps", Sleeps())
    stream = io.StringIO()
    counts = await backfill(
        db,
        access,
        [REPOSITORY],
        NOW - timedelta(days=days),
        clock=NOW.timestamp,
        sleep=sleeps,
        result_cap=CAP,
        stream=stream,
        **kwargs,
    )
    return counts, sleeps, stream.getvalue()


async def test_walks_every_run_and_job_and_stores_matching_steps(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    jobs = add_history(fake_github, REPOSITORY, days=8)
    counts, sleeps, progress = await run_backfill(db, access)

    assert (counts.runs, counts.jobs, counts.task_runs, counts.queue_times) == (8, jobs, jobs, jobs)
    assert sleeps == []
    rows = await db.fetch(
        "SELECT source, auth_method, outcome, duration_ms, ref, task FROM task_runs"
    )
    assert len(rows) == jobs == 9  # the re-run's second attempt is a job of its own
    assert {tuple(r) for r in rows} == {
        ("backfill", "github_api", "success", 10_000, "refs/heads/main", "deploy")
    }
    assert await db.fetchval("SELECT count(DISTINCT queue_ms) FROM job_queue_times") == 1
    assert await db.fetchval("SELECT min(queue_ms) FROM job_queue_times") == 30_000
    # Eight runs in listings of at most three: the window was halved until each fitted,
    # and listings of three followed the Link header to a second page.
    created = {r.query["created"] for r in fake_github.requests_to("GET", RUNS)}
    assert len(created) > 3
    assert any(r.query.get("page") == "2" for r in fake_github.requests_to("GET", RUNS))
    assert all(r.status == 200 for r in fake_github.requests)
    assert "octo/widgets: done, 8 runs, 9 jobs, 9 new task runs" in progress


async def test_running_it_twice_stores_nothing_new(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    jobs = add_history(fake_github, REPOSITORY, days=5)
    await run_backfill(db, access)
    before = await db.fetchval("SELECT count(*) FROM task_runs")
    cursor = await db.fetchrow("SELECT * FROM backfill_cursors")
    assert cursor["walked_until"] == NOW

    # Again: it resumes at the cursor, where there is nothing new.
    requests = len(fake_github.requests)
    again, _, _ = await run_backfill(db, access)
    assert (again.runs, again.task_runs, again.queue_times) == (0, 0, 0)
    assert len(fake_github.requests) - requests <= 2  # /rate_limit and one empty listing

    # Even from scratch (cursor gone) it only finds what it already has.
    await db.execute("DELETE FROM backfill_cursors")
    scratch, _, _ = await run_backfill(db, access)
    assert (scratch.runs, scratch.task_runs, scratch.queue_times) == (5, 0, 0)
    assert scratch.known_task_runs == jobs
    assert await db.fetchval("SELECT count(*) FROM task_runs") == before


async def test_a_rate_limit_mid_way_is_waited_out_not_fatal(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    jobs = add_history(fake_github, REPOSITORY, days=6)
    reset = int(NOW.timestamp()) + 1800
    # The second page of a runs listing is refused: primary limit spent until `reset`.
    fake_github.rate_limit_once(RUNS, reset=reset, page="2")
    with capture_logs() as logs:
        counts, sleeps, progress = await run_backfill(db, access)

    assert sleeps == [1801.0]  # until GitHub's reset, plus a second of slack
    assert counts.rate_limit_waits == 1
    [waited] = [e for e in logs if e["event"].startswith("GitHub rate limit reached")]
    assert waited["log_level"] == "warning"
    assert waited["wait_s"] == 1801.0
    assert waited["reset_at"] == "2026-06-01T00:30:01+00:00"
    assert "GitHub rate limit reached; waiting 1801 s" in progress
    # Everything stored, and the refused page asked for again, not the pages before it.
    assert counts.task_runs == jobs
    refused = [r for r in fake_github.requests_to("GET", RUNS) if r.status == 403]
    [refused_request] = refused
    same_listing = [
        r
        for r in fake_github.requests_to("GET", RUNS)
        if r.query.get("created") == refused_request.query["created"]
    ]
    assert [(r.query.get("page", "1"), r.status) for r in same_listing] == [
        ("1", 200),
        ("2", 403),
        ("2", 200),
    ]


async def test_a_spent_rate_limit_is_waited_for_before_starting(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    jobs = add_history(fake_github, REPOSITORY, days=2)
    fake_github.rate_limit_remaining = 3
    fake_github.rate_limit_reset = NOW.timestamp() + 600
    counts, sleeps, _ = await run_backfill(db, access)
    assert sleeps == [601.0]
    assert counts.task_runs == jobs
    first_two = [r.path for r in fake_github.requests[:2]]
    assert first_two == ["/rate_limit", RUNS]


async def test_an_interrupted_backfill_resumes_from_its_cursor(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    jobs = add_history(fake_github, REPOSITORY, days=8)
    # GitHub keeps failing on the jobs of the run of three days ago: retried, then given
    # up, in the second window of runs (the first, older one is done).
    fake_github.fail("GET", f"{RUNS}/102/jobs", 502, times=1000)
    first, sleeps, progress = await run_backfill(db, access)
    assert first.failed_repositories == 1
    # The service's retry policy: growing waits, jittered, within its budget.
    assert len(sleeps) >= 5
    assert all(0 < wait <= BACKOFF_CAP_S for wait in sleeps)
    assert sleeps[1] > sleeps[0]
    assert sum(sleeps) <= DEFAULT_BUDGET_S
    fake_github.recover()
    assert "run it again to resume where it stopped" in progress
    cursor = await db.fetchrow("SELECT walked_from, walked_until FROM backfill_cursors")
    assert cursor["walked_from"] == NOW - timedelta(days=10)
    assert NOW - timedelta(days=10) < cursor["walked_until"] < NOW - timedelta(days=2)
    stored_first = await db.fetchval("SELECT count(*) FROM task_runs")
    assert 0 < stored_first < jobs

    requests_before = len(fake_github.requests)
    second, _, _ = await run_backfill(db, access)
    assert second.failed_repositories == 0
    assert await db.fetchval("SELECT count(*) FROM task_runs") == jobs
    # It started at the cursor: no listing of the second run reached back before it.
    resumed = fake_github.requests[requests_before:]
    lower_bounds = {
        r.query["created"].split("..")[0]
        for r in resumed
        if r.path == RUNS and "created" in r.query
    }
    assert min(lower_bounds) == cursor["walked_until"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert second.task_runs + stored_first == jobs


async def test_an_unfinished_run_holds_the_cursor_for_next_time(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    add_history(fake_github, REPOSITORY, days=3)
    created = NOW - timedelta(hours=5)
    running = workflow_run(900, REPOSITORY, created, status="in_progress")
    fake_github.actions.add_run(REPOSITORY, running, [])
    counts, _, _ = await run_backfill(db, access)
    assert counts.unfinished_runs == 1
    assert await db.fetchval("SELECT walked_until FROM backfill_cursors") == created

    finished = workflow_run(900, REPOSITORY, created)
    fake_github.actions.add_run(REPOSITORY, finished, [workflow_job(9001, finished)])
    again, _, _ = await run_backfill(db, access)
    assert (again.unfinished_runs, again.task_runs) == (0, 1)
    assert await db.fetchval("SELECT walked_until FROM backfill_cursors") == NOW


async def test_runs_of_forks_and_non_matching_steps(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    fork_run = workflow_run(
        1, REPOSITORY, NOW - timedelta(days=1), head_repository="someone/widgets",
        event="pull_request",
    )  # fmt: skip
    fake_github.actions.add_run(REPOSITORY, fork_run, [workflow_job(11, fork_run)])
    other = workflow_run(2, REPOSITORY, NOW - timedelta(days=2))
    fake_github.actions.add_run(
        REPOSITORY,
        other,
        [workflow_job(21, other, steps=(("Build", "success"), ("Test", "failure")))],
    )
    counts, _, _ = await run_backfill(db, access)
    assert (counts.jobs, counts.task_runs, counts.queue_times) == (2, 1, 2)
    row = await db.fetchrow("SELECT ref, head_ref, event_name, run_id FROM task_runs")
    # A fork's `main` is not ours: no ref, so it never joins the default branch's baseline.
    assert tuple(row) == (None, "main", "pull_request", 1)


async def test_all_installed_walks_every_repository_of_every_installation(
    db: asyncpg.Connection, fake_github: FakeGitHub, app_private_key: str, deploy: None
) -> None:
    installed = [("octo/a", 7, 100), ("octo/b", 7, 200), ("other/c", 8, 300)]
    for repository, installation, first_run_id in installed:
        fake_github.add_repository(repository, installation_id=installation)
        add_history(fake_github, repository, days=2, first_id=first_run_id)
    fake_github.add_repository("octo/not-installed")
    access = GitHubAccess(
        api_url=fake_github.url,
        app_id=str(fake_github.app_id),
        private_key=app_private_key,
        per_page=2,
        seconds_between_requests=None,
    )
    stream = io.StringIO()
    counts = await backfill(
        db, access, [], NOW - timedelta(days=5), all_installed=True,
        clock=NOW.timestamp, sleep=Sleeps(), stream=stream,
    )  # fmt: skip
    assert (counts.repositories, counts.failed_repositories) == (3, 0)
    by_repository = await db.fetch(
        "SELECT repository, count(*) FROM task_runs GROUP BY 1 ORDER BY 1"
    )
    # Two runs each, one of them re-run: three jobs.
    assert [tuple(r) for r in by_repository] == [("octo/a", 3), ("octo/b", 3), ("other/c", 3)]
    # One installation token per installation, each used for its own repositories only.
    assert len(fake_github.minted_tokens) == 2
    assert fake_github.requests_to("GET", "/app/installations")


async def test_a_repository_github_does_not_show_is_said_and_skipped(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    add_history(fake_github, REPOSITORY, days=1)
    stream = io.StringIO()
    counts = await backfill(
        db, access, ["octo/missing", REPOSITORY], NOW - timedelta(days=3),
        clock=NOW.timestamp, sleep=Sleeps(), stream=stream,
    )  # fmt: skip
    assert (counts.repositories, counts.failed_repositories, counts.task_runs) == (2, 1, 1)
    assert "octo/missing: stopped: not found" in stream.getvalue()


async def test_steps_the_webhook_already_brought_are_not_stored_again(
    db: asyncpg.Connection, access: GitHubAccess, fake_github: FakeGitHub, deploy: None
) -> None:
    run = workflow_run(1, REPOSITORY, NOW - timedelta(days=1))
    job = workflow_job(11, run)
    fake_github.actions.add_run(REPOSITORY, run, [job])
    definitions = await list_task_definitions(db)
    async with db.transaction():
        delivered = await record_job(
            db, job_from_payload(REPOSITORY, job), definitions, source="job_step"
        )
    assert (delivered.task_runs, delivered.queue_times) == (1, 1)

    counts, _, _ = await run_backfill(db, access)
    assert (counts.jobs, counts.task_runs, counts.known_task_runs, counts.queue_times) == (
        1,
        0,
        1,
        0,
    )
    assert await db.fetchval("SELECT source FROM task_runs") == "job_step"
