"""The HTTP server's own defences, over a raw socket: request heads that never finish, and
the aiohttp internals the service's server leans on, pinned.

A client that sends its request line and headers slowly (slowloris) or not at all holds a
connection, a file descriptor and a parser for as long as the server lets it. aiohttp's
server has no deadline for a request head of its own: only the keep-alive timer (an hour by
default) ever ends such a connection. The service's server gives each head
``HEATMETER_HEADER_TIMEOUT`` from the connection's opening, or from the head's first byte
on a kept-alive connection, and an idle kept-alive connection
``HEATMETER_KEEPALIVE_TIMEOUT``.

No test here measures time: the deadlines are set short, and the tests wait for the events
(an answer, the connection's end), never for a duration; the one pause is the idleness
under test itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from dataclasses import replace

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.settings import Settings, SettingsError

from ..conftest import ServiceTestServer, serve_app
from ..hostile.test_clients import RawConnection
from ..test_metrics import scrape

HEAD_TIMEOUT_S = 0.2


@pytest.fixture
async def strict(aiohttp_client, settings: Settings, db: asyncpg.Connection) -> TestClient:
    """The service with a head deadline short enough to reach in a test."""
    return await serve_app(aiohttp_client, replace(settings, header_timeout_s=HEAD_TIMEOUT_S))


class Dripping(asyncio.Protocol):
    """A client connection that keeps what the service sent even when the service's close
    comes as a reset (a byte of ours reaching a closed socket): asyncio's StreamReader
    would raise the reset instead of handing over the answer before it."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.answered = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.answered.set()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.answered.set()


async def drip_until_answered(client: TestClient, head: bytes, pause_s: float) -> bytes | None:
    """Send ``head`` a byte at a time, ``pause_s`` apart (the attack itself), until the
    service answers or closes; what it sent then, or None if the whole head went through."""
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(Dripping, client.server.host, client.server.port)
    assert connection.transport is not None
    for byte in head:
        if connection.answered.is_set():
            break
        connection.transport.write(bytes([byte]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.answered.wait(), pause_s)
    else:
        connection.transport.close()
        return None
    # The whole answer is one write of the service's; wait for its end, or the close.
    while b"}" not in connection.received and not connection.transport.is_closing():
        connection.answered.clear()
        await connection.answered.wait()
    connection.transport.close()
    return bytes(connection.received)


async def test_a_request_head_sent_a_byte_at_a_time_is_cut_off_with_408(
    strict: TestClient,
) -> None:
    # A long, valid head: slow enough to outlast the deadline many times over.
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 2000 + b"\r\n\r\n"
    raw = await drip_until_answered(strict, head, pause_s=HEAD_TIMEOUT_S / 10)
    assert raw is not None, "the whole head went through: no deadline"
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.split()[1] == b"408", raw
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower()
    assert b"connection: close" in headers.lower()
    assert b'"error": "header_timeout"' in body
    samples = await scrape(strict)
    assert samples[
        ("heatmeter_http_errors_total", (("error", "header_timeout"), ("status", "408")))
    ]


async def test_a_connection_that_sends_nothing_is_closed(strict: TestClient) -> None:
    connection = await RawConnection.open(strict)
    # Nothing to answer: the connection is simply ended.
    assert await connection.reader.read() == b""


async def test_the_next_head_on_a_kept_alive_connection_has_its_own_deadline(
    strict: TestClient,
) -> None:
    connection = await RawConnection.open(strict)
    await connection.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await connection.answer()).status == 200
    await connection.send(b"GET /healthz HTTP/1.1\r\nHo")  # and no more
    answer = await connection.answer()
    assert (answer.status, answer.json()["error"]) == (408, "header_timeout")
    assert await connection.closed_by_server()


async def test_an_idle_kept_alive_connection_is_not_held_to_the_head_deadline(
    strict: TestClient,
) -> None:
    connection = await RawConnection.open(strict)
    for _ in range(2):
        await connection.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await connection.answer()).status == 200
        # Idle between requests, well past the head deadline: keep-alive's time, not a
        # head's (no byte of a next request has come).
        await asyncio.sleep(HEAD_TIMEOUT_S * 3)
    connection.close()


async def test_a_kept_alive_connection_idle_past_the_keepalive_timeout_is_closed(
    aiohttp_client, settings: Settings, db: asyncpg.Connection
) -> None:
    client = await serve_app(aiohttp_client, replace(settings, keepalive_timeout_s=0.3))
    connection = await RawConnection.open(client)
    # A request and, in the same packet, the start of a next one that never finishes:
    # after the first answer the connection waits for the second, as if idle.
    await connection.send(
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHo"
    )
    assert (await connection.answer()).status == 200
    assert await connection.closed_by_server()


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({}, "header_timeout_s", 10.0),
        ({}, "keepalive_timeout_s", 75.0),
        ({"HEATMETER_HEADER_TIMEOUT": "5"}, "header_timeout_s", 5.0),
        ({"HEATMETER_HEADER_TIMEOUT": "2.5s"}, "header_timeout_s", 2.5),
        ({"HEATMETER_KEEPALIVE_TIMEOUT": "10m"}, "keepalive_timeout_s", 600.0),
    ],
)
def test_the_deadlines_are_settings(env: dict[str, str], field: str, value: float) -> None:
    assert getattr(Settings.from_env(env), field) == value


@pytest.mark.parametrize("name", ["HEATMETER_HEADER_TIMEOUT", "HEATMETER_KEEPALIVE_TIMEOUT"])
@pytest.mark.parametrize("raw", ["0", "-1", "soon"])
def test_a_deadline_must_be_a_positive_duration(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})


# The service's server subclasses aiohttp's RequestHandler (http/server.py): aiohttp has no
# hook for the answers its HTTP parser makes (aio-libs/aiohttp#3287) nor a deadline for a
# request head. The tests below, with tests/hostile/test_clients.py's refusals, fail on an
# aiohttp upgrade that breaks what the subclass relies on.


def test_aiohttp_still_answers_its_refusals_through_handle_error() -> None:
    signature = inspect.signature(web.RequestHandler.handle_error)
    assert list(signature.parameters) == ["self", "request", "status", "exc", "message"]
    assert signature.parameters["status"].default == 500
    # The parser's refusals reach it through the error handler aiohttp makes for them.
    source = inspect.getsource(web.RequestHandler._make_error_handler)
    assert "self.handle_error(" in source


async def test_each_connection_is_handled_by_the_services_handler(strict: TestClient) -> None:
    # The runner swaps the class of the Server aiohttp builds, and wraps its
    # request_handler, which aiohttp's RequestHandler reads from the server at creation.
    connection = await RawConnection.open(strict)
    await connection.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await connection.answer()).status == 200
    server = strict.server.runner.server
    assert type(server).__name__ == "_ServiceServer"
    assert {type(handler).__name__ for handler in server.connections} == {"_ServiceRequestHandler"}
    connection.close()


async def test_an_error_escaping_the_middleware_is_still_a_json_500(
    aiohttp_client, settings: Settings, db: asyncpg.Connection
) -> None:
    app = create_app(settings)

    @web.middleware
    async def broken(request: web.Request, handler) -> web.StreamResponse:
        raise RuntimeError("a bug outside the service's middleware")

    app.middlewares.insert(0, broken)
    client = await aiohttp_client(ServiceTestServer(app))
    response = await client.get("/healthz")
    assert response.status == 500
    assert response.content_type == "application/json"
    answer = await response.json()
    assert answer["error"] == "internal_error"
    assert "RuntimeError" not in answer["detail"]
