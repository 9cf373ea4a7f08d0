"""workflow_job completed webhooks: matching steps become task runs; queue times by label."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from gidgethub import sansio

from heatmeter import webhooks
from heatmeter.jobs.model import job_from_payload
from heatmeter.jobs.store import record_job
from heatmeter.reports.schema import parse_report
from heatmeter.reports.trust import Reporter
from heatmeter.reports.upsert import store_reports
from heatmeter.tasks.definitions import define_task
from heatmeter.tasks.store import add_task_definition, list_task_definitions

from .reports import make_report
from .support.clock import ago, iso, start_of_day
from .test_webhooks import START, completed_job, deliver, report
from .webhooks import payload, workflow_run_payload

FIXTURE = "workflow_job.completed.success.with-organization"
REPOSITORY = "Codertocat/Hello-World"  # the fixture's repository
RUNNER = "GitHub Actions 5"  # the fixture's runner
SHA = "3484a3fb816e0859fd6e1cea078d76385ff50625"  # the fixture's head commit
HMAC = Reporter("hmac")

STEP_ROWS = """
SELECT task, kind, job, step_id, outcome, duration_ms, source, auth_method, closed_by, job_id,
       pull_request, ref, sha
FROM task_runs WHERE source <> 'action' ORDER BY step_id, task
"""


def job_payload(**changes) -> dict:
    data = payload(FIXTURE)
    data["workflow_job"].update(changes)
    return data


def pushed_run(**changes) -> dict:
    """The workflow_run webhook of the fixture job's run: a push to this repository."""
    return workflow_run_payload(job_payload()["repository"], 2202229078, **changes)


async def define(db: asyncpg.Connection, name: str, **kwargs) -> None:
    await add_task_definition(db, define_task(name, **kwargs))


async def test_matching_steps_are_stored_as_task_runs_once(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define(db, "lint", kind="other", step="Run *")
    await define(db, "audit", kind="other", step=r"Run (Bundle )?Audit", regex=True)
    await define(db, "deploy", kind="deploy", step="Deploy to *")  # matches nothing here
    # The run's own webhook says it is a push to this repository (tests/jobs/ show why).
    await deliver(client, "workflow_run", pushed_run())

    status, _ = await deliver(client, "workflow_job", job_payload())
    assert status == 200
    rows = [dict(r) for r in await db.fetch(STEP_ROWS)]
    assert [(r["task"], r["step_id"], r["duration_ms"]) for r in rows] == [
        ("lint", "job:289782451/step:4", 6000),
        ("lint", "job:289782451/step:5", 4000),
        ("audit", "job:289782451/step:6", 1000),
        ("lint", "job:289782451/step:6", 1000),
    ]
    assert {
        (r["source"], r["auth_method"], r["closed_by"], r["job_id"], r["outcome"], r["job"])
        for r in rows
    } == {("job_step", "webhook", "job_step", 289782451, "success", "linters")}
    # A push to main: the default branch's own run, attached to no PR.
    assert {(r["pull_request"], r["ref"], r["sha"]) for r in rows} == {
        (None, "refs/heads/main", SHA)
    }

    # Redelivered (a new delivery id, as a manual redelivery has): nothing new.
    await deliver(client, "workflow_job", job_payload())
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 4
    assert await db.fetchval("SELECT count(*) FROM job_queue_times") == 1


async def test_without_definitions_only_the_queue_time_is_kept(
    client: TestClient, db: asyncpg.Connection
) -> None:
    status, _ = await deliver(client, "workflow_job", job_payload())
    assert status == 200
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0
    row = await db.fetchrow("SELECT * FROM job_queue_times")
    assert (row["queue_ms"], row["self_hosted"]) == (60_000, False)
    assert row["labels"] == ["ubuntu-latest"]
    assert (row["job"], row["workflow"], row["source"]) == ("linters", "CodeQL", "webhook")


@pytest.mark.parametrize("order", ["action first", "step first"])
async def test_a_step_the_action_also_reported_counts_once(
    client: TestClient, db: asyncpg.Connection, order: str
) -> None:
    await define(db, "lint", kind="other", step="Run Rubocop")
    # The action timed the same task in the same job; its job key differs from the job's
    # display name (as in a matrix), so the runner and the job's time tell it is the job.
    action = {
        "repository": REPOSITORY, "run_id": 2202229078, "task": "lint", "kind": "other",
        "job": "lint-matrix", "runner_name": RUNNER, "pull_request": None,
        "started_at": "2021-08-05T10:35:00+00:00", "finished_at": "2021-08-05T10:35:05+00:00",
        "duration_ms": 5000,
    }  # fmt: skip
    if order == "action first":
        await report(client, **action)
        await deliver(client, "workflow_job", job_payload())
    else:
        await deliver(client, "workflow_job", job_payload())
        assert await db.fetchval("SELECT count(*) FROM task_runs") == 1
        await report(client, **action)
    rows = await db.fetch("SELECT source, duration_ms FROM task_runs")
    assert [tuple(r) for r in rows] == [("action", 5000)]


async def test_the_action_in_another_job_does_not_hide_a_step(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await define(db, "lint", kind="other", step="Run Rubocop")
    # Same run, same task, same runner, but an hour after this job ended: another job.
    await report(
        client, repository=REPOSITORY, run_id=2202229078, task="lint", job="later",
        runner_name=RUNNER, started_at="2021-08-05T11:40:00+00:00",
        finished_at="2021-08-05T11:40:05+00:00", duration_ms=5000, pull_request=None,
    )  # fmt: skip
    await deliver(client, "workflow_job", job_payload())
    sources = sorted(r["source"] for r in await db.fetch("SELECT source FROM task_runs"))
    assert sources == ["action", "job_step"]


async def test_same_repository_pr_owns_its_branch_runs_and_gets_a_comment(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened = payload("pull_request.opened")  # Codertocat/Hello-World#2, branch "changes"
    await deliver(client, "pull_request", opened)
    await db.execute("DELETE FROM comment_outbox")
    await define(db, "lint", kind="other", step="Run Rubocop")

    await deliver(client, "workflow_job", job_payload(head_branch="changes"))
    row = await db.fetchrow("SELECT pull_request, ref FROM task_runs")
    assert tuple(row) == (2, "refs/heads/changes")
    outbox = await db.fetch("SELECT repository, pull_request FROM comment_outbox")
    assert [tuple(r) for r in outbox] == [(REPOSITORY, 2)]


async def test_a_fork_pr_owns_runs_of_its_commit_whatever_its_branch_is_called(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened = payload("pull_request.opened")
    fork_head = opened["pull_request"]["head"]
    fork_head["repo"] = {**fork_head["repo"], "full_name": "someone/Hello-World", "id": 1}
    fork_head["ref"] = "main"  # the fork's own main, not ours
    await deliver(client, "pull_request", opened)
    await define(db, "lint", kind="other", step="Run Rubocop")

    await deliver(
        client, "workflow_job", job_payload(head_sha=fork_head["sha"], head_branch="main")
    )
    row = await db.fetchrow("SELECT pull_request, ref, head_ref, auth_method FROM task_runs")
    # No `ref`: a fork's main must not pass for our default branch's baseline.
    assert tuple(row) == (2, None, "main", "webhook")
    assert await db.fetchval("SELECT pull_request FROM comment_outbox") == 2


async def test_queue_times_by_task_and_label(client: TestClient, db: asyncpg.Connection) -> None:
    await define(db, "lint", kind="other", step="Run Rubocop")
    # Inside the views' 28 days, whatever the date.
    created = start_of_day(ago(days=1))

    def job(job_id: int, labels: list[str], runner: str, group: str, queued_min: int) -> dict:
        def at(minutes: int) -> str:
            return iso(created + timedelta(minutes=minutes))

        return job_payload(
            id=job_id, run_id=job_id, labels=labels, runner_name=runner, runner_group_name=group,
            created_at=at(0), started_at=at(queued_min), completed_at=at(queued_min + 5),
        )  # fmt: skip

    hosted = ["ubuntu-latest"]
    own = ["self-hosted", "linux"]
    jobs = [
        job(1, hosted, "GitHub Actions 1", "GitHub Actions", 1),
        job(2, hosted, "GitHub Actions 2", "GitHub Actions", 3),
        job(3, own, "build-01", "Default", 10),
        job(4, own, "build-02", "Default", 20),
        job(5, own, "build-03", "Default", 30),
    ]
    # A job without the task counts for the runners, not for the task.
    without_task = job(6, own, "build-04", "Default", 40)
    without_task["workflow_job"]["steps"] = []
    for data in [*jobs, without_task]:
        status, _ = await deliver(client, "workflow_job", data)
        assert status == 200

    rows = {
        (r["label"], r["self_hosted"]): r
        for r in await db.fetch("SELECT * FROM task_queue_times WHERE task = 'lint'")
    }
    assert set(rows) == {("ubuntu-latest", False), ("self-hosted", True), ("linux", True)}
    assert rows["ubuntu-latest", False]["jobs"] == 2
    assert rows["ubuntu-latest", False]["p50_queue_ms"] == 120_000
    assert rows["linux", True]["jobs"] == 3
    assert rows["linux", True]["p50_queue_ms"] == 1_200_000
    assert rows["linux", True]["p90_queue_ms"] == pytest.approx(1_680_000)

    runners = {
        r["label"]: r for r in await db.fetch("SELECT * FROM runner_queue_times WHERE self_hosted")
    }
    assert runners["linux"]["jobs"] == 4
    assert runners["linux"]["p50_queue_ms"] == 1_500_000


async def test_a_default_branch_run_of_a_prs_head_commit_stays_baseline(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened = payload("pull_request.opened")  # into master, from branch "changes"
    await deliver(client, "pull_request", opened)
    await define(db, "lint", kind="other", step="Run Rubocop")
    head = opened["pull_request"]["head"]["sha"]
    # The PR's head pushed to master (a fast-forward merge): master's history, not the PR's.
    await deliver(client, "workflow_run", pushed_run(head_sha=head, head_branch="master"))
    await deliver(client, "workflow_job", job_payload(head_sha=head, head_branch="master"))
    row = await db.fetchrow("SELECT pull_request, ref FROM task_runs")
    assert tuple(row) == (None, "refs/heads/master")


async def _running_in_pg_lock_wait(db: asyncpg.Connection, pid: int) -> None:
    """Return once backend ``pid`` waits for a lock: an observed state, not a guess of time."""
    for _ in range(2000):
        waiting = await db.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the second transaction never waited for the first")


@pytest.mark.parametrize("first", ["action", "job_step"])
async def test_an_action_report_and_a_job_step_in_flight_together_count_once(
    database_url: str, db: asyncpg.Connection, first: str
) -> None:
    """Two transactions at once, each unaware of the other's uncommitted row: the lock per
    run attempt makes the second wait, then see the first's row."""
    await define(db, "lint", kind="other", step="Run Rubocop")
    job = job_from_payload(REPOSITORY, job_payload()["workflow_job"])
    body = make_report(
        repository=REPOSITORY, run_id=job.run_id, task="lint", kind="other", job="lint",
        runner_name=RUNNER, pull_request=None, started_at="2021-08-05T10:35:00+00:00",
        finished_at="2021-08-05T10:35:05+00:00", duration_ms=5000,
    )  # fmt: skip
    # The job of the 2021 fixture payload.
    report = parse_report(body, now=datetime(2021, 8, 6, tzinfo=UTC))
    definitions = await list_task_definitions(db)

    async def step_row(conn: asyncpg.Connection) -> None:
        await record_job(conn, job, definitions, source="job_step")

    async def action_row(conn: asyncpg.Connection) -> None:
        await store_reports(conn, [(report, json.dumps(body), HMAC)])

    write = {"action": action_row, "job_step": step_row}
    second = "job_step" if first == "action" else "action"
    one, two = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        holding = one.transaction()
        await holding.start()
        await write[first](one)
        waiting = asyncio.create_task(_in_transaction(two, write[second]))
        await _running_in_pg_lock_wait(db, two.get_server_pid())
        await holding.commit()
        await waiting
    finally:
        await one.close()
        await two.close()
    rows = await db.fetch("SELECT source FROM task_runs")
    assert [r["source"] for r in rows] == ["action"]


async def _in_transaction(conn: asyncpg.Connection, write) -> None:
    async with conn.transaction():
        await write(conn)


async def test_reports_never_wait_for_each_other_and_batches_hold_bounded_locks(
    database_url: str, db: asyncpg.Connection
) -> None:
    await define(db, "lint", kind="other", step="Run Rubocop")
    # No PR, so no comment request: two reports on one PR share its outbox row, whose
    # upsert waits by design; what is tested here is the run attempt's lock alone.
    fields = {
        "repository": REPOSITORY, "run_id": 7, "task": "lint", "kind": "other",
        "pull_request": None, "sha": None, "ref": None,
    }  # fmt: skip
    first, second = (make_report(**fields, step=step) for step in "ab")

    async def store(conn: asyncpg.Connection, body: dict) -> None:
        await store_reports(conn, [(parse_report(body), json.dumps(body), HMAC)])

    one, two = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        async with one.transaction():
            await store(one, first)
            # Same run attempt, first still uncommitted: the shared lock lets it through
            # (the timeout only turns a hang into a failure).
            await asyncio.wait_for(store(two, second), timeout=30)
    finally:
        await one.close()
        await two.close()
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 2

    # One transaction storing thousands of reports of distinct run attempts holds at most
    # 1,024 locks (one per bucket), well inside Postgres's lock table.
    await db.execute(
        """
        INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind,
                               step_id, started_at, auth_method)
        SELECT 'org/r' || (g % 100), 'CI', g, 1, 'lint', 'lint', 'other', 's',
               heatmeter_now(), 'hmac'
        FROM generate_series(1000, 8999) AS g
        """
    )
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 8002


async def test_a_finished_job_closes_what_it_left_open_and_records_its_steps_in_one_handler(
    client: TestClient, db: asyncpg.Connection
) -> None:
    # One handler: gidgethub's Router keeps handlers in a set, so two handlers of one
    # event would run in an order nobody chose.
    completed, in_the_job = completed_job("failure")
    event = sansio.Event(completed, event="workflow_job", delivery_id="1")
    assert len(webhooks.router.fetch(event)) == 1

    await define(db, "lint", kind="other", step="Run Rubocop")
    await define(db, "audit", kind="other", step="Run Bundle Audit")
    # The action started two tasks in this job and finished neither: one of them is also
    # a step the definitions match, where the action's run wins.
    await report(client, **in_the_job, **START, task="deploy", step="deploy-1")
    await report(client, **in_the_job, **START, task="lint", kind="other", step="lint-1")

    status, _ = await deliver(client, "workflow_job", completed)
    assert status == 200
    rows = await db.fetch(
        "SELECT task, source, outcome, closed_by FROM task_runs ORDER BY task, source"
    )
    assert [tuple(r) for r in rows] == [
        ("audit", "job_step", "success", "job_step"),
        ("deploy", "action", "failure", "workflow_job"),
        ("lint", "action", "failure", "workflow_job"),
    ]
