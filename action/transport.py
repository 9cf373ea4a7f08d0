"""HTTP with bounded retries: what a retry can fix is retried, within one time budget."""

from __future__ import annotations

import time

from action import http1, system
from action.http1 import Response

USER_AGENT = "heatmeter-action/0.1"
ATTEMPTS = 3
ATTEMPT_TIMEOUT_S = 3.0
FIRST_BACKOFF_S = 0.5
RETRY_AFTER_CAP_S = 2.0
RETRY_STATUSES = frozenset({408, 429})


class Deadline:
    """A wall-clock budget shared by every request of one action run."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())


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


def _describe(exc: Exception, timeout: float) -> str:
    # socket.timeout is only an alias of TimeoutError from Python 3.10 on.
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "timeout":
        return f"timed out (no answer within {timeout:.1f} s)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def request(
    method: str,
    url: str,
    *,
    deadline: Deadline,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Send, retrying what a retry can fix; a 2xx answer or SendError (ValueError: bad URL).

    Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff (or
    the answer's Retry-After, capped) for at most ATTEMPTS tries within `deadline`; any other
    answer is returned or raised at once.
    """
    target = http1.URL(url)
    headers = {"User-Agent": USER_AGENT, **(headers or {})}
    backoff = FIRST_BACKOFF_S
    problem = "no attempt made"
    last: Response | None = None
    for attempt in range(1, ATTEMPTS + 1):
        timeout = min(ATTEMPT_TIMEOUT_S, deadline.remaining())
        if timeout < 0.05:
            break
        wait: float | None = None
        try:
            answer = http1.exchange(method, target, headers, body, timeout)
        except http1.CertificateRejected as exc:
            raise SendError(f"TLS certificate of {target.host} rejected: {exc}") from None
        except (OSError, http1.BadResponse) as exc:
            problem = _describe(exc, timeout)
            last = None
        else:
            if 200 <= answer.status < 300:
                return answer
            last = answer
            problem = f"HTTP {answer.status}"
            if answer.status not in RETRY_STATUSES and answer.status < 500:
                raise SendError(problem, last)
            wait = _retry_after(answer.headers.get("retry-after"))
        if attempt == ATTEMPTS:
            break
        if wait is None:
            # Jitter from urandom: the `random` module costs more to import than it is worth.
            wait = backoff * (0.75 + system.urandom(1)[0] / 1020)
            backoff *= 2
        wait = min(wait, RETRY_AFTER_CAP_S)
        if wait >= deadline.remaining() - 0.05:
            break
        time.sleep(wait)
    raise SendError(f"gave up after {attempt} attempt(s): {problem}", last)
