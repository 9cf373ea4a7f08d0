"""`heatmeter backfill` as a person runs it: a real process against the fake GitHub."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from ..test_tasks_cli import heatmeter
from .actions_history import workflow_job, workflow_run
from .fake_github import FakeGitHub

REPOSITORY = "octo/widgets"
TOKEN = "ghp_cli_backfill"


def without_github(env: dict[str, str]) -> dict[str, str]:
    names = ("GITHUB_TOKEN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_API_URL")
    return {k: v for k, v in env.items() if k not in names}


async def test_usage_errors_say_what_to_do(create_database: Callable[[], str]) -> None:
    env = without_github({**os.environ, "DATABASE_URL": create_database()})
    code, _, err = await heatmeter("backfill", env=env)
    assert (code, "--repo OWNER/NAME, or pass --all-installed" in err) == (2, True)
    code, _, err = await heatmeter("backfill", "--repo", "widgets", env=env)
    assert (code, "'widgets' is not OWNER/NAME" in err) == (2, True)
    code, _, err = await heatmeter("backfill", "--repo", "o/r", "--since", "soon", env=env)
    assert (code, "use 90d, 12w, 36h or a date" in err) == (2, True)
    code, _, err = await heatmeter("backfill", "--repo", "o/r", env=env)
    assert code == 2
    assert "set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (the App), or GITHUB_TOKEN" in err
    code, _, err = await heatmeter("backfill", "--all-installed", env={**env, "GITHUB_TOKEN": "t"})
    assert (code, "--all-installed lists the App's installations" in err) == (2, True)
    assert "Traceback" not in err


async def test_a_backfill_run_prints_progress_and_a_final_count(
    create_database: Callable[[], str], fake_github: FakeGitHub
) -> None:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    # Backfill walks GitHub's history on the real clock, not heatmeter's (moved in CI).
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    run = workflow_run(1, REPOSITORY, created)
    fake_github.actions.add_run(REPOSITORY, run, [workflow_job(11, run)])
    url = create_database()
    env = {
        **without_github(os.environ),
        "DATABASE_URL": url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
    }
    code, _, _ = await heatmeter("tasks", "add", "deploy", "--step", "Deploy to *", env=env)
    assert code == 0

    code, out, err = await heatmeter("backfill", "--repo", REPOSITORY, "--since", "7d", env=env)
    assert code == 0, err
    assert out.strip() == (
        "backfill: 1 repositories, 1 runs, 1 jobs walked; stored 1 new task runs "
        "(0 already known) and 1 new queue times"
    )
    assert f"{REPOSITORY}: walking runs created" in err
    assert f"{REPOSITORY}: done, 1 runs, 1 jobs, 1 new task runs" in err
    assert "\x1b[" not in err  # not a terminal: plain lines, no bar, no colour
    assert TOKEN not in out + err

    code, out, _ = await heatmeter("backfill", "--repo", REPOSITORY, env=env)
    assert code == 0
    assert "stored 0 new task runs" in out
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM task_runs") == 1
    finally:
        await conn.close()


async def test_a_terminal_gets_a_progress_bar(
    create_database: Callable[[], str], fake_github: FakeGitHub
) -> None:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    run = workflow_run(1, REPOSITORY, datetime.now(UTC).replace(microsecond=0) - timedelta(days=2))
    fake_github.actions.add_run(REPOSITORY, run, [workflow_job(11, run)])
    env = {
        **without_github(os.environ),
        "DATABASE_URL": create_database(),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    # stderr is a terminal (a pseudo-terminal the test reads), stdout a pipe.
    terminal, their_end = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "heatmeter", "backfill", "--repo", REPOSITORY, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=their_end,
        )  # fmt: skip
        os.close(their_end)
        screen = asyncio.create_task(asyncio.to_thread(read_until_closed, terminal))
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        drawn = await asyncio.wait_for(screen, timeout=60)
    finally:
        os.close(terminal)
    assert process.returncode == 0, drawn
    assert out.decode().startswith("backfill: 1 repositories, 1 runs, 1 jobs walked")
    assert "\x1b[" in drawn  # drawn in place with the terminal's control sequences
    assert "━" in drawn  # the bar
    assert "1/1" in drawn  # repositories walked of all
    assert f"{REPOSITORY}: done, 1 runs, 1 jobs" in drawn
    assert TOKEN not in drawn


def read_until_closed(fd: int) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


async def test_app_problems_are_said_plainly(
    create_database: Callable[[], str], fake_github: FakeGitHub, app_private_key: str
) -> None:
    env = {
        **without_github(os.environ),
        "DATABASE_URL": create_database(),
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_APP_ID": str(fake_github.app_id),
    }
    broken = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END PRIVATE KEY-----\n"
    code, out, err = await heatmeter(
        "backfill", "--repo", REPOSITORY, env={**env, "GITHUB_APP_PRIVATE_KEY": broken}
    )
    assert code == 2
    assert "GITHUB_APP_PRIVATE_KEY: not a PEM private key" in err
    assert "c2VjcmV0" not in out + err

    # The App exists but is not installed on the repository.
    fake_github.add_repository(REPOSITORY)
    code, _, err = await heatmeter(
        "backfill", "--repo", REPOSITORY, env={**env, "GITHUB_APP_PRIVATE_KEY": app_private_key}
    )
    assert code == 1
    assert "cannot list the repositories to walk: not found" in err
    assert "is the App installed there?" in err
    assert "Traceback" not in err


async def test_ctrl_c_during_a_rate_limit_wait_stops_cleanly(
    create_database: Callable[[], str], fake_github: FakeGitHub
) -> None:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    fake_github.rate_limit_remaining = 0
    fake_github.rate_limit_reset = datetime.now(UTC).timestamp() + 3600
    env = {
        **without_github(os.environ),
        "DATABASE_URL": create_database(),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
        "HEATMETER_LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", "backfill", "--repo", REPOSITORY, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        # Wait for the line that says it is waiting for GitHub's reset, then interrupt.
        seen = b""
        while b"waiting for the reset" not in seen:
            line = await asyncio.wait_for(process.stderr.readline(), timeout=60)
            assert line, f"backfill ended before waiting: {seen.decode()}"
            seen += line
        process.send_signal(signal.SIGINT)
        _, rest = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert b"backfill interrupted; run it again to resume" in rest
    assert b"Traceback" not in seen + rest
