"""The one rate-limit and retry policy, read from GitHub's answers: pure, no I/O.

Both clients read a failed answer with it: gidgethub's exceptions (the service) and
PyGithub's status and headers (the backfill) mean the same thing.
"""

from __future__ import annotations

import email.utils
from http import HTTPStatus

import gidgethub
import pytest

from heatmeter.github.policy import (
    BACKOFF_CAP_S,
    RESET_SLACK_S,
    SECONDARY_LIMIT_WAIT_S,
    Backoff,
    Failure,
    classify,
    read_answer,
)

NOW = 1_800_000_000.0  # any instant: only differences from it matter
SPENT = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}


@pytest.mark.parametrize(
    ("status", "headers", "message", "kind", "wait_s"),
    [
        (403, SPENT, "API rate limit exceeded", "rate_limited", 30 + RESET_SLACK_S),
        (429, {"retry-after": "7"}, "", "rate_limited", 7.0),
        (
            403,
            {"retry-after": email.utils.formatdate(NOW + 90, usegmt=True)},
            "",
            "rate_limited",
            90.0,
        ),
        (
            403,
            {},
            "You have exceeded a secondary rate limit",
            "rate_limited",
            SECONDARY_LIMIT_WAIT_S,
        ),
        (429, {"retry-after": "soon"}, "", "rate_limited", SECONDARY_LIMIT_WAIT_S),
        (502, {}, "Bad Gateway", "transient", None),
        (503, {"retry-after": "120"}, "", "transient", 120.0),
        (401, {}, "Bad credentials", "unauthorized", None),
        (404, {}, "Not Found", "missing", None),
        (403, {}, "Resource not accessible by integration", "refused", None),
        (422, {}, "Validation Failed", "refused", None),
    ],
)
def test_an_answer_is_read_the_same_whoever_asked(
    status: int, headers: dict, message: str, kind: str, wait_s: float | None
) -> None:
    failure = read_answer(status, headers, message, now=NOW)
    assert failure is not None
    assert (failure.kind, failure.wait_s, failure.status) == (kind, wait_s, status)
    # gidgethub's exception for the same answer (headers as GitHub spells them) agrees.
    error = gidgethub.BadRequest if status < 500 else gidgethub.GitHubBroken
    exc = error(HTTPStatus(status), message, headers={k.title(): v for k, v in headers.items()})
    again = classify(exc, now=NOW)
    assert again is not None
    assert (again.kind, again.wait_s) == (kind, wait_s)


def test_a_success_is_no_failure() -> None:
    assert read_answer(200, SPENT, "", now=NOW) is None


def test_backoff_grows_honours_asked_waits_and_stops_at_the_budget() -> None:
    clock = [0.0]
    backoff = Backoff(20.0, monotonic=lambda: clock[0], jitter=lambda low, high: high)
    transient = Failure("transient", "502")
    waits = []
    while (wait := backoff.next_wait(transient)) is not None:
        waits.append(wait)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0]  # the next 8 s would pass 20 s
    assert max(waits) <= BACKOFF_CAP_S

    asked = Backoff(20.0, monotonic=lambda: clock[0])
    assert asked.next_wait(Failure("rate_limited", "429", 429, 12.0)) == 12.0
    assert asked.next_wait(Failure("rate_limited", "429", 429, 12.0)) is None
