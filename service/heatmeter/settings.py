"""The service's settings, read once from the environment at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import clock
from .summary.stats import DEFAULT_MIN_BASELINE_RUNS

GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_API_URL = "https://api.github.com"


class SettingsError(ValueError):
    """A setting is present but unusable; the message names it."""


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".heatmeter")
    report_secret: str | None = field(default=None, repr=False)
    oidc_issuer: str = GITHUB_ACTIONS_ISSUER
    oidc_audience: str = "heatmeter"
    webhook_secret: str | None = field(default=None, repr=False)
    github_app_id: str | None = None
    github_app_private_key: str | None = field(default=None, repr=False)
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str = GITHUB_API_URL
    comment_debounce_s: float = 2.0
    # How long one comment write may spend waiting out GitHub's failures before the
    # outbox takes over and retries it later.
    github_retry_budget_s: float = 30.0
    # How often the scorecard's roll-ups catch up with task_runs; 0 turns the schedule off
    # (then run `heatmeter rollup` from elsewhere, e.g. cron).
    rollup_interval_s: float = 30.0
    max_body_bytes: int = 64 * 1024
    # How long a request's body may take to arrive in full; a client that sends half a
    # body and stalls loses its connection then (408). GitHub gives up on a webhook after
    # 10 s, so no delivery worth having takes longer.
    body_timeout_s: float = 10.0
    # How long a request's line and headers may take to arrive, from the connection's
    # opening (or the head's first byte on a kept-alive connection): a client that sends
    # them slowly, or nothing at all, loses its connection then (408). Heads are a few
    # hundred bytes; no client worth serving needs seconds.
    header_timeout_s: float = 10.0
    # How long an idle kept-alive connection is kept. Above the idle timeout of any load
    # balancer in front (AWS ALB: 60 s), or it may reuse a connection the service is
    # closing; nginx's default. aiohttp's own (an hour) would let idle connections pile up.
    keepalive_timeout_s: float = 75.0
    # How many webhook bodies may be read at once before their signature is checked; past
    # it, 503 at once. Each may be up to 25 MB (webhooks/unverified.py).
    webhook_unverified_bodies: int = 8
    # Default-branch runs a task needs before a PR's figures are compared with them.
    min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS
    log_format: str = "auto"
    # A comment write GitHub refuses (4xx, or our own crash) this many times in a row is
    # abandoned; outages (5xx, 429, network) are waited out however long they last.
    outbox_max_refusals: int = 8
    # How often the delivery sweeper asks GitHub for the App's failed deliveries (0: never),
    # and how far back it looks; GitHub redelivers at most three days back.
    delivery_sweep_interval_s: float = 300.0
    delivery_lookback_s: float = 3 * 86400.0
    # How often the App's installations are learnt from GitHub's API (0: never; webhooks
    # alone then keep them, from the service's first start on).
    installation_sync_interval_s: float = 3600.0
    # How long webhook_deliveries remembers a delivery id: longer than the look-back, so a
    # delivery the sweeper sees is still known if it was handled.
    webhook_retention_s: float = 30 * 86400.0
    # Guards the scorecard page and the read API; None leaves them open (bind to localhost).
    read_token: str | None = field(default=None, repr=False)
    # The service's public base URL, for links to the scorecard from pull-request comments.
    public_url: str | None = None
    # Task runs older than this many days are dropped, a whole month at a time; None keeps
    # everything.
    retention_days: int | None = None
    # Seconds between refreshes of task_health's snapshot (and of the partition upkeep).
    views_refresh_s: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, default: float, kind: type = int) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if value < 0:
                raise SettingsError(f"{name} must not be negative, got {raw!r}")
            return value

        def duration(name: str, default: float) -> float:
            """Seconds, or a number with a unit: ``90s``, ``5m``, ``24h``, ``30d``."""
            raw = text(name)
            if raw is None:
                return default
            match = _DURATION.match(raw.lower())
            if match is None:
                raise SettingsError(
                    f"{name} must be seconds or a duration like 90s, 5m, 24h, 30d; got {raw!r}"
                )
            return float(match[1]) * _UNIT_S[match[2]]

        min_baseline_runs = number("HEATMETER_MIN_BASELINE_RUNS", cls.min_baseline_runs)
        if min_baseline_runs < 1:
            raise SettingsError("HEATMETER_MIN_BASELINE_RUNS must be at least 1, got 0")
        log_format = text("HEATMETER_LOG_FORMAT") or "auto"
        if log_format not in {"auto", "json", "console"}:
            raise SettingsError(
                f"HEATMETER_LOG_FORMAT must be auto, json or console, got {log_format!r}"
            )
        try:
            # Read by heatmeter.clock itself (tests move it); checked here so a bad value
            # stops the service at start-up rather than at its first request.
            clock.offset_from(env)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        retention_days = None
        if text("HEATMETER_RETENTION_DAYS") is not None:
            retention_days = int(number("HEATMETER_RETENTION_DAYS", 0))
            if retention_days < 1:
                raise SettingsError(
                    "HEATMETER_RETENTION_DAYS must be a whole number of days, at least 1 "
                    "(leave it unset to keep every run)"
                )
        return cls(
            database_url=text("DATABASE_URL"),
            host=text("HEATMETER_HOST") or cls.host,
            port=int(number("HEATMETER_PORT", cls.port)),
            data_dir=Path(text("HEATMETER_DATA_DIR") or cls.data_dir),
            report_secret=text("HEATMETER_REPORT_SECRET"),
            oidc_issuer=(text("HEATMETER_OIDC_ISSUER") or GITHUB_ACTIONS_ISSUER).rstrip("/"),
            oidc_audience=text("HEATMETER_OIDC_AUDIENCE") or cls.oidc_audience,
            webhook_secret=text("GITHUB_WEBHOOK_SECRET"),
            github_app_id=text("GITHUB_APP_ID"),
            github_app_private_key=_read_private_key(text("GITHUB_APP_PRIVATE_KEY")),
            github_token=text("GITHUB_TOKEN"),
            github_api_url=(text("GITHUB_API_URL") or cls.github_api_url).rstrip("/"),
            comment_debounce_s=number("HEATMETER_COMMENT_DEBOUNCE", cls.comment_debounce_s, float),
            github_retry_budget_s=number(
                "HEATMETER_GITHUB_RETRY_BUDGET", cls.github_retry_budget_s, float
            ),
            body_timeout_s=number("HEATMETER_BODY_TIMEOUT", cls.body_timeout_s, float),
            header_timeout_s=_positive(
                duration("HEATMETER_HEADER_TIMEOUT", cls.header_timeout_s),
                "HEATMETER_HEADER_TIMEOUT",
            ),
            keepalive_timeout_s=_positive(
                duration("HEATMETER_KEEPALIVE_TIMEOUT", cls.keepalive_timeout_s),
                "HEATMETER_KEEPALIVE_TIMEOUT",
            ),
            webhook_unverified_bodies=int(
                number("HEATMETER_WEBHOOK_UNVERIFIED_BODIES", cls.webhook_unverified_bodies)
            ),
            rollup_interval_s=number("HEATMETER_ROLLUP_INTERVAL", cls.rollup_interval_s, float),
            min_baseline_runs=int(min_baseline_runs),
            log_format=log_format,
            outbox_max_refusals=int(
                number("HEATMETER_OUTBOX_MAX_REFUSALS", cls.outbox_max_refusals)
            ),
            delivery_sweep_interval_s=duration(
                "HEATMETER_DELIVERY_SWEEP_INTERVAL", cls.delivery_sweep_interval_s
            ),
            delivery_lookback_s=duration("HEATMETER_DELIVERY_LOOKBACK", cls.delivery_lookback_s),
            webhook_retention_s=duration("HEATMETER_WEBHOOK_RETENTION", cls.webhook_retention_s),
            installation_sync_interval_s=duration(
                "HEATMETER_INSTALLATION_SYNC_INTERVAL", cls.installation_sync_interval_s
            ),
            read_token=text("HEATMETER_READ_TOKEN"),
            public_url=_public_url(text("HEATMETER_PUBLIC_URL")),
            retention_days=retention_days,
            views_refresh_s=_at_least_one(
                number("HEATMETER_VIEWS_REFRESH", cls.views_refresh_s, float),
                "HEATMETER_VIEWS_REFRESH",
            ),
        )

    def __post_init__(self) -> None:
        if self.outbox_max_refusals < 1:
            raise SettingsError("HEATMETER_OUTBOX_MAX_REFUSALS must be at least 1")
        if self.webhook_unverified_bodies < 1:
            raise SettingsError("HEATMETER_WEBHOOK_UNVERIFIED_BODIES must be at least 1")
        if self.webhook_retention_s <= self.delivery_lookback_s:
            # Else the sweeper could see a delivery that was handled but already forgotten,
            # and have GitHub send it again: its effects would happen twice.
            raise SettingsError(
                "HEATMETER_WEBHOOK_RETENTION must be longer than HEATMETER_DELIVERY_LOOKBACK"
            )


def _public_url(value: str | None) -> str | None:
    """The base URL without a trailing slash; only http(s) URLs with a host are accepted."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"HEATMETER_PUBLIC_URL must be an http(s) base URL such as "
            f"https://heatmeter.example.com, got {value!r}"
        )
    return value.rstrip("/")


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise SettingsError(f"{name} must be more than 0 seconds, got {value:g}")
    return value


def _at_least_one(value: float, name: str) -> float:
    if value < 1:
        raise SettingsError(f"{name} must be at least 1 second, got {value:g}")
    return value


def _read_private_key(value: str | None) -> str | None:
    """Accept the App's key as PEM text or as a path to a PEM file."""
    if value is None or value.startswith("-----BEGIN"):
        return value
    path = Path(value).expanduser()
    try:
        return path.read_text()
    except OSError as exc:
        raise SettingsError(
            f"GITHUB_APP_PRIVATE_KEY is neither PEM text nor a readable file: {exc.strerror}"
        ) from None
