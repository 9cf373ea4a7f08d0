"""Pure: how long GitHub asked us to wait before asking again, from a refused answer."""

from __future__ import annotations

from collections.abc import Mapping

# A secondary rate limit that names no time: GitHub's advice is at least a minute.
SECONDARY_LIMIT_WAIT_S = 60.0
# The reset instant is whole seconds on GitHub's clock; one more covers rounding and skew.
RESET_SLACK_S = 1.0


def rate_limit_wait(
    status: int, headers: Mapping[str, str] | None, message: str, *, now: float
) -> float | None:
    """Seconds to wait when the answer is a rate limit (primary or secondary), else None.

    ``now`` is seconds since the epoch on our clock; ``x-ratelimit-reset`` is GitHub's.
    """
    if status not in (403, 429):
        return None
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return SECONDARY_LIMIT_WAIT_S
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            reset = float(headers["x-ratelimit-reset"])
        except ValueError:
            return SECONDARY_LIMIT_WAIT_S
        return max(0.0, reset - now) + RESET_SLACK_S
    if "rate limit" in message.lower() or status == 429:
        return SECONDARY_LIMIT_WAIT_S
    return None
