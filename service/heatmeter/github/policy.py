"""How heatmeter waits for GitHub: the rate-limit rule and the retry schedule, for both clients.

The service calls GitHub through gidgethub (``client.py``), ``heatmeter backfill`` walks
the Actions history through PyGithub (``backfill/walk.py``); both read a failed answer
with ``read_answer`` and space their retries with ``Backoff``, so GitHub's advice is
followed the same way whichever library asked:

- a primary rate limit used up (``x-ratelimit-remaining: 0``) is waited for until its
  ``x-ratelimit-reset``, plus a second of slack for GitHub's whole-second clock;
- ``Retry-After`` (seconds or an HTTP date) is honoured wherever GitHub sends it;
- a secondary rate limit (a 429, or a 403 that says so) that names no time waits a
  minute, GitHub's advice;
- 5xx answers and network failures are retried with exponential backoff and jitter;
- other 4xx answers are refusals: a retry changes nothing.

Everything here is pure but the clocks, which callers inject.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp
import gidgethub
import gidgethub.sansio

# GitHub's advice for a secondary rate limit that names no time: wait at least a minute.
SECONDARY_LIMIT_WAIT_S = 60.0
# A reset instant is whole seconds on GitHub's clock; one more covers the rounding and skew.
RESET_SLACK_S = 1.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0

Clock = Callable[[], float]
FailureKind = Literal["transient", "rate_limited", "unauthorized", "missing", "refused"]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str
    status: int | None = None
    wait_s: float | None = None  # what GitHub asked for, when it did


def read_answer(
    status: int, headers: Mapping[str, str], message: str, *, now: float
) -> Failure | None:
    """What a failed answer means for retrying it; None for an answer that is no failure.

    ``headers`` with lower-case names; ``now`` is seconds since the epoch on our clock
    (``x-ratelimit-reset`` and ``Retry-After`` dates are GitHub's).
    """
    if status < 400:
        return None
    detail = f"{status} {message}".strip()
    asked = _asked_wait(headers, now)
    if status == 429 or (status == 403 and _is_rate_limit(headers, message)):
        return Failure(
            "rate_limited", detail, status, SECONDARY_LIMIT_WAIT_S if asked is None else asked
        )
    if status >= 500:
        return Failure("transient", detail, status, asked)
    if status == 401:
        return Failure("unauthorized", detail, status)
    if status == 404:
        return Failure("missing", detail, status)
    return Failure("refused", detail, status)


def exhausted(limit: gidgethub.sansio.RateLimit | None, *, now: float) -> Failure | None:
    """A rate limit this identity has already used up, as the failure its next call would be."""
    if limit is None or limit.remaining > 0:
        return None
    wait = limit.reset_datetime.timestamp() - now
    if wait <= 0:
        return None
    return Failure("rate_limited", "rate limit used up until its reset", 403, wait + RESET_SLACK_S)


def classify(exc: BaseException, *, now: float) -> Failure | None:
    """A failed gidgethub call, read by ``read_answer``; None for failures that are our bugs."""
    if isinstance(exc, gidgethub.HTTPException):
        headers = {k.lower(): v for k, v in exc.headers.items()}
        return read_answer(int(exc.status_code), headers, str(exc), now=now)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return Failure("transient", f"{type(exc).__name__}: {exc}".rstrip(": "))
    return None


class Backoff:
    """The waits between tries of one logical change: exponential backoff with jitter,
    never shorter than what GitHub asked for, within a budget of time.

    Time spent counts as the larger of the time passed (``monotonic``) and the time
    slept, so a test's sleep that returns at once still exhausts the budget, and so do
    slow answers.
    """

    def __init__(
        self,
        budget_s: float,
        *,
        monotonic: Clock = time.monotonic,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._budget_s = budget_s
        self._monotonic = monotonic
        self._jitter = jitter
        self._started = monotonic()
        self._slept = 0.0
        self.failures = 0

    def next_wait(self, failure: Failure) -> float | None:
        """Seconds to wait before the next try after ``failure``; None once the budget
        cannot cover the wait (then give up, saying ``failure.wait_s``)."""
        self.failures += 1
        backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (self.failures - 1))
        # Jitter spreads replicas that failed together; it is not a secret.
        delay = backoff * self._jitter(0.5, 1.0)
        if failure.wait_s is not None:
            delay = max(delay, failure.wait_s)
        spent = max(self._monotonic() - self._started, self._slept)
        if delay > self._budget_s - spent:
            return None
        self._slept += delay
        return delay


def _is_rate_limit(headers: Mapping[str, str], message: str) -> bool:
    # A 403 is a rate limit only when GitHub says so; otherwise it is a permission refusal.
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    )


def _asked_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds GitHub asked us to wait: ``Retry-After``, else until the rate limit's reset."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(retry_after)
                return max(0.0, when.timestamp() - now)
    if headers.get("x-ratelimit-remaining") == "0":
        with contextlib.suppress(KeyError, ValueError):
            reset = float(headers["x-ratelimit-reset"])
            return max(0.0, reset - now) + RESET_SLACK_S
    return None
