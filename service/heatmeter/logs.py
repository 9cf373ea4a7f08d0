"""structlog set-up: JSON lines in production, readable lines on a terminal, secrets redacted."""

from __future__ import annotations

import functools
import logging
import re
import sys
from typing import Any

import structlog

# Keys whose values must never reach a log, whatever the caller passes.
_SECRET_KEY = re.compile(r"secret|token|password|authorization|signature|private_key|dsn", re.I)
_DSN_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _redact(value: Any) -> Any:
    # The "://" test only skips the regex for values it could never match: every request
    # logs a line, and the regex on each of its values was a tenth of a report's cost.
    if isinstance(value, str) and "://" in value:
        return _DSN_PASSWORD.sub(r"\1***@", value)
    return value


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return key != "event" and _SECRET_KEY.search(key) is not None


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Blank values under secret-looking keys and passwords inside DSNs."""
    for key, value in event_dict.items():
        if isinstance(key, str) and _is_secret_key(key):
            event_dict[key] = "***"
        else:
            event_dict[key] = _redact(value)
    return event_dict


def configure_logging(log_format: str = "auto", level: int = logging.INFO) -> None:
    """Route structlog and the standard library (aiohttp, asyncpg) through one renderer."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else _keep,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # What no line shows is not computed: the caller's frame, thread and process (the
    # logging HOWTO's "Optimization"). Every request logs a line, so this is per report.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # aiohttp's access log duplicates our own request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _keep(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return event_dict
