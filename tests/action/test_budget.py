"""How long reporting may hold a job, measured on an injected clock instead of a stopwatch.

The transport's waits and per-attempt timeouts are added up on a fake clock: a service
that hangs, refuses connections or asks for long waits costs the job at most the
report budget, whatever the machine's speed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from action import http1, report, transport


class FakeClock:
    """time.monotonic/time.sleep/time.time for the transport; sleeping only moves it on."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(transport, "time", fake)
    return fake


def send(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, exchange) -> transport.SendError:
    attempts: list[float] = []

    def counted(method, target, headers, body, timeout):
        attempts.append(timeout)
        return exchange(timeout)

    monkeypatch.setattr(http1, "exchange", counted)
    deadline = transport.Deadline(report.BUDGET_S)
    with pytest.raises(transport.SendError) as refusal:
        transport.request("POST", "http://127.0.0.1:9/v1/reports", deadline=deadline, body=b"{}")
    refusal.value.attempts = attempts
    return refusal.value


def test_a_hung_service_costs_at_most_the_budget(monkeypatch, clock: FakeClock) -> None:
    def hangs(timeout: float):
        clock.now += timeout  # the whole attempt's timeout passes with no answer
        raise TimeoutError

    began = clock.now
    failure = send(monkeypatch, clock, hangs)
    assert "timed out" in str(failure)
    assert clock.now - began <= report.BUDGET_S
    assert len(failure.attempts) <= transport.ATTEMPTS


def test_an_unreachable_service_costs_only_the_backoff(monkeypatch, clock: FakeClock) -> None:
    def refused(timeout: float):
        raise ConnectionRefusedError("refused")

    began = clock.now
    failure = send(monkeypatch, clock, refused)
    assert len(failure.attempts) == transport.ATTEMPTS
    assert "3 attempt(s)" in str(failure)
    # Two backoffs, 0.5 s and 1 s with at most 25 % jitter.
    assert len(clock.sleeps) == 2
    assert clock.now - began <= (0.5 + 1.0) * 1.25


def test_a_long_retry_after_is_capped(monkeypatch, clock: FakeClock) -> None:
    def slow_down(timeout: float):
        return http1.Response(429, {"retry-after": "120"}, b"{}")

    send(monkeypatch, clock, slow_down)
    assert clock.sleeps == [transport.RETRY_AFTER_CAP_S] * (transport.ATTEMPTS - 1)
