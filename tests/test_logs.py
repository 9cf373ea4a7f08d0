"""Logs: JSON lines from a real service process, a request id on each, no secret in any."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiohttp

from heatmeter.logs import redact_secrets

from .conftest import REPORT_SECRET
from .github.test_pr_comment import wait_ready
from .reports import make_report, signed


def test_secret_fields_and_dsn_passwords_are_redacted() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "configured",
            "report_secret": "hunter2",
            "github_token": "ghs_abc",
            "authorization": "Bearer eyJ",
            "detail": "postgresql://app:s3cret@db:5432/heatmeter",
            "task": "deploy",
        },
    )
    assert event["report_secret"] == event["github_token"] == event["authorization"] == "***"
    assert event["detail"] == "postgresql://app:***@db:5432/heatmeter"
    assert event["task"] == "deploy"


async def test_a_service_logs_json_lines_with_request_ids_and_no_secrets(
    database_url: str, db, unused_tcp_port: int
) -> None:
    secrets = {
        "HEATMETER_REPORT_SECRET": REPORT_SECRET,
        "GITHUB_TOKEN": "ghp_never_in_a_log",
        "GITHUB_WEBHOOK_SECRET": "webhook-secret-never-in-a-log",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heatmeter", "serve", "--port", str(unused_tcp_port),
        env={**os.environ, "DATABASE_URL": database_url, **secrets},  # auto: stderr is a pipe
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        await wait_ready(url)
        body, headers = signed(make_report(), REPORT_SECRET)
        async with aiohttp.ClientSession() as session:
            headers["X-Request-Id"] = "req-42"
            async with session.post(f"{url}/v1/reports", data=body, headers=headers) as r:
                assert r.status == 202
            async with session.post(f"{url}/v1/reports", data=body, headers={
                **headers, "X-Heatmeter-Signature-256": "sha256=" + "0" * 64,
            }) as r:  # fmt: skip
                assert r.status == 401
    finally:
        process.terminate()
        _, stderr = await process.communicate()
    lines = [json.loads(line) for line in stderr.decode().splitlines()]
    requests = [line for line in lines if line["event"] == "request" and line["path"] != "/readyz"]
    assert [(r["request_id"], r["status"]) for r in requests][:1] == [("req-42", 202)]
    # One line per request; a stored report's carries what was stored.
    assert requests[0]["report_id"] >= 1
    assert (requests[0]["repository"], requests[0]["duplicate"]) == ("octo-org/octo-repo", False)
    for secret in secrets.values():
        assert secret not in stderr.decode()
