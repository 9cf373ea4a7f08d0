"""HTTP with bounded retries (http.client), and the HMAC signature of a report body."""

from __future__ import annotations

import http.client
import os
import ssl
import time
from urllib.parse import urlsplit

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


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> object:
        import json

        try:
            return json.loads(self.body)
        except ValueError:
            return None


class SendError(Exception):
    """No usable answer: the message says why, for a warning annotation."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


def sign(secret: str, body: bytes) -> str:
    """The `X-Heatmeter-Signature-256` value: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
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


def _request_once(
    method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> Response:
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    else:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} (use http or https)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, body=body, headers={"User-Agent": USER_AGENT, **headers})
        answer = connection.getresponse()
        payload = answer.read(1 << 20)
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload)
    finally:
        connection.close()


def request(
    method: str,
    url: str,
    *,
    deadline: Deadline,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Send, retrying what a retry can fix; a 2xx answer or SendError.

    Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff (or
    the answer's Retry-After, capped) for at most ATTEMPTS tries within `deadline`; any other
    answer is returned or raised at once.
    """
    headers = headers or {}
    backoff = FIRST_BACKOFF_S
    problem = "no attempt made"
    last: Response | None = None
    for attempt in range(1, ATTEMPTS + 1):
        timeout = min(ATTEMPT_TIMEOUT_S, deadline.remaining())
        if timeout < 0.05:
            break
        wait: float | None = None
        try:
            answer = _request_once(method, url, body, headers, timeout)
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"TLS certificate of {urlsplit(url).hostname} rejected: {exc}"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            problem = _describe(exc, timeout)
            last = None
        else:
            if 200 <= answer.status < 300:
                return answer
            last = answer
            problem = f"HTTP {answer.status}"
            if answer.status not in RETRY_STATUSES and answer.status < 500:
                raise SendError(problem, answer)
            wait = _retry_after(answer.headers.get("retry-after"))
        if attempt == ATTEMPTS:
            break
        if wait is None:
            # Jitter from os.urandom: the `random` module costs more to import than it is worth.
            wait = backoff * (0.75 + os.urandom(1)[0] / 1020)
            backoff *= 2
        wait = min(wait, RETRY_AFTER_CAP_S)
        if wait >= deadline.remaining() - 0.05:
            break
        time.sleep(wait)
    raise SendError(f"gave up after {attempt} attempt(s): {problem}", last)
