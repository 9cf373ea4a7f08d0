"""The retry policy, on a clock the test drives, against a local server driven by request count.

Each exchange is real (a socket to 127.0.0.1); only the waiting between attempts is not: the
clock's sleep moves its time on, so a 30-second outage takes milliseconds and no test depends
on how fast the machine is.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from action import transport
from action.inputs import Inputs, variable

from .harness import RecordingServer

BUDGET_S = 30.0
ANSWERED = (202, {}, {"id": 1, "duplicate": False})


class FakeClock(transport.Clock):
    """Time that passes only when the code under test sleeps."""

    def __init__(self, on_sleep: Callable[[int], None] = lambda count: None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds
        self._on_sleep(len(self.sleeps))


def _send(url: str, clock: FakeClock, budget: float = BUDGET_S) -> transport.Response:
    return transport.request(
        "POST",
        url + "/v1/reports",
        deadline=transport.Deadline(budget, clock),
        body=b"{}",
        headers={"Content-Type": "application/json"},
        environ={},  # whatever proxy this machine has, these requests go straight to 127.0.0.1
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_outage_shorter_than_the_budget_is_ridden_out(server: RecordingServer) -> None:
    # Five 503s with Retry-After: 5, as the service answers while Postgres restarts.
    server.answers.extend([(503, {"Retry-After": "5"}, {"error": "database_unavailable"})] * 5)
    server.answers.append(ANSWERED)
    clock = FakeClock()

    answer = _send(server.url, clock)

    assert answer.status == 202
    assert len(server.requests) == 6
    assert all(5.0 <= wait <= 5.0 * 1.25 for wait in clock.sleeps)  # never sooner than asked
    assert sum(clock.sleeps) <= BUDGET_S


def test_an_outage_longer_than_the_budget_is_given_up_at_its_end(
    server: RecordingServer,
) -> None:
    server.answers.extend([(503, {"Retry-After": "5"}, {"error": "database_unavailable"})] * 50)
    clock = FakeClock()

    with pytest.raises(transport.SendError, match=r"gave up after \d+ attempt\(s\).*HTTP 503"):
        _send(server.url, clock)

    # The last attempt was placed at the end of the budget, with time left for it.
    assert sum(clock.sleeps) == pytest.approx(BUDGET_S - transport.MIN_ATTEMPT_S)
    assert len(server.requests) == len(clock.sleeps) + 1


def test_backoff_without_retry_after_doubles_with_jitter_up_to_its_cap(
    server: RecordingServer,
) -> None:
    server.answers.extend([(502, {}, {"error": "bad gateway"})] * 50)
    clock = FakeClock()

    with pytest.raises(transport.SendError, match="HTTP 502"):
        _send(server.url, clock)

    *backoffs, last = clock.sleeps
    for count, wait in enumerate(backoffs):
        ceiling = min(transport.FIRST_BACKOFF_S * 2**count, transport.MAX_BACKOFF_S)
        assert ceiling / 2 <= wait <= ceiling
    assert 0 <= last <= transport.MAX_BACKOFF_S
    assert len(set(backoffs)) > 1


def test_a_long_retry_after_is_cut_to_the_longest_wait(server: RecordingServer) -> None:
    server.answers.append((429, {"Retry-After": "120"}, {"error": "slow down"}))
    server.answers.append(ANSWERED)
    clock = FakeClock()

    assert _send(server.url, clock).status == 202
    [wait] = clock.sleeps
    assert transport.MAX_WAIT_S <= wait <= transport.MAX_WAIT_S * 1.25


def test_retry_after_zero_does_not_make_a_busy_loop(server: RecordingServer) -> None:
    server.answers.extend([(503, {"Retry-After": "0"}, {})] * 3)
    server.answers.append(ANSWERED)
    clock = FakeClock()

    assert _send(server.url, clock).status == 202
    assert all(wait >= transport.MIN_WAIT_S for wait in clock.sleeps)


def test_an_unreachable_service_costs_only_the_unreached_budget() -> None:
    clock = FakeClock()

    with pytest.raises(transport.SendError, match="ConnectionRefusedError") as raised:
        _send(f"http://127.0.0.1:{_closed_port()}", clock)

    assert sum(clock.sleeps) <= transport.UNREACHED_BUDGET_S
    assert len(clock.sleeps) >= 2  # a service restarting in a second or two is still caught
    assert raised.value.response is None


def test_a_service_that_answered_keeps_the_whole_budget_when_it_stops_answering() -> None:
    # A 503 first, then the port closes (a replica restarting): the service was there, so
    # the wait is the whole budget, not the few seconds an absent service gets.
    recording = RecordingServer().start()
    recording.answers.append((503, {"Retry-After": "1"}, {}))
    clock = FakeClock(on_sleep=lambda count: recording.stop() if count == 1 else None)

    with pytest.raises(transport.SendError, match="ConnectionRefusedError"):
        _send(recording.url, clock)

    assert len(recording.requests) == 1
    assert sum(clock.sleeps) == pytest.approx(BUDGET_S - transport.MIN_ATTEMPT_S)


def test_a_budget_of_zero_makes_one_attempt(server: RecordingServer) -> None:
    server.answers.append((503, {"Retry-After": "1"}, {}))
    clock = FakeClock()

    with pytest.raises(transport.SendError, match=r"1 attempt\(s\).*HTTP 503"):
        _send(server.url, clock, budget=0)

    assert clock.sleeps == []
    assert len(server.requests) == 1


def test_a_client_error_is_returned_at_once(server: RecordingServer) -> None:
    server.answers.append((401, {}, {"error": "bad_signature"}))
    clock = FakeClock()

    with pytest.raises(transport.SendError, match="HTTP 401") as raised:
        _send(server.url, clock)

    assert clock.sleeps == []
    assert raised.value.response is not None
    assert raised.value.response.status == 401


def test_retry_after_forms() -> None:
    assert transport._retry_after("3") == 3.0
    assert transport._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert transport._retry_after("soon") is None


@pytest.mark.parametrize(
    ("given", "budget"), [(None, 30.0), ("0", 0.0), ("2.5", 2.5), (" 600 ", 600.0)]
)
def test_the_retry_budget_input(given: str | None, budget: float) -> None:
    environ = {variable("task"): "t", variable("run"): "true"}
    if given is not None:
        environ[variable("retry-budget")] = given

    inputs = Inputs(environ)

    assert inputs.problems == []
    assert inputs.retry_budget == budget
