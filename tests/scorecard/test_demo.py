"""`heatmeter demo`'s history and its writer: labelled, complete, replaced not duplicated."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import asyncpg
import pytest

from heatmeter import clock
from heatmeter.demo.history import DEMO_INSTALLATION_ID, DEMO_ORG, WEEKS, generate
from heatmeter.demo.store import RealDataPresent, write_demo
from heatmeter.scorecard import queries
from heatmeter.scorecard.filters import ALL_PARAMETERS, parse_filters

from .seed import insert_run

# For the pure generator, which is given its now; stored histories use heatmeter's clock.
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_the_history_has_everything_a_newcomer_should_see() -> None:
    history = generate(NOW)
    runs = history.runs
    assert all(run.repository.startswith(f"{DEMO_ORG}/") for run in runs)
    assert {run.kind for run in runs} == {"scaffolding", "deploy", "provisioning", "other"}
    assert len({run.repository for run in runs}) >= 5
    assert {run.version for run in runs if run.task == "deploy"} == {"v2", "v3"}
    outcomes = Counter(run.outcome for run in runs)
    assert set(outcomes) == {"success", "failure", "timed_out", "cancelled", "skipped"}
    assert any(run.run_attempt == 2 and run.outcome == "success" for run in runs)  # flaky re-run
    weeks = {(NOW - run.started_at).days // 7 for run in runs}
    assert weeks == set(range(WEEKS))
    assert all(run.started_at < NOW for run in runs)
    assert history.open_pull_request is not None
    assert any(run.pull_request for run in runs)
    assert len(history.ratings) >= WEEKS * 4
    assert any(rating.words for rating in history.ratings)
    # Outside the app: a repository that runs tasks without an installation.
    assert {run.repository for run in runs} - set(history.installed)
    assert generate(NOW) == generate(NOW)


async def test_demo_twice_does_not_duplicate(db: asyncpg.Connection) -> None:
    first = await write_demo(db, generate(NOW), force=False)
    counts = await db.fetchrow(
        "SELECT (SELECT count(*) FROM task_runs) AS runs,"
        " (SELECT count(*) FROM installation_repositories) AS installed,"
        " (SELECT count(*) FROM pull_requests) AS prs"
    )
    second = await write_demo(db, generate(NOW), force=False)
    again = await db.fetchrow(
        "SELECT (SELECT count(*) FROM task_runs) AS runs,"
        " (SELECT count(*) FROM installation_repositories) AS installed,"
        " (SELECT count(*) FROM pull_requests) AS prs"
    )
    assert counts == again
    assert counts["runs"] == first.runs == second.runs == second.replaced_runs
    assert counts["prs"] == 1
    assert await db.fetchval("SELECT count(*) FROM happiness") == len(generate(NOW).ratings)
    assert await db.fetchval("SELECT count(DISTINCT version) FROM task_runs") == 2


async def test_demo_refuses_real_data_unless_forced(db: asyncpg.Connection) -> None:
    await insert_run(
        db,
        repository="octo/real",
        task="deploy",
        outcome="success",
        duration_ms=1,
        started_at=NOW,
        run_id=1,
    )
    with pytest.raises(RealDataPresent, match="1 task_runs"):
        await write_demo(db, generate(NOW), force=False)
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 1
    await write_demo(db, generate(NOW), force=True)
    await write_demo(db, generate(NOW), force=True)
    # The real row is untouched; the demo rows are replaced, not doubled.
    assert await db.fetchval("SELECT count(*) FROM task_runs WHERE repository = 'octo/real'") == 1
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 1 + len(generate(NOW).runs)


async def test_the_demo_fills_every_figure_of_the_scorecard(db: asyncpg.Connection) -> None:
    now = clock.now()
    await write_demo(db, generate(now), force=False)
    board = await queries.scorecard(db, parse_filters({}, now, allowed=ALL_PARAMETERS))
    assert len(board.cards) == 4
    for card in board.cards:
        assert card.happiness.enough, card.task
        assert card.success.enough, card.task
        assert card.efficiency.enough, card.task
        assert card.adoption.enough, card.task
    deploy = next(card for card in board.cards if card.task == "deploy")
    # Flaky failures re-run until they pass: more than one attempt per change on average.
    assert deploy.current.attempts_to_first_success > 1
    assert deploy.current.outside_app_repositories == 1
    assert await queries.holds_demo_data(db, DEMO_INSTALLATION_ID)
    detail = await queries.task_detail(
        db, parse_filters({"task": "deploy"}, now, allowed=ALL_PARAMETERS)
    )
    assert {v.version for v in detail.versions} == {"v2", "v3"}
    assert detail.comments
    assert all(comment.words for comment in detail.comments)
    # The rating that names no task counts for the task that ran on its pull request.
    assert any(c.pull_request == 42 and c.author == "mona" for c in detail.comments)
