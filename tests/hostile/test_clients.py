"""Hostile and careless clients, over a raw socket: half-sent bodies, oversized declarations,
unsigned bodies, hang-ups, and requests aiohttp's own parser refuses. Every answer is JSON.

No test here measures time: a stalled body is cut off by an injected short deadline, and
the tests wait for the event (an answer, the connection's end), never for a duration.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.settings import Settings

from ..conftest import REPORT_SECRET, serve_app
from ..reports import make_report, signed
from ..test_metrics import scrape
from ..test_webhooks import WEBHOOK_SECRET
from ..webhooks import payload, webhook_request


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        assert self.headers["content-type"].startswith("application/json"), self.headers
        return json.loads(self.body)


class RawConnection:
    """One TCP connection to the service, written to and read from byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, client: TestClient) -> RawConnection:
        return cls(*await asyncio.open_connection(client.server.host, client.server.port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> Answer:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in filter(None, lines):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return Answer(int(status_line.split()[1]), headers, body)

    async def closed_by_server(self) -> bool:
        return await self.reader.read() == b""

    def close(self) -> None:
        self.writer.close()


def request_head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
async def impatient(aiohttp_client, settings: Settings, db: asyncpg.Connection) -> TestClient:
    """The service with a body deadline short enough to reach in a test."""
    return await serve_app(aiohttp_client, replace(settings, body_timeout_s=0.2))


async def test_a_half_sent_body_is_cut_off_with_408_and_the_connection_closed(
    impatient: TestClient, db: asyncpg.Connection
) -> None:
    body, headers = signed(make_report(), REPORT_SECRET)
    connection = await RawConnection.open(impatient)
    await connection.send(
        request_head("/v1/reports", {**headers, "Content-Length": str(len(body))})
    )
    await connection.send(body[: len(body) // 2])
    answer = await connection.answer()
    assert answer.status == 408
    assert answer.json()["error"] == "body_timeout"
    assert await connection.closed_by_server()
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


async def test_a_half_sent_webhook_is_cut_off_too(impatient: TestClient) -> None:
    body, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    connection = await RawConnection.open(impatient)
    await connection.send(
        request_head("/webhooks/github", {**headers, "Content-Length": str(len(body))})
    )
    await connection.send(body[:100])
    answer = await connection.answer()
    assert (answer.status, answer.json()["error"]) == (408, "body_timeout")
    assert await connection.closed_by_server()


@pytest.mark.parametrize(
    ("path", "declared"),
    [("/v1/reports", 64 * 1024 + 1), ("/webhooks/github", 25 * 1024 * 1024 + 1)],
)
async def test_a_declared_size_over_the_limit_is_refused_before_the_body(
    client: TestClient, path: str, declared: int
) -> None:
    _, headers = (
        signed(make_report(), REPORT_SECRET)
        if path == "/v1/reports"
        else webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    )
    connection = await RawConnection.open(client)
    # Not a byte of the body is sent: the answer comes from the headers alone.
    await connection.send(request_head(path, {**headers, "Content-Length": str(declared)}))
    answer = await connection.answer()
    assert (answer.status, answer.json()["error"]) == (413, "request_entity_too_large")
    assert await connection.closed_by_server()


async def test_an_unsigned_webhook_is_refused_before_its_body_is_read(client: TestClient) -> None:
    _, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    del headers["X-Hub-Signature-256"]
    connection = await RawConnection.open(client)
    await connection.send(
        request_head("/webhooks/github", {**headers, "Content-Length": str(20_000_000)})
    )
    answer = await connection.answer()
    assert (answer.status, answer.json()["error"]) == (401, "bad_signature")
    connection.close()


async def test_a_client_hanging_up_mid_body_is_a_client_error_not_an_outage(
    client: TestClient, db: asyncpg.Connection
) -> None:
    body, headers = signed(make_report(), REPORT_SECRET)
    connection = await RawConnection.open(client)
    await connection.send(
        request_head("/v1/reports", {**headers, "Content-Length": str(len(body))})
    )
    await connection.send(body[:50])
    connection.close()

    disconnected = (
        "heatmeter_http_errors_total",
        (("error", "client_disconnected"), ("status", "400")),
    )
    while disconnected not in (samples := await scrape(client)):
        await asyncio.sleep(0.01)  # until the service has seen the hang-up
    assert ("heatmeter_reports_total", (("result", "unavailable"),)) not in samples
    assert ("heatmeter_reports_total", (("result", "rejected"),)) in samples
    assert not [
        key
        for key in samples
        if key[0] == "heatmeter_http_errors_total" and ("status", "503") in key[1]
    ]
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
            "line_too_long",
        ),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "line_too_long"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n", None),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", None),
    ],
)
async def test_the_http_parsers_refusals_are_json_and_counted(
    client: TestClient, raw: bytes, error: str | None
) -> None:
    connection = await RawConnection.open(client)
    await connection.send(raw)
    answer = await connection.answer()
    assert answer.status == 400
    refusal = answer.json()
    assert set(refusal) == {"error", "detail"}
    if error:
        assert refusal["error"] == error
    assert await connection.closed_by_server()
    samples = await scrape(client)
    assert (
        samples[("heatmeter_http_errors_total", (("error", refusal["error"]), ("status", "400")))]
        == 1
    )


async def test_a_malformed_chunked_body_is_400(client: TestClient, db: asyncpg.Connection) -> None:
    _, headers = signed(make_report(), REPORT_SECRET)
    connection = await RawConnection.open(client)
    await connection.send(request_head("/v1/reports", {**headers, "Transfer-Encoding": "chunked"}))
    await connection.send(b"zz\r\nnot a chunk\r\n")
    answer = await connection.answer()
    assert answer.status == 400
    assert answer.json()["error"] in {
        "malformed_body",
        "bad_http_message",
        "transfer_encoding_error",
    }
