"""HTTP with retries: what a retry can fix is retried with backoff, within a time budget.

A service that answers (503 with Retry-After while its database restarts, 429, 5xx) is
waited for until the budget (the `retry-budget` input, 30 s by default) runs out. A service
that never answers at all (connection refused, DNS failure, timeouts) costs at most
UNREACHED_BUDGET_S, since waiting longer for what is not there only holds the job.
"""

from __future__ import annotations

import time

from action import http1, responses, system
from action.responses import Response

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from action.proxy import Proxy

USER_AGENT = "heatmeter-action/0.1"
UNREACHED_BUDGET_S = 4.0
ATTEMPT_TIMEOUT_S = 5.0  # one attempt: lookup, connect, TLS, request and answer
FIRST_ATTEMPT_S = 1.0  # the first attempt gets this much even when the budget is spent
MIN_ATTEMPT_S = 1.0  # a retry is only made with this much budget left for it
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_WAIT_S = 10.0  # a longer Retry-After is cut to this, to try again within the budget
MIN_WAIT_S = 0.25  # a `Retry-After: 0` does not make a busy loop
RETRY_STATUSES = frozenset({408, 429})


class Clock:
    """Monotonic time and sleeping; a test passes a clock whose sleep only moves time on."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = Clock()


class Deadline:
    """A time budget shared by every request of one report (the OIDC token and the report)."""

    def __init__(self, seconds: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.ends = clock.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends - self.clock.monotonic())


class SendError(Exception):
    """No usable answer: the message says why, for a warning annotation."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    # An HTTP date: rare enough that `email.utils` (slow to import) is only loaded for it.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _jitter() -> float:
    """A fraction in [0, 1), from urandom: `random` costs more to import than it is worth."""
    return int.from_bytes(system.urandom(2), "big") / 65536


def _describe(exc: Exception, timeout: float) -> str:
    # socket.timeout is only an alias of TimeoutError from Python 3.10 on.
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "timeout":
        # The socket's own message is a bare "timed out"; the action's own say what timed out.
        if str(exc) in ("", "timed out"):
            return f"timed out (no answer within {timeout:.1f} s)"
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _proxy_for(target: http1.URL, environ: Mapping[str, str]) -> Proxy | None:
    # Most runners have no proxy: a look at the variables' names is all they pay for it.
    if not any(name[-6:].lower() == "_proxy" for name in environ):
        return None
    from action import proxy

    try:
        return proxy.for_url(target, environ)
    except proxy.ProxySettingError as exc:
        raise SendError(str(exc)) from None


def request(
    method: str,
    url: str,
    *,
    deadline: Deadline,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Response:
    """Send, retrying what a retry can fix; a 2xx answer or SendError (ValueError: bad URL).

    Connection errors, timeouts, 408, 429 and 5xx are retried after the answer's Retry-After
    (never sooner; at most MAX_WAIT_S) or an exponential backoff with jitter, until
    `deadline`, or UNREACHED_BUDGET_S while no answer has come at all. A wait that would
    pass the budget is shortened to make one last attempt at its end, so an outage shorter
    than the budget is ridden out. Any other answer is returned or raised at once.
    `environ` gives the proxy variables (the process's own by default).
    """
    target = http1.URL(url)
    route = _proxy_for(target, system.environ if environ is None else environ)
    headers = {"User-Agent": USER_AGENT, **(headers or {})}
    clock = deadline.clock
    began = clock.monotonic()
    answered = False  # an HTTP answer came: the service is there, only unwell
    backoff = FIRST_BACKOFF_S
    attempts = 0
    final = False
    problem = "no attempt made"
    last: Response | None = None

    def time_left() -> float:
        ends = deadline.ends if answered else min(deadline.ends, began + UNREACHED_BUDGET_S)
        return ends - clock.monotonic()

    while True:
        left = time_left()
        timeout = min(ATTEMPT_TIMEOUT_S, left if attempts else max(left, FIRST_ATTEMPT_S))
        attempts += 1
        wait: float | None = None
        try:
            answer = http1.exchange(method, target, headers, body, timeout, route)
        except http1.CertificateRejected as exc:
            raise SendError(f"TLS certificate of {target.host} rejected: {exc}") from None
        except responses.ResponseTooLarge as exc:
            raise SendError(str(exc)) from None
        except http1.TunnelRefused as exc:
            if 400 <= exc.status < 500 and exc.status not in RETRY_STATUSES:
                hint = " (give credentials in the proxy URL)" if exc.status == 407 else ""
                raise SendError(f"{exc}{hint}") from None
            problem = str(exc)
            last = None
        except (OSError, responses.BadResponse) as exc:
            problem = _describe(exc, timeout)
            answered = answered or getattr(exc, "answered", False)
            last = None
        else:
            answered = True
            if 200 <= answer.status < 300:
                return answer
            last = answer
            problem = f"HTTP {answer.status}"
            if answer.status not in RETRY_STATUSES and answer.status < 500:
                raise SendError(problem, last)
            wait = _retry_after(answer.headers.get("retry-after"))
        left = time_left()
        if final or left < MIN_ATTEMPT_S:
            break
        if wait is None:
            wait = backoff * (0.5 + _jitter() / 2)
            backoff = min(2 * backoff, MAX_BACKOFF_S)
        else:  # never sooner than asked; spread, so that clients do not all come back at once
            wait = max(MIN_WAIT_S, min(wait, MAX_WAIT_S)) * (1 + _jitter() / 4)
        if wait > left - MIN_ATTEMPT_S:
            wait = left - MIN_ATTEMPT_S
            final = True
        clock.sleep(wait)
    spent = clock.monotonic() - began
    raise SendError(f"gave up after {attempts} attempt(s) in {spent:.1f} s: {problem}", last)
