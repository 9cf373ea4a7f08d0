"""`heatmeter tasks add|list|remove` as a person runs them: real processes, real Postgres."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import asyncpg


async def heatmeter(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", *args,
        env={**env, "HEATMETER_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_add_list_remove(create_database: Callable[[], str]) -> None:
    env = {**os.environ, "DATABASE_URL": create_database()}
    code, out, _ = await heatmeter(
        "tasks", "add", "deploy", "--kind", "deploy", "--step", "Deploy to *",
        "--repo", "my-org/*", "--workflow", "CD", env=env,
    )  # fmt: skip
    assert code == 0
    assert "defined deploy" in out
    code, _, _ = await heatmeter(
        "tasks", "add", "provision", "--kind", "provisioning",
        "--step", "terraform (plan|apply)", "--regex", env=env,
    )  # fmt: skip
    assert code == 0

    code, out, _ = await heatmeter("tasks", "list", "--format", "json", env=env)
    assert code == 0
    listed = json.loads(out)
    assert [(d["name"], d["kind"], d["step"], d["syntax"]) for d in listed] == [
        ("deploy", "deploy", "Deploy to *", "glob"),
        ("provision", "provisioning", "terraform (plan|apply)", "regex"),
    ]
    assert (listed[0]["repository"], listed[0]["workflow"]) == ("my-org/*", "CD")
    assert listed[1]["repository"] is None

    code, out, _ = await heatmeter("tasks", "list", env=env)
    header, *lines = out.splitlines()
    assert header.split() == [
        "NAME",
        "KIND",
        "STEP",
        "SYNTAX",
        "REPOSITORY",
        "WORKFLOW",
        "CREATED_AT",
    ]
    assert lines[0].startswith("deploy ")
    assert "Deploy to *" in lines[0]

    code, _, err = await heatmeter("tasks", "add", "deploy", "--step", "other", env=env)
    assert code == 1
    assert "already defined" in err

    code, out, _ = await heatmeter("tasks", "remove", "deploy", env=env)
    assert code == 0
    code, _, err = await heatmeter("tasks", "remove", "deploy", env=env)
    assert (code, "no task named 'deploy'" in err) == (1, True)
    code, out, _ = await heatmeter("tasks", "list", "--format", "json", env=env)
    assert [d["name"] for d in json.loads(out)] == ["provision"]


async def test_a_bad_regex_is_refused_before_anything_is_stored(
    create_database: Callable[[], str],
) -> None:
    url = create_database()
    env = {**os.environ, "DATABASE_URL": url}
    code, _, err = await heatmeter(
        "tasks", "add", "deploy", "--step", "Deploy to (prod", "--regex", env=env
    )
    assert code == 2
    assert "--step 'Deploy to (prod' is not a valid regular expression" in err
    assert "missing ), unterminated subpattern" in err
    assert "Traceback" not in err
    code, _, err = await heatmeter("tasks", "add", "deploy", "--step", "x", "--kind", "rm", env=env)
    assert code == 2
    assert "invalid choice: 'rm'" in err
    conn = await asyncpg.connect(url)
    try:
        # Refused before the database was even migrated.
        assert await conn.fetchval("SELECT to_regclass('task_definitions')") is None
    finally:
        await conn.close()


async def test_without_database_url_the_cli_uses_the_embedded_postgres_of_make_run() -> None:
    # A folder of its own rather than tmp_path: pytest prunes old basetemp folders of the
    # same user, and other sessions on a shared machine may do it mid-test.
    with tempfile.TemporaryDirectory(prefix="heatmeter-cli-") as folder:
        data_dir = Path(folder)
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["HEATMETER_DATA_DIR"] = str(data_dir)
        code, _, err = await heatmeter("tasks", "add", "deploy", "--step", "Deploy*", env=env)
        assert code == 0, err
        code, out, _ = await heatmeter("tasks", "list", "--format", "json", env=env)
        assert [d["name"] for d in json.loads(out)] == ["deploy"]
        # The data lives where `make run` keeps it, and the server stopped with the command.
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
