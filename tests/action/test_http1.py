"""The action's HTTP/1.1 client on the wire: URLs, answer framing, IDNA, bounded DNS lookups."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from action import http1, oidc, responses

from .harness import RecordingServer


class ScriptedServer:
    """Answers each connection with the next scripted bytes, then closes it; records requests."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed by close()
                return
            if not self.answers:  # close()'s wake-up call
                connection.close()
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                self.requests.append(request)
                with contextlib.suppress(OSError):  # the client stopped reading, as some tests do
                    connection.sendall(self.answers.pop(0))

    def close(self) -> None:
        if self.thread.is_alive():  # blocked in accept(), which close() does not wake
            self.answers.clear()
            with contextlib.suppress(OSError):
                socket.create_connection(self.listener.getsockname(), timeout=5).close()
        self.listener.close()
        self.thread.join(10)


@pytest.fixture
def scripted() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.close()


def _parse(data: bytes) -> responses.Response:
    """The answer in `data`, as if a server had sent it and closed the connection."""
    pieces = [data]
    return responses.read(responses.Stream(lambda: pieces.pop() if pieces else b""))


def _exchange(url: str) -> responses.Response:
    return http1.exchange("GET", http1.URL(url), {}, None, timeout=5.0)


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "target", "host_header"),
    [
        ("http://127.0.0.1:8080", "http", "127.0.0.1", 8080, "/", "127.0.0.1:8080"),
        ("https://Heatmeter.Example.com/v1/reports", "https", "heatmeter.example.com", 443,
         "/v1/reports", "heatmeter.example.com"),
        ("http://[::1]:9000/a/b?x=1&y=2#frag", "http", "::1", 9000, "/a/b?x=1&y=2", "[::1]:9000"),
        ("https://[2001:db8::1]/p", "https", "2001:db8::1", 443, "/p", "[2001:db8::1]"),
        ("http://user:pw@host:80?q=1", "http", "host", 80, "/?q=1", "host"),
        ("HTTPS://h:8443/", "https", "h", 8443, "/", "h:8443"),
    ],
)  # fmt: skip
def test_urls_are_split_like_urlsplit(
    url: str, scheme: str, host: str, port: int, target: str, host_header: str
) -> None:
    parts = http1.URL(url)
    assert (parts.scheme, parts.host, parts.port) == (scheme, host, port)
    assert (parts.target, parts.host_header) == (target, host_header)
    reference = urlsplit(url)
    assert (reference.hostname, reference.port or port) == (host, port)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/", "h:80", "http://", "http://h:0/", "http://h:99999", "http://h:x/",
        "http://[::1", "http://a..bücher/", "http://" + "ü" * 70 + ".example/",
    ],
)  # fmt: skip
def test_bad_urls_are_value_errors(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for the log, not the test
        http1.URL(url)


def test_quote_matches_urllib() -> None:
    for text in ("heatmeter", "a b&c=d/e?f", "déployer 🚀", "~-._", "%41"):
        assert oidc.quote(text) == quote(text, safe="")


@pytest.mark.parametrize(
    ("url", "host", "host_header"),
    [
        ("https://Bücher.example/v1", "xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("http://hm.例え.jp:8080/", "hm.xn--r8jz45g.jp", "hm.xn--r8jz45g.jp:8080"),
    ],
)  # fmt: skip
def test_non_ascii_hosts_are_idna_encoded(url: str, host: str, host_header: str) -> None:
    parts = http1.URL(url)

    assert (parts.host, parts.host_header) == (host, host_header)
    assert host == urlsplit(url).hostname.encode("idna").decode()  # type: ignore[union-attr]


def test_a_non_ascii_host_goes_on_the_wire_as_idna(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[object] = []

    def resolve(host: object, port: int, *args: object) -> list[tuple]:
        looked_up.append(host)
        return socket.getaddrinfo("127.0.0.1", port, *args)

    monkeypatch.setattr(http1, "getaddrinfo", resolve)
    port = server.url.rpartition(":")[2]

    answer = _exchange(f"http://bücher.example:{port}/v1/token")

    assert answer.status == 200
    assert looked_up == [b"xn--bcher-kva.example"]
    assert server.requests[0].headers["host"] == f"xn--bcher-kva.example:{port}"


# --- answer framing ---------------------------------------------------------------------------


def test_answers_are_parsed_with_interim_and_chunked_forms() -> None:
    plain = _parse(
        b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 9\r\n"
        b'X-Dup: 1\r\n\r\n{"id": 1}trailing junk'
    )
    assert (plain.status, plain.body, plain.headers["content-type"]) == (
        202, b'{"id": 1}', "application/json"
    )  # fmt: skip
    chunked = _parse(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\n"
        b'Transfer-Encoding: chunked\r\nRetry-After: 2\r\n\r\n4\r\n{"a"\r\n3;x=y\r\n: 1\r\n'
        b"1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert (chunked.status, chunked.json(), chunked.headers["retry-after"]) == (503, {"a": 1}, "2")
    to_the_end = _parse(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    assert to_the_end.body == b"all of it"
    for broken in (b"", b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-"):
        with pytest.raises(responses.BadResponse):
            _parse(broken)


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "cut",
    [
        CHUNKED_HEAD + b"4\r\nabcd\r\n",  # no last chunk
        CHUNKED_HEAD + b"8\r\nabcd",  # inside a chunk
        CHUNKED_HEAD + b"4\r\nab",
        CHUNKED_HEAD,
    ],
)
def test_a_truncated_chunked_body_is_an_error(cut: bytes) -> None:
    with pytest.raises(responses.BadResponse, match="closed before the end") as raised:
        _parse(cut)
    assert raised.value.answered


@pytest.mark.parametrize(
    "malformed",
    [CHUNKED_HEAD + b"zz\r\nabcd\r\n0\r\n\r\n", CHUNKED_HEAD + b"2\r\nabcd\r\n0\r\n\r\n"],
)
def test_a_malformed_chunked_body_is_an_error(malformed: bytes) -> None:
    with pytest.raises(responses.BadResponse):
        _parse(malformed)


def test_a_body_shorter_than_its_content_length_is_an_error() -> None:
    with pytest.raises(responses.BadResponse, match="10 bytes"):
        _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")


def test_a_truncated_chunked_body_from_a_server_is_an_error(
    scripted: list[ScriptedServer],
) -> None:
    server = ScriptedServer([CHUNKED_HEAD + b'10\r\n{"value": "eyJ'])
    scripted.append(server)

    with pytest.raises(responses.BadResponse, match="chunked body"):
        _exchange(server.url)


@pytest.mark.parametrize("framing", ["content-length", "chunked", "to-the-end"])
def test_a_body_over_one_mib_is_read_whole(scripted: list[ScriptedServer], framing: str) -> None:
    payload = bytes(range(256)) * (6 << 10)  # 1.5 MiB
    if framing == "content-length":
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
    elif framing == "chunked":
        chunks = [payload[at : at + 100_000] for at in range(0, len(payload), 100_000)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
        answer = CHUNKED_HEAD + framed + b"0\r\n\r\n"
    else:
        answer = b"HTTP/1.1 200 OK\r\n\r\n" + payload
    server = ScriptedServer([answer])
    scripted.append(server)

    assert _exchange(server.url).body == payload


@pytest.mark.parametrize("framing", ["content-length", "chunked", "to-the-end"])
def test_a_body_over_the_limit_is_refused_clearly(
    scripted: list[ScriptedServer], framing: str
) -> None:
    size = responses.MAX_BODY + 1
    if framing == "content-length":
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    elif framing == "chunked":
        answer = CHUNKED_HEAD + b"%x\r\n" % size + b"x" * size + b"\r\n0\r\n\r\n"
    else:
        answer = b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * size
    server = ScriptedServer([answer])
    scripted.append(server)

    with pytest.raises(responses.ResponseTooLarge, match=f"larger than {responses.MAX_BODY}"):
        _exchange(server.url)


# --- the DNS lookup is bounded ------------------------------------------------------------------


def test_a_hung_dns_lookup_ends_with_the_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    asked = threading.Event()

    def hung_resolver(*args: object) -> list[tuple]:
        asked.set()
        release.wait(10)  # a resolver that answers only when the test is over
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(http1, "getaddrinfo", hung_resolver)
    try:
        with pytest.raises(TimeoutError, match=r"DNS lookup of heatmeter\.example timed out"):
            http1.exchange("GET", http1.URL("http://heatmeter.example/"), {}, None, timeout=0.2)
        assert asked.is_set()
    finally:
        release.set()


def test_a_failed_dns_lookup_keeps_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_resolver(*args: object) -> list[tuple]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(http1, "getaddrinfo", failing_resolver)

    with pytest.raises(socket.gaierror, match="Name or service not known"):
        http1.exchange("GET", http1.URL("http://nowhere.example/"), {}, None, timeout=5.0)
