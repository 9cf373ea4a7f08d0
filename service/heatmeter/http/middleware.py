"""The middleware every request passes: a request id, one log line, and JSON for every failure."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from ..appkeys import metrics_key
from ..db.connections import DATABASE_DOWN
from .errors import CLOSE_CONNECTION, ERROR_CODE, ClientError, json_error

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Fields a handler adds to its request's one log line (see add_to_request_log).
_log_fields: ContextVar[dict[str, Any] | None] = ContextVar("log_fields", default=None)


def add_to_request_log(**fields: Any) -> None:
    """Put `fields` on the one line this request logs when it is answered."""
    current = _log_fields.get()
    if current is not None:
        current.update(fields)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (kept from X-Request-Id when sane) and one log line."""
    request_id = request.headers.get("X-Request-Id", "")
    if not (0 < len(request_id) <= 64 and request_id.isascii() and request_id.isprintable()):
        request_id = uuid.uuid4().hex
    started = time.perf_counter()
    fields: dict[str, Any] = {}
    token = _log_fields.set(fields)
    try:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await _answer(request, handler)
            response.headers["X-Request-Id"] = request_id
            metrics = request.app[metrics_key]
            metrics.observe_request(request, response.status, started)
            if response.status >= 400:
                error = response.get(ERROR_CODE, "unknown")
                metrics.errors.labels(str(response.status), error).inc()
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                **fields,
            )
            if response.get(CLOSE_CONNECTION):
                await _answer_and_close(request, response)
            return response
    finally:
        _log_fields.reset(token)


async def _answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send the answer, then close at once. aiohttp would otherwise keep reading (and
    discarding) an unread body for up to 10 s ("lingering"), so that a client still
    sending sees the answer; a client whose body was refused or stalled gets no such time."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClientError as exc:
        # Also a client that hung up mid-body: its fault, not an outage of ours.
        log.info("request refused", error=exc.error, detail=exc.detail)
        response = json_error(exc.status, exc.error, exc.detail)
        response[CLOSE_CONNECTION] = exc.close
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else exc.reason
        response = json_error(exc.status, _slug(exc.reason), detail)
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except DATABASE_DOWN as exc:
        log.warning("database unavailable", error=repr(exc))
        if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
            detail = "the database takes no writes right now (read-only); retry later"
        else:
            detail = "the database is unreachable; retry later"
        return json_error(503, "database_unavailable", detail)
    except Exception:
        # Our bug: the traceback goes to the log, never into the answer.
        log.exception("unhandled error", method=request.method, path=request.path)
        return json_error(500, "internal_error", "an unexpected error; it has been logged")


def _slug(reason: str) -> str:
    return reason.lower().replace(" ", "_").replace("-", "_")
