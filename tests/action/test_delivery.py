"""Delivering a report from a real action process: outages, refusals, budgets and https."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from action import transport

from .harness import (
    POSIX_ONLY,
    SECRET,
    RecordingServer,
    Runner,
    annotations,
    check_contract,
    check_signature,
)

UNAVAILABLE = (503, {"Retry-After": "0"}, {"error": "database_unavailable"})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gave_up(warning: str) -> tuple[int, float]:
    """The attempts and seconds the action says it spent before giving up."""
    found = re.search(r"gave up after (\d+) attempt\(s\) in (\d+\.\d) s", warning)
    assert found, warning
    return int(found.group(1)), float(found.group(2))


@POSIX_ONLY
def test_unreachable_service_warns_keeps_exit_code_and_costs_only_seconds(
    run_action: Runner,
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    # The default budget (30 s) is for a service that answers; one that is not there at all
    # is given up after UNREACHED_BUDGET_S by the action's own clock.
    result = run_action(task="deploy", run="exit 3", **{"service-url": url, "secret": SECRET})

    assert result.returncode == 3
    [warning] = annotations(result.stdout, "warning")
    assert "unreachable" in warning
    assert "ConnectionRefusedError" in warning
    attempts, seconds = _gave_up(warning)
    assert attempts > 1
    assert seconds <= transport.UNREACHED_BUDGET_S
    assert "not sent (service unreachable)" in result.summary
    assert "Traceback" not in result.stderr


def test_service_down_fails_the_step_only_when_asked(run_action: Runner) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = run_action(
        task="deploy",
        run="exit 0",
        **{
            "service-url": url,
            "secret": SECRET,
            "fail-on-report-error": "true",
            "retry-budget": "0",
        },
    )

    assert result.returncode == 1
    assert _gave_up(annotations(result.stdout, "warning")[0])[0] == 1


def test_hung_service_times_out(run_action: Runner) -> None:
    # Accepts connections (the kernel's backlog) but never answers.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = run_action(
            task="deploy",
            phase="start",
            **{"service-url": url, "secret": SECRET, "retry-budget": "1"},
        )

    assert result.returncode == 0
    assert "timed out" in annotations(result.stdout, "warning")[0]


def test_client_error_is_not_retried_and_shows_the_detail(
    run_action: Runner, server: RecordingServer
) -> None:
    server.answers.append(
        (
            400,
            {},
            {
                "error": "invalid_report",
                "detail": "the report does not match the contract",
                "fields": {"task": "too long"},
            },
        )
    )
    result = run_action(
        task="deploy", phase="start", **{"service-url": server.url, "secret": SECRET}
    )

    assert result.returncode == 0
    assert len(server.requests) == 1
    [warning] = annotations(result.stdout, "warning")
    assert "HTTP 400 invalid_report: the report does not match the contract" in warning
    assert "task: too long" in warning


def test_retry_after_is_honoured(run_action: Runner, server: RecordingServer) -> None:
    server.answers.append((503, {"Retry-After": "1"}, {"error": "unavailable"}))
    server.answers.append((502, {}, {"error": "bad gateway"}))
    result = run_action(task="deploy", run="true", **{"service-url": server.url, "secret": SECRET})

    assert result.returncode == 0
    assert len(server.requests) == 3
    assert server.requests[0].body == server.requests[2].body
    assert annotations(result.stdout, "warning") == []
    assert result.elapsed >= 1.0  # not sooner than the service asked
    assert "| sent |" in result.summary


def test_a_database_restart_is_ridden_out_past_three_attempts(
    run_action: Runner, server: RecordingServer
) -> None:
    # The service answers 503 for its first six requests, then stores the report.
    server.answers.extend([UNAVAILABLE] * 6)
    result = run_action(task="deploy", run="true", **{"service-url": server.url, "secret": SECRET})

    assert result.returncode == 0, result.stdout
    assert annotations(result.stdout, "warning") == []
    assert len(server.requests) == 7
    assert len({request.body for request in server.requests}) == 1  # the same report each time
    assert "| sent |" in result.summary


def test_retries_stop_when_the_budget_is_spent(run_action: Runner, server: RecordingServer) -> None:
    server.answers.extend([UNAVAILABLE] * 100)
    result = run_action(
        task="deploy",
        phase="start",
        **{"service-url": server.url, "secret": SECRET, "retry-budget": "2"},
    )

    assert result.returncode == 0
    [warning] = annotations(result.stdout, "warning")
    assert "HTTP 503" in warning
    attempts, seconds = _gave_up(warning)
    assert attempts == len(server.requests) > 1
    assert seconds <= 2.0


def test_a_retry_after_past_the_budget_gets_one_last_try_at_its_end(
    run_action: Runner, server: RecordingServer
) -> None:
    server.answers.append((429, {"Retry-After": "120"}, {"error": "slow down"}))
    result = run_action(
        task="deploy",
        run="true",
        **{"service-url": server.url, "secret": SECRET, "retry-budget": "2"},
    )

    assert len(server.requests) == 2
    assert annotations(result.stdout, "warning") == []
    assert "| sent |" in result.summary


@pytest.mark.parametrize("budget", ["-1", "soon", "nan", "601"])
def test_a_bad_retry_budget_is_a_configuration_error(run_action: Runner, budget: str) -> None:
    result = run_action(task="deploy", run="exit 4", **{"retry-budget": budget})

    assert result.returncode == 4  # the command still ran
    [error] = annotations(result.stdout, "error")
    assert "retry-budget must be a number of seconds from 0 to 600" in error


# --- https --------------------------------------------------------------------------------------


def test_https_report_is_delivered(
    run_action: Runner, tls_server: tuple[RecordingServer, Path]
) -> None:
    server, cert_file = tls_server
    result = run_action(
        {"SSL_CERT_FILE": str(cert_file)},  # OpenSSL's own variable: trust the test's CA
        task="deploy",
        run="true",
        **{"service-url": server.url, "secret": SECRET},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert annotations(result.stdout, "warning") == []
    [request] = server.reports()
    check_signature(request)
    check_contract(request.json(), "finish")


def test_untrusted_certificate_is_not_retried(
    run_action: Runner, tls_server: tuple[RecordingServer, Path]
) -> None:
    server, _ = tls_server
    result = run_action(
        {"SSL_CERT_FILE": str(run_action.workdir / "no-such-bundle.pem")},
        task="deploy",
        run="exit 5",
        **{"service-url": server.url, "secret": SECRET},
    )

    assert result.returncode == 5
    [warning] = annotations(result.stdout, "warning")
    assert "TLS certificate of 127.0.0.1 rejected" in warning
    assert "attempt(s)" not in warning  # raised at the first attempt, not given up on
    assert server.requests == []
    assert "Traceback" not in result.stderr
