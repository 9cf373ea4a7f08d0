"""When a failed outbox item is tried again, and when it is given up: pure arithmetic.

Two kinds of failure, two schedules:

- an **outage** (GitHub's 5xx, 429 and secondary rate limits, connection resets,
  timeouts) will end by itself: the item waits 2 s, 4 s, 8 s, … up to 10 minutes
  between tries, longer when GitHub asks (``Retry-After``), and is never given up;
- a **refusal** (a 4xx no retry mends: the repository gone, the App without access, an
  invalid request; or our own crash) might be mended by a person (a permission granted,
  the App installed again): the item waits 1, 2, 4, … minutes up to an hour, and after
  ``max_refusals`` refusals in a row (8 by default: about two hours) it is abandoned.
"""

from __future__ import annotations

from dataclasses import dataclass

OUTAGE_BASE_S = 2.0
# Capped so the outbox catches up within minutes once GitHub is back.
OUTAGE_CAP_S = 600.0
REFUSAL_BASE_S = 60.0
REFUSAL_CAP_S = 3600.0
DEFAULT_MAX_REFUSALS = 8


@dataclass(frozen=True)
class NextTry:
    """Try again in ``delay_s`` seconds; or, when ``abandon``, not at all."""

    delay_s: float
    abandon: bool = False


def next_try(
    *,
    attempts: int,
    refusals: int,
    refused: bool,
    retry_after: float | None = None,
    max_refusals: int = DEFAULT_MAX_REFUSALS,
) -> NextTry:
    """What to do after a failed try.

    ``attempts`` counts tries so far, this one included; ``refusals`` counts the refusals
    in a row before this try; ``refused`` says whether this try was refused.
    """
    if refused:
        refusals += 1
        if refusals >= max_refusals:
            return NextTry(0.0, abandon=True)
        delay = min(REFUSAL_CAP_S, REFUSAL_BASE_S * 2 ** (refusals - 1))
    else:
        delay = min(OUTAGE_CAP_S, OUTAGE_BASE_S * 2 ** (max(attempts, 1) - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return NextTry(delay)


def refusal_schedule(max_refusals: int = DEFAULT_MAX_REFUSALS) -> list[float]:
    """The waits between refusals before an item is abandoned (for documentation and tests)."""
    return [
        next_try(attempts=n, refusals=n - 1, refused=True, max_refusals=max_refusals).delay_s
        for n in range(1, max_refusals)
    ]
