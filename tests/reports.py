"""Building and sending reports the way the action does, for tests and benchmarks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from heatmeter.reports.trust import SIGNATURE_HEADER, sign

from .support.clock import ago, start_of_day


def make_report(**overrides: Any) -> dict[str, Any]:
    # Yesterday noon on heatmeter's clock: inside every rolling window, on any date.
    started = start_of_day(ago(days=1)).replace(hour=12)
    report: dict[str, Any] = {
        "repository": "octo-org/octo-repo",
        "workflow": "CI",
        "run_id": 1001,
        "run_attempt": 1,
        "job": "deploy",
        "task": "deploy",
        "kind": "deploy",
        "step": "__heatmeter",
        "phase": "finish",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(seconds=42)).isoformat(),
        "duration_ms": 42_000,
        "outcome": "success",
        "exit_code": 0,
        "sha": "3484a3fb816e0859fd6e1cea078d76385ff50625",
        "ref": "refs/pull/7/merge",
        "pull_request": 7,
        "runner_os": "Linux",
        "runner_name": "GitHub Actions 2",
        "actor": "octocat",
    }
    report.update(overrides)
    if report["phase"] == "start":
        # A start carries none of a finish's fields (the service refuses them), unless a
        # test sets one on purpose.
        for name in ("finished_at", "duration_ms", "outcome", "exit_code"):
            if name not in overrides:
                report.pop(name)
    return {k: v for k, v in report.items() if v is not None}


def signed(report: dict[str, Any] | bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    body = report if isinstance(report, bytes) else json.dumps(report).encode()
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
