"""`heatmeter report` as a process: a table within 80 columns, JSON and CSV that parse back."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
from rich.cells import cell_len

from heatmeter import clock
from heatmeter.scorecard import terminal
from heatmeter.scorecard.filters import ALL_PARAMETERS, parse_filters
from heatmeter.scorecard.queries import scorecard
from heatmeter.scorecard.shaping import CSV_COLUMNS

from ..github.test_pr_comment import wait_ready
from .seed import insert_run, refresh, seed_known_history


async def report(database_url: str, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "heatmeter",
        "report",
        *args,
        env={**os.environ, "DATABASE_URL": database_url, "HEATMETER_LOG_FORMAT": "json", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_csv_has_a_stable_header_and_the_page_figures(
    database_url: str, db: asyncpg.Connection
) -> None:
    await seed_known_history(db)
    code, out, err = await report(database_url, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    deploy = next(row for row in rows if row["task"] == "deploy")
    assert deploy["success_rate"] == "0.8571"
    assert deploy["success_rate_change"] == "-0.1429"
    assert deploy["p50_ms"] == "40000.0"
    assert deploy["adoption"] == "0.6667"
    assert deploy["outside_app_repositories"] == "1"
    assert deploy["happiness"] == "3.5"
    assert deploy["happiness_responses"] == "4"
    scaffold = next(row for row in rows if row["task"] == "scaffold")
    assert scaffold["success_rate"] == ""
    assert scaffold["decisive_runs"] == "2"


async def test_json_is_the_summary_and_filters_apply(
    database_url: str, db: asyncpg.Connection
) -> None:
    await seed_known_history(db)
    code, out, err = await report(
        database_url, "--format", "json", "--task", "deploy", "--repo", "octo/a", "--since", "7d"
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["filters"] == {"repository": "octo/a", "task": "deploy", "kind": None}
    (deploy,) = body["tasks"]
    assert deploy["runs"]["total"] == 5  # octo/a's runs in the last 7 days
    assert body["installed_repositories"] == 1


async def test_the_table_fits_80_columns_without_colour_when_piped(
    database_url: str, db: asyncpg.Connection
) -> None:
    await seed_known_history(db)
    now = clock.now()
    await insert_run(
        db,
        repository="octo/a",
        task="a-task-with-a-very-long-name-" * 3,
        outcome="success",
        duration_ms=1,
        started_at=now,
        run_id=999,
    )
    await refresh(db)
    code, out, err = await report(database_url)
    assert code == 0, err
    assert "\x1b[" not in out
    assert max(cell_len(line) for line in out.splitlines()) <= 80
    assert "86 %" in out
    assert "\u221214 pts" in out
    assert "too few" in out


async def test_a_bad_flag_is_an_error_on_stderr(database_url: str, db: asyncpg.Connection):
    code, out, err = await report(database_url, "--since", "last-tuesday")
    assert code == 2
    assert out == ""
    assert "--since" in err
    assert "Traceback" not in err


async def test_an_unreachable_database_fails_clearly(unused_tcp_port: int) -> None:
    code, out, err = await report(f"postgresql://nobody@127.0.0.1:{unused_tcp_port}/none")
    assert code == 1
    assert out == ""
    assert "cannot reach the database" in err


async def test_csv_cells_cannot_start_a_formula(db: asyncpg.Connection) -> None:
    now = clock.now()
    for i, name in enumerate(['=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "\tx", "ok"]):
        await insert_run(
            db,
            repository="octo/a",
            task=name,
            outcome="success",
            duration_ms=1,
            started_at=now - timedelta(minutes=1),
            run_id=i + 1,
        )
    await refresh(db)
    board = await scorecard(db, parse_filters({}, now, allowed=ALL_PARAMETERS))
    rows = list(csv.reader(io.StringIO(terminal.render(board, "csv"))))
    tasks = sorted(row[0] for row in rows[1:])
    assert tasks == sorted(['\'=HYPERLINK("http://evil")', "'+1", "'-2", "'@SUM(A1)", "'\tx", "ok"])
    # Numbers stay numbers, even negative ones.
    assert terminal.safe_cell(-0.25) == -0.25


async def test_demo_and_report_share_the_embedded_database_of_a_running_service(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """No DATABASE_URL anywhere: serve, demo and report meet in one HEATMETER_DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(HEATMETER_DATA_DIR=str(tmp_path), HEATMETER_LOG_FORMAT="json")

    async def heatmeter(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "heatmeter", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", "serve", "--port", str(unused_tcp_port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        await wait_ready(url)
        code, out, err = await heatmeter("demo")
        assert code == 0, err
        assert "heatmeter-demo/" in out
        code, out, err = await heatmeter("report", "--format", "json")
        assert code == 0, err
        tasks = {task["task"] for task in json.loads(out)["tasks"]}
        assert tasks == {"deploy", "scaffold-service", "provision-database", "lint-workflows"}
        # The running service reads the same database: the demo is on its page.
        async with aiohttp.ClientSession() as session, session.get(f"{url}/v1/summary") as r:
            assert {task["task"] for task in (await r.json())["tasks"]} == tasks
    finally:
        server.terminate()
        assert await asyncio.wait_for(server.wait(), timeout=30) == 0
    # And with the service stopped, report starts the embedded server by itself.
    code, out, err = await heatmeter("report", "--format", "csv")
    assert code == 0, err
    assert len(list(csv.DictReader(io.StringIO(out)))) == 4
