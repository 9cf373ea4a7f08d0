"""The action run as a runner runs it, against a live service and a real Postgres."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

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
