"""The action run as a runner runs it, against a live service and a real Postgres."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.settings import Settings

from .action.outputs import parse_outputs, shift_start_back
from .conftest import REPORT_SECRET
from .oidc_issuer import OidcIssuer

MAIN = Path(__file__).resolve().parents[1] / "action" / "main.py"
REPOSITORY = "octo-org/octo-repo"


@dataclass
class ActionRun:
    exit_code: int
    stdout: str
    stderr: str
    outputs: str
    summary: str
    seconds: float

    def warnings(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::warning")]


@pytest.fixture
def runner(tmp_path: Path) -> Callable[..., AsyncIterator[ActionRun]]:
    """Run action/main.py in a subprocess with a job's GITHUB_* environment and files."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": 7}}))
    (tmp_path / "temp").mkdir()

    async def run(service_url: str, extra_env: dict | None = None, **inputs: str) -> ActionRun:
        outputs, summary = tmp_path / "output", tmp_path / "summary"
        outputs.write_text("")
        summary.write_text("")
        env = {
            "PATH": "/usr/bin:/bin",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_WORKFLOW": "CI",
            "GITHUB_RUN_ID": "1001",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": "deploy",
            "GITHUB_ACTION": "__heatmeter",
            "GITHUB_SHA": "3484a3fb816e0859fd6e1cea078d76385ff50625",
            "GITHUB_REF": "refs/pull/7/merge",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_ACTOR": "octocat",
            "RUNNER_OS": "Linux",
            "RUNNER_NAME": "GitHub Actions 2",
            "RUNNER_TEMP": str(tmp_path / "temp"),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            "INPUT_SERVICE_URL": service_url,
            **(extra_env or {}),
        }
        for name, value in inputs.items():
            env[f"INPUT_{name.upper()}"] = value
        began = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", str(MAIN),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        return ActionRun(
            process.returncode,
            stdout.decode(),
            stderr.decode(),
            outputs.read_text(),
            summary.read_text(),
            time.monotonic() - began,
        )

    return run


def url_of(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def test_a_passing_command_is_stored_as_success(
    client: TestClient, runner, db: asyncpg.Connection
) -> None:
    run = await runner(
        url_of(client), task="deploy", kind="deploy", run="sleep 0.2", secret=REPORT_SECRET
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    row = await db.fetchrow("SELECT * FROM task_runs")
    assert (row["task"], row["kind"], row["outcome"]) == ("deploy", "deploy", "success")
    assert row["duration_ms"] >= 200  # the command's own sleep; no upper bound on a busy machine
    assert row["pull_request"] == 7
    assert row["runner_name"] == "GitHub Actions 2"
    assert parse_outputs(run.outputs) == {
        "duration-ms": str(row["duration_ms"]),
        "outcome": "success",
    }
    assert "deploy" in run.summary


async def test_the_version_input_reaches_task_runs(
    client: TestClient, runner, db: asyncpg.Connection
) -> None:
    run = await runner(
        url_of(client), task="deploy", kind="deploy", version="v3.1", run="true",
        secret=REPORT_SECRET,
    )  # fmt: skip
    assert run.exit_code == 0, run.stdout + run.stderr
    assert await db.fetchval("SELECT version FROM task_runs WHERE task = 'deploy'") == "v3.1"


async def test_a_failing_command_keeps_its_exit_code_and_is_stored_as_failure(
    client: TestClient, runner, db: asyncpg.Connection
) -> None:
    run = await runner(url_of(client), task="provision", run="exit 3", secret=REPORT_SECRET)
    assert run.exit_code == 3
    row = await db.fetchrow("SELECT outcome, exit_code FROM task_runs")
    assert tuple(row) == ("failure", 3)
    assert parse_outputs(run.outputs)["outcome"] == "failure"


async def test_start_and_finish_around_other_steps(
    client: TestClient, runner, db: asyncpg.Connection, tmp_path: Path
) -> None:
    url = url_of(client)
    start = await runner(url, task="terraform", phase="start", secret=REPORT_SECRET)
    assert start.exit_code == 0, start.stdout
    running = await db.fetchrow("SELECT id, outcome FROM task_runs")
    assert running["outcome"] is None

    shift_start_back(tmp_path / "temp", 100)  # "the task started 100 s ago", without waiting
    finish = await runner(
        url, task="terraform", phase="finish", outcome="failure", secret=REPORT_SECRET
    )
    assert finish.exit_code == 0, finish.stdout
    row = await db.fetchrow("SELECT id, outcome, duration_ms FROM task_runs")
    assert (row["id"], row["outcome"]) == (running["id"], "failure")
    assert row["duration_ms"] >= 100_000


async def test_a_report_with_the_wrong_secret_is_refused_with_a_warning(
    client: TestClient, runner, db: asyncpg.Connection
) -> None:
    run = await runner(url_of(client), task="deploy", run="true", secret="not-the-secret")
    assert run.exit_code == 0
    assert any("does not match" in w for w in run.warnings()), run.stdout
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


@pytest.fixture
async def oidc_client(aiohttp_client, settings: Settings, issuer: OidcIssuer, db) -> TestClient:
    return await aiohttp_client(
        create_app(replace(settings, report_secret=None, oidc_issuer=issuer.url))
    )


def oidc_env(issuer: OidcIssuer) -> dict[str, str]:
    return {
        "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.runner_token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.RUNNER_REQUEST_TOKEN,
    }


async def test_oidc_end_to_end_needs_no_secret(
    oidc_client: TestClient, runner, issuer: OidcIssuer, db: asyncpg.Connection
) -> None:
    run = await runner(url_of(oidc_client), oidc_env(issuer), task="deploy", run="true")
    assert run.exit_code == 0
    assert not run.warnings(), run.stdout
    assert await db.fetchval("SELECT auth_method FROM task_runs") == "oidc"


async def test_oidc_token_of_another_repository_is_refused(
    oidc_client: TestClient, runner, issuer: OidcIssuer, db: asyncpg.Connection
) -> None:
    # The token says octo-org/octo-repo; this job claims to be someone else.
    env = {**oidc_env(issuer), "GITHUB_REPOSITORY": "evil-org/evil-repo"}
    run = await runner(url_of(oidc_client), env, task="deploy", run="exit 2")
    assert run.exit_code == 2
    assert any("repository" in w for w in run.warnings()), run.stdout
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


# --- a database restart in the middle of a stream of reports ----------------------------------


class DatabaseLink:
    """A TCP hop between the service and Postgres that a test cuts, as a restart would.

    Cut, it drops every open connection and resets new ones at once, which is what the
    service sees while Postgres restarts or fails over; restored, it forwards again. The
    shared server itself is never touched.
    """

    def __init__(self, dsn: str) -> None:
        self._target = urlsplit(dsn)
        socket_folder = parse_qs(self._target.query).get("host", [""])[0]
        self._unix_path = None
        if socket_folder.startswith("/"):  # the embedded Postgres: a Unix socket only
            self._unix_path = f"{socket_folder}/.s.PGSQL.{self._target.port or 5432}"
        self.up = True
        self.reset = 0  # connections refused while cut: the service tried during the outage
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        """Listen on 127.0.0.1; the DSN that reaches the same database through the link."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        login = self._target.netloc.rpartition("@")[0]
        netloc = f"{login}@127.0.0.1:{port}" if login else f"127.0.0.1:{port}"
        return urlunsplit(("postgresql", netloc, self._target.path, "sslmode=disable", ""))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self.reset += 1
            writer.transport.abort()
            return
        if self._unix_path:
            upstream_reader, upstream = await asyncio.open_unix_connection(self._unix_path)
        else:
            host, port = self._target.hostname or "127.0.0.1", self._target.port or 5432
            upstream_reader, upstream = await asyncio.open_connection(host, port)
        self._open |= {writer, upstream}
        await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))

    def cut(self) -> None:
        self.up = False
        for writer in self._open:
            writer.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()


@pytest.fixture
async def database_link(settings: Settings) -> AsyncIterator[tuple[DatabaseLink, Settings]]:
    link = DatabaseLink(settings.database_url)
    dsn = await link.start()
    yield link, replace(settings, database_url=dsn)
    await link.close()


async def test_reports_ride_out_a_database_restart_stored_once_each(
    aiohttp_client, runner, database_link, db: asyncpg.Connection
) -> None:
    link, settings = database_link
    client = await aiohttp_client(create_app(settings))
    url = url_of(client)

    def report(task: str) -> asyncio.Task[ActionRun]:
        return asyncio.ensure_future(runner(url, task=task, run="true", secret=REPORT_SECRET))

    # Two reports while Postgres is up (they leave connections in the pool), then the
    # restart: six more, one every 0.25 s, all answered 503 + Retry-After at first.
    runs = [report("before-1"), report("before-2")]
    await asyncio.wait_for(asyncio.gather(*runs), timeout=60)
    link.cut()
    for number in range(6):
        runs.append(report(f"during-{number}"))
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.5)  # about 3 s of outage, well inside the 30 s retry budget
    link.restore()
    finished = await asyncio.wait_for(asyncio.gather(*runs), timeout=60)

    assert link.reset > 0  # the service did meet the outage
    for run in finished:
        assert run.exit_code == 0, run.stdout + run.stderr
        assert run.warnings() == [], run.stdout  # none given up
    rows = await db.fetch("SELECT task, count(*) AS copies FROM task_runs GROUP BY task")
    assert {row["task"]: row["copies"] for row in rows} == {
        task: 1 for task in ["before-1", "before-2"] + [f"during-{n}" for n in range(6)]
    }
