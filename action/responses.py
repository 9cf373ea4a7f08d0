"""An HTTP/1.1 answer read from a connection: status line, headers, and the body its framing gives.

A body is framed by Content-Length, by chunked coding (which must end with its last chunk),
or by the end of the connection; an answer that ends before its framing says is an error,
not a shorter body, and a body past MAX_BODY is refused rather than read without end.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

# The service answers in bytes and a token endpoint in kilobytes: an answer past this is
# something else (a misrouted URL), refused rather than read without end or cut short.
MAX_BODY = 8 << 20
MAX_HEAD = 64 << 10
_HEX = frozenset(b"0123456789abcdefABCDEF")


class BadResponse(Exception):
    """The answer is not HTTP/1.x or was cut short; `answered` once a status line had come."""

    def __init__(self, message: str, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class ResponseTooLarge(Exception):
    """The answer's body is over MAX_BODY bytes; asking again will not make it smaller."""


class Response:
    """A final answer: status, headers (names lower-cased) and body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> object:
        """The body as JSON, or None when it is not JSON."""
        from action import jsonlite

        try:
            return jsonlite.loads(self.body)
        except ValueError:
            return None


class Stream:
    """The bytes a server sends, taken as the answer's framing asks for them."""

    def __init__(self, receive: Callable[[], bytes]) -> None:
        self._receive = receive
        self._buffer = bytearray()
        self._at = 0  # what is before this is taken
        self.received = 0

    def _fill(self) -> bool:
        """Receive more; False when the server has closed the connection."""
        chunk = self._receive()
        if not chunk:
            return False
        del self._buffer[: self._at]
        self._at = 0
        self._buffer += chunk
        self.received += len(chunk)
        return True

    def until(self, marker: bytes, limit: int) -> bytes | None:
        """What comes before `marker` (which is taken too); None when the stream ends first."""
        searched = 0  # counted from self._at, which _fill() moves
        while True:
            found = self._buffer.find(marker, self._at + searched)
            if found >= 0:
                data = bytes(self._buffer[self._at : found])
                self._at = found + len(marker)
                return data
            if self.pending() > limit:
                raise BadResponse(f"a header or chunk line longer than {limit} bytes")
            searched = max(0, self.pending() - len(marker) + 1)
            if not self._fill():
                return None

    def take(self, size: int) -> bytes | None:
        """Exactly `size` bytes; None when the stream ends first."""
        while self.pending() < size:
            if not self._fill():
                return None
        data = bytes(self._buffer[self._at : self._at + size])
        self._at += size
        return data

    def rest(self) -> bytes:
        """Everything up to the end of the stream (at most MAX_BODY bytes)."""
        while self._fill():
            if self.pending() > MAX_BODY:
                raise ResponseTooLarge(f"the answer's body is larger than {MAX_BODY} bytes")
        return self.take(self.pending()) or b""

    def pending(self) -> int:
        return len(self._buffer) - self._at


def _headers(head: bytes) -> tuple[str, int, dict[str, str]]:
    """The version, status and headers (names lower-cased) of a response head."""
    lines = head.decode("iso-8859-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status = rest[:3]
    if not version.startswith("HTTP/1.") or not (status.isascii() and status.isdigit()):
        raise BadResponse(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return version, int(status), headers


def read_head(stream: Stream) -> tuple[int, dict[str, str]]:
    """The status and headers of the final answer, past any interim (1xx) ones."""
    while True:
        head = stream.until(b"\r\n\r\n", MAX_HEAD)
        if head is None:
            if stream.received == 0:
                raise BadResponse("the server closed the connection without an answer")
            raise BadResponse("the answer ended inside its headers")
        _, status, headers = _headers(head)
        if not 100 <= status < 200:
            return status, headers
        # An interim answer (100 Continue, 103 Early Hints): the real one follows.


def _cut_short(what: str) -> BadResponse:
    return BadResponse(f"the connection closed before the end of the answer's {what}", True)


def _dechunk(stream: Stream) -> bytes:
    """The payload of a `Transfer-Encoding: chunked` body, which must end with its last chunk."""
    payload = bytearray()
    while True:
        line = stream.until(b"\r\n", MAX_HEAD)
        if line is None:
            raise _cut_short("chunked body")
        size_text = line.partition(b";")[0].strip()
        if not size_text or not _HEX.issuperset(size_text):
            raise BadResponse(f"malformed chunk size {line[:40]!r}", answered=True)
        size = int(size_text, 16)
        if size == 0:
            break
        if len(payload) + size > MAX_BODY:
            raise ResponseTooLarge(f"the answer's body is larger than {MAX_BODY} bytes")
        chunk = stream.take(size + 2)
        if chunk is None:
            raise _cut_short("chunked body")
        if chunk[-2:] != b"\r\n":
            raise BadResponse("a chunk does not end where its size says", answered=True)
        payload += chunk[:-2]
    # Trailers, up to an empty line; as http.client reads them, the end of the stream ends them.
    while stream.until(b"\r\n", MAX_HEAD):
        pass
    return bytes(payload)


def _read_body(stream: Stream, status: int, headers: dict[str, str]) -> bytes:
    if status in (204, 304):
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _dechunk(stream)
    length = headers.get("content-length")
    if length is None:  # the body runs to the end of the connection
        return stream.rest()
    if not (length.isascii() and length.isdigit()):
        raise BadResponse(f"invalid Content-Length {length[:40]!r}", answered=True)
    if int(length) > MAX_BODY:
        raise ResponseTooLarge(f"the answer's body ({length} bytes) is larger than {MAX_BODY}")
    body = stream.take(int(length))
    if body is None:
        raise _cut_short(f"body ({stream.pending()} of {length} bytes came)")
    return body


def read(stream: Stream) -> Response:
    status, headers = read_head(stream)
    try:
        body = _read_body(stream, status, headers)
    except BadResponse as exc:
        exc.answered = True
        raise
    return Response(status, headers, body)
