"""What the action really sends, run as a runner runs it, is what the service's schema accepts."""

from __future__ import annotations

import pytest

from heatmeter.http.jsonbody import decode_json
from heatmeter.reports.schema import MAX_DEPTH, parse_report
from heatmeter.reports.trust import SIGNATURE_HEADER, verify_signature

from .harness import POSIX_ONLY, SECRET, RecordingServer, Runner


def accepted(server: RecordingServer) -> list:
    """Each report body as the service would take it: signature checked, then parsed."""
    reports = []
    for request in server.reports():
        verify_signature(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)
        reports.append(parse_report(decode_json(request.body, max_depth=MAX_DEPTH)))
    return reports


@POSIX_ONLY
@pytest.mark.parametrize(("command", "outcome"), [("true", "success"), ("exit 3", "failure")])
def test_run_mode_reports_pass_the_schema(
    run_action: Runner, server: RecordingServer, command: str, outcome: str
) -> None:
    run_action(
        task="deploy", kind="deploy", run=command, **{"service-url": server.url, "secret": SECRET}
    )
    [report] = accepted(server)
    assert (report.phase, report.outcome, report.sha) == (
        "finish",
        outcome,
        "0123456789abcdef0123456789abcdef01234567",
    )


@pytest.mark.parametrize("outcome", ["success", "cancelled", "skipped", "timed_out"])
def test_start_and_finish_reports_pass_the_schema(
    run_action: Runner, server: RecordingServer, outcome: str
) -> None:
    service = {"service-url": server.url, "secret": SECRET}
    run_action(task="scaffold", kind="scaffolding", phase="start", **service)
    run_action(task="scaffold", phase="finish", outcome=outcome, **service)
    start, finish = accepted(server)
    assert (start.phase, start.exit_code, start.duration_ms) == ("start", None, None)
    assert (finish.phase, finish.outcome) == ("finish", outcome)
