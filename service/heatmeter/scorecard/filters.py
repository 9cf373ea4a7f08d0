"""What a scorecard shows, read from URL query parameters or CLI flags: pure parsing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

KINDS = ("scaffolding", "deploy", "provisioning", "other")
# The HEAT windows of DESIGN.md: the last 28 days, against the 28 days before.
DEFAULT_PERIOD = timedelta(days=28)
MAX_PERIOD = timedelta(days=366)
# The dates a window may name. Python's datetime ends at years 1 and 9999, and a window
# near either edge overflowed in the arithmetic after parsing (its previous period, its
# weeks), a 500; no CI run predates the Unix epoch, and none has run a year from now.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=366)
MAX_NAME_CHARS = 200
ALL_PARAMETERS = frozenset({"repository", "task", "kind", "since", "until", "period"})
# ASCII digits only: `\d` would also read "\uff12\uff18d" (fullwidth 28d) as 28 days.
_DURATION = re.compile(r"^([0-9]{1,4})([dw])$")
_UNITS = {"d": timedelta(days=1), "w": timedelta(weeks=1)}
_DAY = timedelta(days=1)


class FilterError(ValueError):
    """A filter is unusable; ``parameter`` names it, the message says why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Filters:
    """One view of the scorecard: a window [since, until) of whole UTC days, and narrowing.

    Whole days because the scorecard reads daily roll-ups (sql/007). The previous period
    is the window of the same length just before ``since``, so each figure can be shown
    with its change.
    """

    since: datetime
    until: datetime
    repository: str | None = None
    task: str | None = None
    kind: str | None = None
    # The window as the user wrote it (since, until, period), so links keep "28d" relative.
    window_params: tuple[tuple[str, str], ...] = ()

    @property
    def period(self) -> timedelta:
        return self.until - self.since

    @property
    def previous_since(self) -> datetime:
        return self.since - self.period

    def query(self, **changes: str | None) -> dict[str, str]:
        """URL query parameters that reproduce this view (with ``changes`` applied)."""
        params: dict[str, str | None] = dict(self.window_params)
        params.update(repository=self.repository, task=self.task, kind=self.kind)
        params.update(changes)
        return {k: v for k, v in params.items() if v}

    def narrowed(self, **changes: object) -> Filters:
        return replace(self, **changes)


def parse_duration(text: str) -> timedelta | None:
    """``28d`` or ``4w`` as a timedelta; None when ``text`` is not a duration."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        return None
    return int(match[1]) * _UNITS[match[2]]


def format_period(period: timedelta) -> str:
    """A window's length as the filters write it: ``28d``."""
    return f"{period.days}d"


def day_start(moment: datetime) -> datetime:
    """Midnight UTC at the start of ``moment``'s day."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def day_end(moment: datetime) -> datetime:
    """``moment`` if it is midnight UTC, else the next midnight: the window ends after it."""
    start = day_start(moment)
    return start if start == moment else start + _DAY


def parse_instant(parameter: str, text: str, now: datetime) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or a duration before ``now``;
    from 1970-01-01 to a year after ``now``."""
    text = text.strip()
    if not text.isascii():
        raise FilterError(parameter, f"only ASCII letters and digits, got {text[:40]!r}")
    if (ago := parse_duration(text)) is not None:
        if ago > MAX_PERIOD * 2:
            raise FilterError(parameter, f"at most {MAX_PERIOD.days * 2} days back")
        return now - ago
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(
            parameter,
            f"expected an ISO date (2026-11-01), a date-time or a duration (28d), "
            f"got {text[:40]!r}",
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # Compared as instants (no conversion, which could itself overflow at the edges).
    if not EARLIEST <= value <= now + MAX_AHEAD:
        raise FilterError(
            parameter,
            f"a date from {EARLIEST:%Y-%m-%d} to {now + MAX_AHEAD:%Y-%m-%d} "
            f"(a year from today), got {text[:40]!r}",
        )
    return value


def parse_filters(params: Mapping[str, str], now: datetime, *, allowed: frozenset[str]) -> Filters:
    """Filters from query parameters; unknown or malformed ones raise FilterError.

    ``period`` (a duration) and ``since`` (a date or a duration back from now) both set
    the window's start; ``until`` its end (default now). The window then widens to whole
    UTC days: it ends at the midnight after ``until`` (so today counts) and is as many
    days long as asked, rounded up.
    """
    for name in params:
        if name not in allowed:
            raise FilterError(name, f"unknown parameter; use {', '.join(sorted(allowed))}")
    until = parse_instant("until", params["until"], now) if params.get("until") else now
    if params.get("since"):
        since = parse_instant("since", params["since"], now)
        if params.get("period"):
            raise FilterError("period", "give since or period, not both")
    elif params.get("period"):
        period = parse_duration(params["period"])
        if period is None:
            raise FilterError("period", f"expected a duration such as 28d or 4w, "
                              f"got {params['period'][:40]!r}")  # fmt: skip
        since = until - period
    else:
        since = until - DEFAULT_PERIOD
    if since >= until:
        raise FilterError("since", "must be before until")
    if until - since > MAX_PERIOD:
        raise FilterError("since", f"the window is at most {MAX_PERIOD.days} days")
    end = day_end(until)
    days = -((since - until) // _DAY)  # whole days, rounded up
    until, since = end, end - days * _DAY
    kind = _name(params, "kind")
    if kind is not None and kind not in KINDS:
        raise FilterError("kind", f"one of {', '.join(KINDS)}")
    return Filters(
        since=since,
        until=until,
        repository=_name(params, "repository"),
        task=_name(params, "task"),
        kind=kind,
        window_params=tuple(
            (name, params[name].strip())
            for name in ("since", "until", "period")
            if params.get(name)
        ),
    )


def _name(params: Mapping[str, str], parameter: str) -> str | None:
    value = params.get(parameter, "").strip()
    if len(value) > MAX_NAME_CHARS:
        raise FilterError(parameter, f"at most {MAX_NAME_CHARS} characters")
    if any(not ch.isprintable() for ch in value):
        raise FilterError(parameter, "must not contain control characters")
    return value or None
