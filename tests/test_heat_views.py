"""The HEAT scorecard views (007) against figures worked out by hand, and their roll-ups."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from .heat_seed import at, insert_runs, install, seed_scorecard

approx = pytest.approx


async def utc_today(db: asyncpg.Connection) -> date:
    return await db.fetchval("SELECT heat_day(heatmeter_now())")


async def refreshed(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT heat_refresh_rollups()") is not None


async def test_the_scorecard_shows_the_hand_worked_figures(db: asyncpg.Connection) -> None:
    today = await utc_today(db)
    await seed_scorecard(db, today)
    await refreshed(db)
    rows = {row["task"]: row for row in await db.fetch("SELECT * FROM heat_scorecard")}
    assert set(rows) == {"deploy", "scaffold"}
    deploy = rows["deploy"]
    assert (deploy["since"], deploy["through"]) == (today - timedelta(days=27), today)
    assert deploy["kind"] == "deploy"
    outcomes = ("success", "failure", "timed_out", "cancelled", "skipped", "unfinished")
    assert [deploy[name] for name in outcomes] == [6, 2, 1, 1, 1, 1]
    assert (deploy["runs"], deploy["runs_before"], deploy["runs_change"]) == (12, 4, 8)
    assert float(deploy["success_rate"]) == 0.6667
    assert float(deploy["success_rate_before"]) == 0.5
    assert float(deploy["success_rate_change"]) == 0.1667
    assert deploy["timed_runs"] == 8
    assert deploy["p50_ms"] == approx(27_500)
    assert deploy["p90_ms"] == approx(53_000)
    assert deploy["p50_ms_before"] == approx(150_000)
    assert deploy["p90_ms_before"] == approx(270_000)
    assert float(deploy["p50_change_pct"]) == -81.7
    assert float(deploy["p90_change_pct"]) == -80.4
    assert deploy["first_successes"] == 6
    assert float(deploy["attempts_to_first_success"]) == 1.5
    assert float(deploy["attempts_to_first_success_before"]) == 2.0
    assert float(deploy["attempts_to_first_success_change"]) == -0.5
    assert (deploy["repositories"], deploy["adopting_repositories"]) == (5, 3)
    assert (deploy["outside_app_repositories"], deploy["installed_repositories"]) == (2, 4)
    assert float(deploy["adoption_share"]) == 0.75
    assert float(deploy["adoption_share_before"]) == 0.25
    assert float(deploy["adoption_share_change"]) == 0.5
    assert float(deploy["happiness_mean"]) == 3.0
    assert float(deploy["happiness_mean_before"]) == 5.0
    assert float(deploy["happiness_mean_change"]) == -2.0
    assert (deploy["happiness_responses"], deploy["happiness_responses_before"]) == (2, 1)

    scaffold = rows["scaffold"]
    assert (scaffold["kind"], scaffold["runs"], scaffold["runs_before"]) == ("scaffolding", 1, 0)
    assert float(scaffold["success_rate"]) == 1.0
    assert scaffold["success_rate_before"] is None
    assert scaffold["p50_ms"] == approx(3_000)
    assert float(scaffold["adoption_share"]) == 0.25
    assert scaffold["happiness_mean"] is None


async def test_adoption_never_counts_repositories_outside_the_app(
    db: asyncpg.Connection,
) -> None:
    await seed_scorecard(db, await utc_today(db))
    await refreshed(db)
    adoption = {row["task"]: row for row in await db.fetch("SELECT * FROM task_adoption")}
    deploy = adoption["deploy"]
    assert (deploy["adopting_repositories"], deploy["installed_repositories"]) == (3, 4)
    assert (deploy["outside_app_repositories"], deploy["repositories"]) == (2, 5)
    assert float(deploy["adoption_share"]) == 0.75
    assert all(row["adoption_share"] <= 1 for row in adoption.values())

    outside = await db.fetch("SELECT * FROM heat_outside_app ORDER BY repository_key")
    assert [(r["repository_key"], r["tasks"], r["runs"]) for r in outside] == [
        ("hmac/only", ["deploy"], 1),
        ("octo/delta", ["deploy"], 1),
    ]
    installed = await db.fetch("SELECT repository_key FROM heat_installed_repositories")
    assert sorted(r["repository_key"] for r in installed) == [
        "octo/alpha", "octo/beta", "octo/gamma", "octo/idle",
    ]  # fmt: skip


async def test_versions_show_a_rollout(db: asyncpg.Connection) -> None:
    await seed_scorecard(db, await utc_today(db))
    await refreshed(db)
    rows = {
        row["version"]: row
        for row in await db.fetch("SELECT * FROM heat_versions WHERE task = 'deploy'")
    }
    assert set(rows) == {"v1", "v2", None}
    v1, v2, unversioned = rows["v1"], rows["v2"], rows[None]
    assert (v1["runs"], v1["success"], v1["failure"]) == (3, 2, 1)
    assert float(v1["success_rate"]) == 0.6667
    assert v1["p50_ms"] == approx(15_000)
    assert (v1["repositories"], v1["adopting_repositories"]) == (2, 1)
    assert float(v1["repositories_share"]) == 0.4
    assert (v2["runs"], v2["cancelled"], v2["skipped"]) == (7, 1, 1)
    assert float(v2["success_rate"]) == 0.6
    assert v2["p50_ms"] == approx(45_000)
    assert (v2["repositories"], v2["adopting_repositories"]) == (2, 2)
    assert (unversioned["runs"], unversioned["unfinished"]) == (2, 1)
    assert unversioned["p50_ms"] == approx(25_000)


async def test_weekly_figures_follow_iso_weeks(db: asyncpg.Connection) -> None:
    await install(db, 1, "octo/a", "octo/b")
    monday = date(2025, 3, 3)  # ISO week 2025-W10
    sunday = monday + timedelta(days=6)
    await insert_runs(
        db,
        [
            ("octo/a", "deploy", "v1", "failure", 10_000, at(monday, 9), "a" * 40, 1, "report"),
            ("octo/a", "deploy", "v1", "success", 20_000, at(sunday, 23), "a" * 40, 1, "report"),
            ("octo/b", "deploy", "v1", "cancelled", 1_000, at(sunday, 1), "b" * 40, 2, "report"),
            # W11: a success whose PR failed the week before counts its attempts there.
            ("octo/b", "deploy", "v2", "success", 40_000, at(sunday, 1) + timedelta(days=1),
             "b" * 40, 2, "report"),
        ],
    )  # fmt: skip
    await db.execute(
        "INSERT INTO happiness (comment_id, repository, pull_request, author, task, score,"
        " created_at, updated_at) VALUES (1, 'octo/a', 1, 'mona', NULL, 4, $1, $1)",
        at(sunday, 12),
    )
    await refreshed(db)
    weeks = await db.fetch("SELECT * FROM heat_weekly WHERE task = 'deploy' ORDER BY week")
    assert [(w["week"], w["iso_week"]) for w in weeks] == [
        (monday, "2025-W10"), (monday + timedelta(days=7), "2025-W11"),
    ]  # fmt: skip
    w10, w11 = weeks
    assert (w10["runs"], w10["success"], w10["failure"], w10["cancelled"]) == (3, 1, 1, 1)
    assert float(w10["success_rate"]) == 0.5
    assert w10["p50_ms"] == approx(15_000)
    assert float(w10["attempts_to_first_success"]) == 2.0
    assert (w10["repositories"], float(w10["adoption_share"])) == (2, 1.0)
    assert (float(w10["happiness_mean"]), w10["happiness_responses"]) == (4.0, 1)
    # PR 2: cancelled on Sunday, passed on Monday: two attempts.
    assert (w11["runs"], float(w11["attempts_to_first_success"])) == (1, 2.0)
    assert (w11["repositories"], float(w11["adoption_share"])) == (1, 0.5)
    assert w11["happiness_responses"] == 0


async def test_figures_for_one_repository_by_any_of_its_names(db: asyncpg.Connection) -> None:
    today = await utc_today(db)
    await seed_scorecard(db, today)
    await db.execute(
        "INSERT INTO repository_renames (old_key, new_key) VALUES ('octo/beta', 'octo/b')"
    )
    await db.execute("UPDATE installation_repositories SET repository = 'octo/b' "
                     "WHERE repository = 'octo/beta'")  # fmt: skip
    await refreshed(db)
    [beta] = await db.fetch(
        "SELECT * FROM heat_figures($1, $2, only_repository => 'Octo/B') WHERE task = 'deploy'",
        today - timedelta(days=27),
        today + timedelta(days=1),
    )
    # OCTO/BETA's and octo/beta's runs, now octo/b's: 6 runs, 2 of 4 decisive succeeded.
    assert (beta["runs"], beta["success"], beta["timed_out"], beta["skipped"]) == (6, 2, 1, 1)
    assert beta["p50_ms"] == approx(50_000)  # 40, 50, 60 s; the job-closed run has none
    assert (beta["repositories"], beta["installed_repositories"]) == (1, 1)
    assert float(beta["adoption_share"]) == 1.0

    rows = await db.fetch(
        "SELECT task FROM heat_figures($1, $2, only_kind => 'scaffolding')",
        today - timedelta(days=27),
        today + timedelta(days=1),
    )
    assert [r["task"] for r in rows] == ["scaffold"]


async def test_a_late_change_to_an_old_run_reaches_every_day_it_touches(
    db: asyncpg.Connection,
) -> None:
    today = await utc_today(db)
    await seed_scorecard(db, today)
    await db.execute("UPDATE task_runs SET updated_at = now() - interval '1 hour'")
    await refreshed(db)
    # PR 11's oldest failure (run 15) turns out to have succeeded (a late finish report):
    # its first success moves from 31 days ago (third attempt) to 33 days ago (first).
    await db.execute(
        "UPDATE task_runs SET outcome = 'success', updated_at = now() WHERE run_id = 15"
    )
    # Its own day, and the days of PR 11's later runs: 32 and 31 days ago.
    assert await db.fetchval("SELECT heat_refresh_rollups()") == 3
    before = await db.fetchrow(
        "SELECT attempts_to_first_success_before AS attempts, success_rate_before AS rate "
        "FROM heat_scorecard WHERE task = 'deploy'"
    )
    assert (float(before["attempts"]), float(before["rate"])) == (1.0, 0.75)

    incremental = await db.fetch("SELECT * FROM task_daily ORDER BY day, task, version")
    await db.execute("SELECT heat_refresh_rollups(rebuild => true)")
    assert await db.fetch("SELECT * FROM task_daily ORDER BY day, task, version") == incremental


async def test_a_refresh_finds_nothing_to_do_once_caught_up(
    db: asyncpg.Connection, database_url: str
) -> None:
    await seed_scorecard(db, await utc_today(db))
    await db.execute("UPDATE task_runs SET updated_at = now() - interval '1 hour'")
    # The first refresh builds every (day, repository, task) cell; the next has none to do.
    assert await db.fetchval("SELECT heat_refresh_rollups()") == 12
    assert await db.fetchval("SELECT heat_refresh_rollups()") == 0

    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock(7522537965574564972)")
            # Another replica is refreshing: this one skips rather than waits.
            assert await db.fetchval("SELECT heat_refresh_rollups()") is None
    finally:
        await other.close()


async def test_digest_percentiles_stay_within_two_percent(db: asyncpg.Connection) -> None:
    rng = random.Random(7)
    # A fixed date: task_daily keeps every day, and no window is read here.
    started = datetime(2025, 1, 6, tzinfo=UTC)
    runs = [
        ("octo/a", "deploy", None, "success", int(rng.lognormvariate(11, 0.6)),
         started + timedelta(hours=i % 300), f"{i:040x}", None, "report")
        for i in range(2_000)
    ]  # fmt: skip
    await insert_runs(db, runs)
    await refreshed(db)
    exact = await db.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms) AS p90 FROM task_runs"
    )
    digest = await db.fetchrow(
        "SELECT p50_ms, p90_ms FROM heat_figures('2025-01-01', '2025-02-01') WHERE task = 'deploy'"
    )
    assert digest["p50_ms"] == approx(exact["p50"], rel=0.02)
    assert digest["p90_ms"] == approx(exact["p90"], rel=0.02)
    buckets = await db.fetchval("SELECT max(cardinality(duration_buckets)) FROM task_daily")
    assert buckets < 200  # a day's digest stays small however many runs it holds
