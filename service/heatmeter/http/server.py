"""Serving the app: aiohttp's runner, with its HTTP parser's refusals answered in JSON too.

aiohttp refuses a request line or header over its limits, or bytes that are not HTTP,
inside its parser, before any middleware runs, and answers in text/plain; it offers no
hook for that answer (aio-libs/aiohttp#3287). `RequestHandler.handle_error` makes it, so
the runner here builds its server with a handler class whose `handle_error` answers like
every other error of the service: JSON, counted in /metrics, one log line.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..appkeys import metrics_key
from .errors import json_error

log = structlog.get_logger(__name__)

_MAX_DETAIL_CHARS = 200


class _JsonErrorRequestHandler(web.RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # Part of an answer is out already; there is no sending another (as aiohttp).
            raise ConnectionError("an answer was partly sent before the error")
        if status >= 500:
            # The app's middleware answers every exception of a handler; one that gets
            # here is a bug in the middleware itself.
            log.error("unhandled error outside the middleware", exc_info=exc)
            error, detail = "internal_error", "an unexpected error; it has been logged"
        else:
            error = (
                _slug(type(exc).__name__) if isinstance(exc, HttpProcessingError) else "bad_request"
            )
            detail = (message or "the request is not valid HTTP")[:_MAX_DETAIL_CHARS]
            log.info("malformed request refused", status=status, error=error, detail=detail)
        on_error = getattr(self._manager, "on_error", None)
        if on_error is not None:
            on_error(status, error)
        response = json_error(status, error, detail)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    on_error: Callable[[int, str], None] | None = None

    def __call__(self) -> web.RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """`web.AppRunner` whose HTTP-level refusals are JSON and counted in the app's metrics."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The one change is the class that handles each connection; everything else
        # stays aiohttp's own server, as configured by the app and runner.
        server.__class__ = _JsonErrorServer
        metrics = self.app.get(metrics_key)
        if metrics is not None:
            errors = metrics.errors
            server.on_error = lambda status, error: errors.labels(str(status), error).inc()
        return server


def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    **runner_args: Any,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop gracefully, as `web.run_app` does (POSIX).

    The listener closes, requests in flight get ``shutdown_timeout`` seconds to finish,
    then the app's cleanup runs. OSError if the address cannot be bound. ``loop_factory``
    picks the event loop (uvloop, say).
    """
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(app, host, port, shutdown_timeout, runner_args))


async def _serve(
    app: web.Application, host: str, port: int, shutdown_timeout: float, runner_args: dict
) -> None:
    # A signal sets an event rather than raising out of the loop (as web.run_app's
    # GracefulExit does): asyncio.run would then cancel the requests in flight too.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = AppRunner(app, shutdown_timeout=shutdown_timeout, **runner_args)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await stop.wait()
    finally:
        await runner.cleanup()


def _slug(name: str) -> str:
    """``LineTooLong`` → ``line_too_long``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
