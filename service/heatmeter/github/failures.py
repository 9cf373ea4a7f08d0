"""What a failed GitHub call means for retrying it: pure reading of GitHub's answers."""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp
import gidgethub
import gidgethub.sansio

# GitHub's advice for a secondary rate limit that names no time: wait at least a minute.
_SECONDARY_LIMIT_WAIT_S = 60.0
# A reset instant is whole seconds on GitHub's clock; one more covers the rounding and skew.
_RESET_SLACK_S = 1.0


FailureKind = Literal["transient", "rate_limited", "unauthorized", "missing", "refused"]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str
    status: int | None = None
    wait_s: float | None = None  # what GitHub asked for, when it did


def exhausted(limit: gidgethub.sansio.RateLimit | None) -> Failure | None:
    """A rate limit this identity has already used up, as the failure its next call would be."""
    if limit is None or limit.remaining > 0:
        return None
    wait = limit.reset_datetime.timestamp() - time.time()
    if wait <= 0:
        return None
    return Failure("rate_limited", "rate limit used up until its reset", 403, wait + _RESET_SLACK_S)


def classify(exc: BaseException) -> Failure | None:
    """What a failed call means for retrying it; None for failures that are our bugs."""
    if isinstance(exc, gidgethub.HTTPException):
        status = int(exc.status_code)
        detail = f"{status} {exc}"
        headers = exc.headers
        if isinstance(exc, gidgethub.RateLimitExceeded):
            wait = _asked_wait(headers)
            if wait is None:
                wait = exc.rate_limit.reset_datetime.timestamp() - time.time() + _RESET_SLACK_S
            return Failure("rate_limited", detail, status, max(0.0, wait))
        if status == 429 or (status == 403 and _is_secondary_limit(headers, str(exc))):
            wait = _asked_wait(headers)
            return Failure(
                "rate_limited", detail, status, _SECONDARY_LIMIT_WAIT_S if wait is None else wait
            )
        if status >= 500:
            return Failure("transient", detail, status, _asked_wait(headers))
        if status == 401:
            return Failure("unauthorized", detail, status)
        if status == 404:
            return Failure("missing", detail, status)
        return Failure("refused", detail, status)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return Failure("transient", f"{type(exc).__name__}: {exc}".rstrip(": "))
    return None


def _is_secondary_limit(headers: Mapping[str, str], message: str) -> bool:
    # A 403 is a rate limit only when GitHub says so; otherwise it is a permission refusal.
    limit = gidgethub.sansio.RateLimit.from_http(headers)
    return (
        "retry-after" in headers
        or (limit is not None and limit.remaining == 0)
        or "rate limit" in message.lower()
    )


def _asked_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds GitHub asked us to wait: ``Retry-After``, else until the rate limit's reset."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(retry_after)
                return max(0.0, when.timestamp() - time.time())
    limit = gidgethub.sansio.RateLimit.from_http(headers)
    if limit is not None and limit.remaining == 0:
        return max(0.0, limit.reset_datetime.timestamp() - time.time() + _RESET_SLACK_S)
    return None
