"""Serving the app: aiohttp's runner, with a deadline for request heads, and its HTTP
parser's refusals answered in JSON too.

aiohttp refuses a request line or header over its limits, or bytes that are not HTTP,
inside its parser, before any middleware runs, and answers in text/plain; it offers no
hook for that answer (aio-libs/aiohttp#3287). `RequestHandler.handle_error` makes it, so
the runner here builds its server with a handler class whose `handle_error` answers like
every other error of the service: JSON, counted in /metrics, one log line.

aiohttp has no deadline for a request's line and headers either: a client sending them a
byte at a time (slowloris), or nothing at all, holds its connection until the keep-alive
timer ends it. The same handler class gives each head ``header_timeout_s`` (the setting
HEATMETER_HEADER_TIMEOUT): from the connection's opening for its first request, from the
first byte of the next one on a kept-alive connection (an idle kept-alive connection is
the keep-alive timer's, HEATMETER_KEEPALIVE_TIMEOUT). A head that is not complete by then
is answered 408 and its connection closed. A head is complete when its handler starts,
which the runner's wrapper of the app's handler tells the connection.

Both lean on aiohttp internals (`handle_error`, the class of the `Server` the runner
builds); tests/http/test_server.py pins them, so an aiohttp upgrade that breaks them fails
the tests.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..appkeys import metrics_key, settings_key
from .errors import json_error

log = structlog.get_logger(__name__)

_MAX_DETAIL_CHARS = 200


class _ServiceRequestHandler(web.RequestHandler):
    """One connection: aiohttp's handler, with JSON refusals and a deadline for each head."""

    __slots__ = ("_head_begun", "_head_deadline", "_in_request", "_service")

    _service: _ServiceServer

    def setup(self, service: _ServiceServer) -> None:
        self._service = service
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_begun = False  # a byte of the awaited head has come
        self._in_request = False  # a head is complete and its request in hand

    # -- the head deadline ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if data and not self._in_request:
            # The first byte of a head on a kept-alive connection starts its deadline;
            # bytes while a request is in hand are its body (or pipelined: see below).
            self._head_begun = True
            if self._head_deadline is None:
                self._arm_head_deadline()
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def head_received(self) -> None:
        """The runner's wrapper, as the request's handler starts: the head is complete."""
        self._disarm_head_deadline()
        self._head_begun = False
        self._in_request = True

    def request_done(self) -> None:
        # A head already buffered behind this request (pipelined, sent with it) finds
        # no deadline here; the keep-alive timer ends the connection if it never ends.
        self._in_request = False

    def _arm_head_deadline(self) -> None:
        timeout = self._service.head_timeout_s
        if timeout is not None and self._head_deadline is None:
            self._head_deadline = asyncio.get_running_loop().call_later(
                timeout, self._head_too_slow
            )

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self._in_request or self.transport is None:
            return
        if self.transport.get_write_buffer_size():
            # The previous answer is still going out to a slow reader (and the next head
            # came early): no cutting into it; the head gets another while.
            self._arm_head_deadline()
            return
        if self._head_begun:
            timeout = self._service.head_timeout_s
            detail = f"the request line and headers did not arrive within {timeout:g} s"
            log.info("slow request head refused", status=408, error="header_timeout")
            self._service.count_error(408, "header_timeout")
            self.transport.write(_raw_json_answer(408, "Request Timeout", "header_timeout", detail))
        # else: a connection that never sent a byte gets no answer, only its end.
        self.force_close()

    # -- the parser's refusals --------------------------------------------------------

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
        self._service.count_error(status, error)
        response = json_error(status, error, detail)
        response.force_close()
        return response


class _ServiceServer(web.Server):
    """aiohttp's Server, building `_ServiceRequestHandler`s; set up by `AppRunner`."""

    on_error: Callable[[int, str], None] | None = None
    head_timeout_s: float | None = None

    def __call__(self) -> web.RequestHandler:
        handler = _ServiceRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.setup(self)
        return handler

    def count_error(self, status: int, error: str) -> None:
        if self.on_error is not None:
            self.on_error(status, error)


def _handler_telling_heads(
    handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """The app's handler, telling each connection when its request's head is complete."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        connection = request.protocol
        if isinstance(connection, _ServiceRequestHandler):
            connection.head_received()
        try:
            return await handler(request)
        finally:
            if isinstance(connection, _ServiceRequestHandler):
                connection.request_done()

    return handle


class AppRunner(web.AppRunner):
    """`web.AppRunner` whose HTTP-level refusals are JSON and counted in the app's metrics,
    with the app's deadlines for request heads and idle kept-alive connections."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        settings = app.get(settings_key)
        if settings is not None:
            kwargs.setdefault("keepalive_timeout", settings.keepalive_timeout_s)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The one change is the class that handles each connection; everything else
        # stays aiohttp's own server, as configured by the app and runner.
        server.__class__ = _ServiceServer
        assert isinstance(server, _ServiceServer)
        settings = self.app.get(settings_key)
        if settings is not None:
            server.head_timeout_s = settings.header_timeout_s
        server.request_handler = _handler_telling_heads(server.request_handler)
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


def _raw_json_answer(status: int, reason: str, error: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer, written straight to a connection no request holds."""
    body = json.dumps({"error": error, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _slug(name: str) -> str:
    """``LineTooLong`` → ``line_too_long``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
