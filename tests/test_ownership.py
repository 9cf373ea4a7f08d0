"""Which PR owns a run: the rule as a table of cases, then the paths that apply it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.ownership import (
    BASELINE_RUN_CONDITION,
    BY_BRANCH,
    BY_COMMIT,
    BY_EVENT,
    PullRequestFacts,
    RunFacts,
    claim,
    is_baseline,
    owner,
    owning_pull_request,
)

from .conftest import REPORT_SECRET
from .reports import make_report, signed
from .webhooks import payload, webhook_request

HEAD = "a" * 40
OTHER = "b" * 40
# A fixed date is fine here: the rule only compares these moments with each other.
OPENED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PR = PullRequestFacts(
    number=7, head_sha=HEAD, head_ref="feature", base_ref="main", default_branch="main",
    opened_at=OPENED,
)  # fmt: skip
FORK_PR = PullRequestFacts(
    number=8, head_sha=HEAD, head_ref="feature", base_ref="main", same_repository=False
)
RELEASE_PR = PullRequestFacts(
    number=9, head_sha=HEAD, head_ref="feature", base_ref="release/1.x", default_branch="main"
)
CLOSED_PR = PullRequestFacts(
    number=10, head_sha=HEAD, head_ref="feature", base_ref="main", open=False
)
AFTER = OPENED + timedelta(hours=1)
BEFORE = OPENED - timedelta(days=30)

CASES = [
    # (case, run, pr, expected claim)
    ("its event names it", RunFacts(OTHER, "refs/pull/7/merge", "feature", "pull_request", 7),
     PR, BY_EVENT),
    ("its event names another PR", RunFacts(HEAD, "refs/pull/6/merge", "x", "pull_request", 6),
     PR, None),
    ("pull_request_target runs on the base ref but is the PR's",
     RunFacts(OTHER, "refs/heads/main", None, "pull_request_target", 7), PR, BY_EVENT),
    ("a push of its head commit", RunFacts(HEAD, "refs/heads/feature", None, "push"), PR,
     BY_COMMIT),
    ("its head commit on another branch", RunFacts(HEAD, "refs/heads/copy", None, "push"), PR,
     BY_COMMIT),
    ("its head commit pushed to main is baseline", RunFacts(HEAD, "refs/heads/main", None, "push"),
     PR, None),
    ("a fast-forward merge's run on main is baseline",
     RunFacts(HEAD, "refs/heads/main", None, "push", None, AFTER), PR, None),
    ("its head commit on the base branch (not the default) is baseline",
     RunFacts(HEAD, "refs/heads/release/1.x", None, "push"), RELEASE_PR, None),
    ("its head commit on the default branch when the base is another",
     RunFacts(HEAD, "refs/heads/main", None, "push"), RELEASE_PR, None),
    ("an older commit of its head branch", RunFacts(OTHER, "refs/heads/feature", None, "push",
     None, AFTER), PR, BY_BRANCH),
    ("its head branch before the PR was opened",
     RunFacts(OTHER, "refs/heads/feature", None, "push", None, BEFORE), PR, None),
    ("a fork's branch name means nothing", RunFacts(OTHER, "refs/heads/feature", None, "push"),
     FORK_PR, None),
    ("a fork's head commit is still its own", RunFacts(HEAD, "refs/heads/feature", None, "push"),
     FORK_PR, BY_COMMIT),
    ("another branch and commit", RunFacts(OTHER, "refs/heads/other", None, "push"), PR, None),
    ("a closed PR claims nothing by commit", RunFacts(HEAD, "refs/heads/feature", None, "push"),
     CLOSED_PR, None),
    ("a closed PR keeps what its event names",
     RunFacts(OTHER, "refs/pull/10/merge", None, "pull_request", 10), CLOSED_PR, BY_EVENT),
    ("workflow_run: its sha and ref are main's and say nothing",
     RunFacts(HEAD, "refs/heads/main", None, "workflow_run"), PR, None),
    ("workflow_run naming the PR's head branch",
     RunFacts(OTHER, "refs/heads/main", "feature", "workflow_run"), PR, BY_BRANCH),
    ("workflow_run naming main", RunFacts(HEAD, "refs/heads/main", "main", "workflow_run"), PR,
     None),
    ("workflow_run naming a fork's branch",
     RunFacts(OTHER, "refs/heads/main", "feature", "workflow_run"), FORK_PR, None),
    ("a run with nothing to go by", RunFacts(), PR, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("run", "pr", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_rule(run: RunFacts, pr: PullRequestFacts, expected: str | None) -> None:
    assert claim(run, pr) == expected


def test_a_commit_claim_beats_a_branch_claim_then_the_newest_pr_wins() -> None:
    by_branch = PullRequestFacts(number=1, head_sha=OTHER, head_ref="feature", base_ref="main")
    by_commit = PullRequestFacts(number=2, head_sha=HEAD, head_ref="x", base_ref="main")
    newer = PullRequestFacts(number=3, head_sha=HEAD, head_ref="y", base_ref="dev")
    run = RunFacts(HEAD, "refs/heads/feature", None, "push")
    assert owner(run, [by_branch, by_commit]) == 2
    assert owner(run, [newer, by_branch, by_commit]) == 3
    assert owner(run, []) is None
    assert owner(RunFacts(pull_request=5), []) == 5


@pytest.mark.parametrize(
    ("run", "baseline"),
    [
        (RunFacts(HEAD, "refs/heads/main", None, "push"), True),
        (RunFacts(HEAD, "refs/heads/main", None, "schedule"), True),
        (RunFacts(HEAD, "refs/heads/main", None, None), True),
        (RunFacts(HEAD, "refs/heads/main", None, "pull_request_target", 7), False),
        (RunFacts(HEAD, "refs/heads/main", None, "workflow_run"), False),
        (RunFacts(HEAD, "refs/heads/feature", None, "push"), False),
        (RunFacts(HEAD, "refs/pull/7/merge", "feature", "pull_request", 7), False),
    ],
)
async def test_baseline_runs_in_python_and_in_sql_agree(
    db: asyncpg.Connection, run: RunFacts, baseline: bool
) -> None:
    assert is_baseline(run, "main") is baseline
    condition = BASELINE_RUN_CONDITION.format(ref="'refs/heads/main'")
    in_sql = await db.fetchval(
        f"SELECT {condition} FROM (VALUES ($1::text, $2::text, $3::integer))"  # noqa: S608
        " AS t(ref, event_name, pull_request)",
        run.ref,
        run.event_name,
        run.pull_request,
    )
    assert in_sql is baseline


# The paths that apply the rule, on a real database and the real service.

WEBHOOK_SECRET = "test-webhook-secret"


async def report(client: TestClient, **fields) -> None:
    body, headers = signed(make_report(**fields), REPORT_SECRET)
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 202, await response.text()


async def deliver(client: TestClient, event: str, data: dict) -> None:
    body, headers = webhook_request(event, data, WEBHOOK_SECRET)
    response = await client.post("/webhooks/github", data=body, headers=headers)
    assert response.status == 200, await response.text()


def opened_pr() -> tuple[dict, str, dict]:
    opened = payload("pull_request.opened")
    return opened, opened["repository"]["full_name"], opened["pull_request"]


async def owners(db: asyncpg.Connection) -> dict[int, int | None]:
    rows = await db.fetch("SELECT run_id, pull_request FROM task_runs ORDER BY run_id")
    return {r["run_id"]: r["pull_request"] for r in rows}


async def test_a_known_prs_head_commit_on_main_is_not_the_prs(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened, repository, pr = opened_pr()
    await deliver(client, "pull_request", opened)
    head, base = pr["head"], pr["base"]["ref"]
    common = {"repository": repository, "pull_request": None, "sha": head["sha"]}
    await report(client, run_id=1, ref=f"refs/heads/{head['ref']}", event_name="push", **common)
    await report(client, run_id=2, ref=f"refs/heads/{base}", event_name="push", **common)
    assert await owners(db) == {1: pr["number"], 2: None}


async def test_runs_stored_before_the_pr_follow_the_same_rule(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened, repository, pr = opened_pr()
    head, base = pr["head"], pr["base"]["ref"]
    common = {"repository": repository, "pull_request": None, "event_name": "push"}
    await report(client, run_id=1, sha=head["sha"], ref=f"refs/heads/{head['ref']}", **common)
    await report(client, run_id=2, sha=head["sha"], ref=f"refs/heads/{base}", **common)
    await report(client, run_id=3, sha="c" * 40, ref="refs/heads/elsewhere", **common)
    await deliver(client, "pull_request", opened)
    assert await owners(db) == {1: pr["number"], 2: None, 3: None}
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 1


async def test_a_workflow_run_on_the_base_branch_is_not_given_to_the_prs_it_lists(
    client: TestClient, db: asyncpg.Connection
) -> None:
    # The fixture: a run on master whose payload lists PR 2 (changes → master).
    completed = payload("workflow_run.completed.with-pull-requests")
    run = completed["workflow_run"]
    completed["repository"]["id"] = run["pull_requests"][0]["base"]["repo"]["id"]
    repository = completed["repository"]["full_name"]
    await report(client, repository=repository, run_id=run["id"], pull_request=None,
                 ref="refs/heads/master", event_name="push")  # fmt: skip
    await deliver(client, "workflow_run", completed)
    assert await owners(db) == {run["id"]: None}


async def test_a_workflow_run_of_the_prs_head_is_given_to_it(
    client: TestClient, db: asyncpg.Connection
) -> None:
    completed = payload("workflow_run.completed.with-pull-requests")
    run = completed["workflow_run"]
    listed = run["pull_requests"][0]
    completed["repository"]["id"] = listed["base"]["repo"]["id"]
    run.update(head_branch=listed["head"]["ref"], head_sha=listed["head"]["sha"], event="push")
    repository = completed["repository"]["full_name"]
    await report(client, repository=repository, run_id=run["id"], pull_request=None,
                 ref=f"refs/heads/{listed['head']['ref']}", sha=listed["head"]["sha"])  # fmt: skip
    await deliver(client, "workflow_run", completed)
    assert await owners(db) == {run["id"]: listed["number"]}
    outbox = await db.fetch("SELECT repository, pull_request FROM comment_outbox")
    assert [tuple(r) for r in outbox] == [(repository, listed["number"])]


async def test_owning_pull_request_for_other_callers(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened, repository, pr = opened_pr()
    await deliver(client, "pull_request", opened)
    head = pr["head"]

    async def ask(**facts) -> int | None:
        base = {"sha": None, "ref": None, "head_ref": None, "event_name": None,
                "pull_request": None}  # fmt: skip
        return await owning_pull_request(db, repository, **{**base, **facts})

    # A workflow_job's head_sha and head_branch, as issue 13's job steps will ask.
    assert await ask(sha=head["sha"], ref=f"refs/heads/{head['ref']}") == pr["number"]
    assert await ask(sha=head["sha"], ref="refs/heads/master") is None
    assert await ask(ref=f"refs/heads/{head['ref']}", event_name="push") == pr["number"]
    assert await ask(sha="d" * 40, ref="refs/heads/master", event_name="workflow_run") is None
    assert (
        await ask(ref="refs/heads/master", head_ref=head["ref"], event_name="workflow_run")
        == (pr["number"])
    )
    assert await ask(pull_request=99) == 99
    assert await ask() is None


async def test_migration_008_gives_default_branch_runs_back_to_the_branch(
    client: TestClient, db: asyncpg.Connection
) -> None:
    opened, repository, pr = opened_pr()
    await deliver(client, "pull_request", opened)
    common = {"repository": repository, "pull_request": pr["number"], "sha": pr["head"]["sha"]}
    # As the old rule stored them: a push to master given to the PR, beside the PR's own.
    await report(client, run_id=1, ref="refs/heads/master", event_name="push", **common)
    await report(client, run_id=2, ref="refs/pull/2/merge", event_name="pull_request", **common)
    await report(client, run_id=3, ref="refs/heads/master", event_name="pull_request_target",
                 **common)  # fmt: skip
    migration = Path(__file__).parents[1] / "sql" / "008_figures.sql"
    # Its data fix, run again (the view it replaces is a snapshot's since sql/012).
    fix = migration.read_text()
    await db.execute(fix[fix.index("UPDATE task_runs AS t") :])
    assert await owners(db) == {1: None, 2: pr["number"], 3: pr["number"]}
