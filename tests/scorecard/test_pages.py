"""The scorecard page and the task page, read from their HTML against hand-worked figures."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from heatmeter import clock

from .html import body_classes, texts
from .seed import MARKUP_WORDS, insert_run, refresh, seed_known_history


async def page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.content_type == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    return await response.text()


def row(html: str, task: str) -> dict[str, str]:
    """The scorecard row of ``task``: each metric cell's text."""
    names = texts(html, "task-name")
    index = names.index(task)
    return {
        metric: texts(html, "metric", metric)[index]
        for metric in ("happiness", "efficiency", "adoption", "success")
    }


async def test_the_scorecard_shows_each_heat_figure_with_change_and_samples(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await seed_known_history(db)
    html = await page(client, "/")
    assert "scorecard" in body_classes(html)
    assert texts(html, "task-name") == ["deploy", "scaffold"]
    deploy = row(html, "deploy")
    assert deploy["success"] == ("86 % \u221214 pts 7 decisive runs 1 attempt to first success")
    assert deploy["efficiency"] == "40 s \u221260 % 7 timed runs"
    assert deploy["adoption"] == (
        "67 % +33 pts 2 of 3 installed repositories + 1 repository outside the app"
    )
    assert deploy["happiness"] == "3.5 / 5 \u22121.5 4 responses"
    scaffold = row(html, "scaffold")
    assert scaffold["success"] == "not enough data yet 2 decisive runs"
    assert scaffold["efficiency"] == "not enough data yet 2 timed runs"


async def test_filters_live_in_the_url(client: TestClient, db: asyncpg.Connection) -> None:
    await seed_known_history(db)
    html = await page(client, "/?kind=scaffolding&period=7d")
    assert texts(html, "task-name") == ["scaffold"]
    assert "filtered" in body_classes(html)
    assert 'href="/.json?period=7d&amp;kind=scaffolding"' in html
    assert '<option value="7d" selected>' in html
    # The repository filter matches names case-insensitively, as GitHub does.
    html = await page(client, "/?repository=OCTO/B")
    assert row(html, "deploy")["adoption"].startswith("100 %")


async def test_a_bad_filter_is_a_400_page_naming_it(client: TestClient, db: asyncpg.Connection):
    html = await page(client, "/?period=forever", status=400)
    assert "period:" in texts(html, "error")[0]


async def test_an_empty_database_says_how_to_get_data(client: TestClient, db: asyncpg.Connection):
    html = await page(client, "/")
    assert "No task runs yet" in html
    assert "make demo" in html


async def test_the_task_page_shows_trends_versions_and_repositories(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await seed_known_history(db)
    html = await page(client, "/tasks/deploy")
    assert {"task", "task-deploy"} <= body_classes(html)
    assert texts(html, "tile", "success")[0] == "Task success 86 % \u221214 pts 7 decisive runs"
    # Four charts, one per HEAT metric, each an inline SVG.
    for chart in ("success", "efficiency", "adoption", "happiness"):
        assert texts(html, f"chart-{chart}")
    assert html.count("<svg") >= 4
    # octo/a: 10-50 s, p50 30 s; Octo/B has one timed run only, too few to rank.
    assert texts(html, "slowest")[0].startswith("Repository p50 Timed runs Success octo/a 30 s 5")
    # octo/a's latest commit failed; Octo/B and other/x last succeeded.
    failing = texts(html, "failing")[0]
    assert "octo/a" in failing
    assert "1 of 5" in failing
    assert "other/x" not in failing
    # Version mix: v1 on octo/a (5 runs, 4 of 5), v2 on Octo/B (3 runs), none on other/x.
    versions = texts(html, "versions")[0]
    assert "v1 1 5 80 % 30 s" in versions
    assert "v2 1 3 100 % 1 min 00 s" in versions
    assert "(none) 1 1 100 % 1 min 10 s" in versions
    # Comments: the worded responses about deploy, newest first, the one naming no task
    # included (it rated what ran on its pull request); words shown as text, not markup.
    comments = texts(html, "comment")
    assert [c.split(" · ")[0] for c in comments] == ["2 / 5", "5 / 5", "3 / 5"]
    assert "the retry saved me" in comments[0]
    assert MARKUP_WORDS in comments[1]
    assert "<b>loud</b>" not in html
    assert "&lt;b&gt;loud&lt;/b&gt; &amp; &#34;quoted&#34;" in html
    assert (
        "6 succeeded, 1 failed, 0 timed out, 1 cancelled, 1 skipped" in texts(html, "outcomes")[0]
    )


async def test_names_are_escaped_everywhere(client: TestClient, db: asyncpg.Connection) -> None:
    evil = '<script>alert("x")</script>'
    now = clock.now()
    for i in range(5):
        await insert_run(
            db,
            repository=f"octo/{evil}",
            task=evil,
            outcome="failure",
            duration_ms=1000 * (i + 1),
            started_at=now - timedelta(hours=i + 1),
            run_id=100 + i,
            sha=str(i) * 40,
        )
    await refresh(db)
    for path in ("/", "/tasks/" + evil.replace("/", "%2F")):
        html = await page(client, path)
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


async def test_an_unknown_task_is_a_404_page(client: TestClient, db: asyncpg.Connection):
    html = await page(client, "/tasks/nothing", status=404)
    assert "error-page" in body_classes(html)


async def test_a_task_named_like_a_json_twin_still_has_its_page(
    client: TestClient, db: asyncpg.Connection
) -> None:
    now = clock.now()
    await insert_run(
        db,
        repository="octo/a",
        task="config.json",
        outcome="success",
        duration_ms=1000,
        started_at=now - timedelta(hours=1),
        run_id=1,
    )
    await refresh(db)
    html = await page(client, "/")
    assert 'href="/tasks/config.json?format=html"' in html
    html = await page(client, "/tasks/config.json?format=html")
    assert texts(html, "task-title")[0].startswith("config.json")


async def test_each_page_has_a_json_twin(client: TestClient, db: asyncpg.Connection) -> None:
    await seed_known_history(db)
    board = await (await client.get("/.json")).json()
    assert [t["task"] for t in board["tasks"]] == ["deploy", "scaffold"]
    detail = await (await client.get("/tasks/deploy.json")).json()
    assert detail["scorecard"] == board["tasks"][0]
    assert [r["repository"] for r in detail["repositories"] if r["failing"]] == ["octo/a"]
    assert sum(w["runs"] for w in detail["weeks"]) == 9 + 5
    bad = await client.get("/tasks/deploy.json?period=x")
    assert bad.status == 400
    assert (await bad.json())["parameter"] == "period"
