"""heatmeter's clock: the real time, moved by ``HEATMETER_CLOCK_OFFSET`` when asked.

Every rolling window (the scorecard's 28 days, baselines, queue times, retention) reads
this clock: in Python through :func:`now`, in SQL through ``heatmeter_now()``
(sql/013_clock.sql), which adds the session setting ``heatmeter.clock_offset``. The
service puts the same offset on each of its database connections
(:func:`server_settings`), so both sides agree on what "today" is.

The offset exists for tests: the suite runs again a year ahead and a year behind, so a
test that pins a calendar date fails today rather than on the day a window leaves it
behind. Moments that are about this machine rather than the calendar (leases, timeouts,
rate-limit resets, refresh watermarks) keep the real clock.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

OFFSET_ENV = "HEATMETER_CLOCK_OFFSET"
# The Postgres session setting heatmeter_now() reads (an interval).
SQL_SETTING = "heatmeter.clock_offset"

_OFFSET = re.compile(r"^([+-]?)([0-9]{1,6})([dhms])$")
_UNIT = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_offset(text: str) -> timedelta:
    """``+365d``, ``-365d``, ``12h``, ``0`` or empty; anything else is a ValueError."""
    text = text.strip()
    if text in ("", "0"):
        return timedelta(0)
    match = _OFFSET.match(text)
    if match is None:
        raise ValueError(
            f"{OFFSET_ENV}={text!r}: expected a signed whole number of days, hours, minutes "
            "or seconds, e.g. +365d or -12h"
        )
    sign, amount, unit = match.groups()
    delta = timedelta(**{_UNIT[unit]: int(amount)})
    return -delta if sign == "-" else delta


@functools.cache
def offset() -> timedelta:
    """The offset from the environment, read once per process."""
    return offset_from(os.environ)


def offset_from(env: Mapping[str, str]) -> timedelta:
    return parse_offset(env.get(OFFSET_ENV, ""))


def now() -> datetime:
    """The current moment on heatmeter's clock, in UTC."""
    return datetime.now(UTC) + offset()


def sql_interval(delta: timedelta) -> str:
    """The offset as Postgres reads an interval."""
    return f"{delta.total_seconds():.0f} seconds"


def server_settings() -> dict[str, str]:
    """Connection settings that give heatmeter_now() the same offset as :func:`now`."""
    delta = offset()
    return {SQL_SETTING: sql_interval(delta)} if delta else {}
