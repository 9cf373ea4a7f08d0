"""One HTTP/1.1 request per connection over `_socket`, directly or through an HTTP proxy."""

# Start-up cost under `python3 -I -S`: http.client imports email.* (~32 ms), urllib.parse
# ~19 ms, socket ~8 ms (enum, selectors). `_socket`, the C module under `socket`, loads in
# under 1 ms; with `Connection: close` a client is a status line, headers and a framed body.
# TLS needs `ssl` (~28 ms, and ~50 ms more for the system's CA certificates): that is started
# on a background thread (`prepare_tls`) as soon as an https URL is in sight.

from __future__ import annotations

import time

try:
    import _socket as socket_module
except ImportError:  # an interpreter without CPython's private module
    import socket as socket_module  # type: ignore[no-redef]

from action import background

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

    from action.proxy import Proxy

DEFAULT_PORTS = {"http": 80, "https": 443}
# The service answers in bytes and a token endpoint in kilobytes: an answer past this is
# something else (a misrouted URL), refused rather than read without end or cut short.
MAX_BODY = 8 << 20
MAX_HEAD = 64 << 10
_RECV_SIZE = 65536
_HEX = frozenset(b"0123456789abcdefABCDEF")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

# Looked up at call time, so that a test can stand in for the system's resolver.
getaddrinfo = socket_module.getaddrinfo


class BadResponse(Exception):
    """The answer is not HTTP/1.x or was cut short; `answered` once a status line had come."""

    def __init__(self, message: str, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class ResponseTooLarge(Exception):
    """The answer's body is over MAX_BODY bytes; asking again will not make it smaller."""


class CertificateRejected(Exception):
    """The server's TLS certificate failed verification; retrying will not change that."""


class TunnelRefused(OSError):
    """The proxy answered CONNECT with something other than 2xx."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class URL:
    """An http(s) URL split into what a request needs: scheme://host[:port]/target."""

    def __init__(self, url: str) -> None:
        scheme, found, rest = url.partition("://")
        self.scheme = scheme.lower()
        if not found or self.scheme not in DEFAULT_PORTS:
            raise ValueError(f"unsupported URL scheme {scheme!r} (use http or https)")
        rest = rest.partition("#")[0]
        cut = min((at for at in (rest.find("/"), rest.find("?")) if at >= 0), default=len(rest))
        authority, target = rest[:cut], rest[cut:]
        self.target = target if target.startswith("/") else "/" + target
        # Credentials in a URL are never sent; what is left is what NO_PROXY is matched with.
        self.netloc = authority = authority.rpartition("@")[2]
        if authority.startswith("["):  # an IPv6 literal, e.g. [::1]:8080
            host, bracket, port = authority[1:].partition("]")
            if not bracket or (port and not port.startswith(":")):
                raise ValueError(f"invalid IPv6 address in URL {url!r}")
            port = port[1:]
        else:
            host, _, port = authority.partition(":")
        if not host:
            raise ValueError(f"no host in URL {url!r}")
        host = host.lower()
        if not host.isascii():
            # A name like bücher.example travels as xn--bcher-kva.example (IDNA), in the Host
            # header, the DNS lookup, the TLS server name and a proxy's CONNECT alike.
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise ValueError(f"invalid host name in URL {url!r}: {exc}") from None
        self.host = host
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"invalid port {port!r} in URL {url!r}")
        self.port = int(port) if port else DEFAULT_PORTS[self.scheme]

    @property
    def authority(self) -> str:
        """host:port, always with the port: a CONNECT request's target."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def quote(text: str) -> str:
    """Percent-encode `text` for a query value (urllib.parse.quote with safe="")."""
    return "".join(
        chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8")
    )


# --- TLS, prepared in the background ---------------------------------------------------------

_tls = background.Job()


def _create_tls_context() -> object:
    import ssl

    return ssl.create_default_context()


def prepare_tls() -> None:
    """Start importing `ssl` and loading the CA certificates, so that https finds them ready."""
    _tls.start(_create_tls_context)


def _tls_context() -> object:
    prepare_tls()  # no-op when it already ran or runs
    context = _tls.result()
    return context if context is not None else _create_tls_context()  # re-raise its error


# --- one exchange ------------------------------------------------------------------------


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


class Timer:
    """One attempt's timeout, for the lookup, the connect and every read and write within it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {self.seconds:.1f} s")
        return left

    def arm(self, sock: socket_module.socket) -> None:
        sock.settimeout(self.left())


def _is_address(host: str) -> bool:
    for family in (socket_module.AF_INET, socket_module.AF_INET6):
        try:
            socket_module.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return True
    return False


def _addresses(host: str, port: int, clock: Timer) -> list[tuple]:
    name = host.encode("ascii")  # bytes: a str would load the `idna` codec (~10 ms)
    if _is_address(host):  # nothing to look up
        return getaddrinfo(name, port, 0, socket_module.SOCK_STREAM)
    # getaddrinfo has no timeout of its own and a resolver can hang for tens of seconds:
    # it runs on a thread, waited for no longer than the attempt has left.
    lookup = background.Job()
    lookup.start(lambda: getaddrinfo(name, port, 0, socket_module.SOCK_STREAM))
    return lookup.outcome(clock.left(), f"DNS lookup of {host}")  # type: ignore[return-value]


def connect(host: str, port: int, clock: Timer) -> socket_module.socket:
    problem: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _, address in _addresses(host, port, clock):
        sock = socket_module.socket(family, kind, proto)
        try:
            clock.arm(sock)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            problem = exc
            if isinstance(exc, TimeoutError):
                break
        else:
            return sock
    raise problem


def _secure(sock: socket_module.socket, url: URL, clock: Timer) -> socket_module.socket:
    context = _tls_context()
    clock.arm(sock)
    try:
        return context.wrap_socket(sock, server_hostname=url.host)  # type: ignore[attr-defined]
    except Exception as exc:
        import ssl  # loaded by now: free

        if isinstance(exc, ssl.SSLCertVerificationError):
            sock.close()
            raise CertificateRejected(str(exc)) from None
        raise


class _Stream:
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


def _read_head(stream: _Stream) -> tuple[int, dict[str, str]]:
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


def _dechunk(stream: _Stream) -> bytes:
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


def _read_body(stream: _Stream, status: int, headers: dict[str, str]) -> bytes:
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


def _read_response(stream: _Stream) -> Response:
    status, headers = _read_head(stream)
    try:
        body = _read_body(stream, status, headers)
    except BadResponse as exc:
        exc.answered = True
        raise
    return Response(status, headers, body)


def _parse(data: bytes) -> Response:
    """The answer in `data`, as if a server had sent it and closed the connection."""
    pieces = [data]
    return _read_response(_Stream(lambda: pieces.pop() if pieces else b""))


def _receiver(sock: socket_module.socket, clock: Timer) -> Callable[[], bytes]:
    def receive() -> bytes:
        clock.arm(sock)
        return sock.recv(_RECV_SIZE)

    return receive


def _tunnel(
    sock: socket_module.socket, url: URL, proxy: Proxy, agent: str | None, clock: Timer
) -> None:
    """Ask the proxy for a tunnel to the server (CONNECT host:port), for TLS through it."""
    lines = [f"CONNECT {url.authority} HTTP/1.1", f"Host: {url.authority}"]
    if agent:
        lines.append(f"User-Agent: {agent}")
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    clock.arm(sock)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    stream = _Stream(_receiver(sock, clock))
    status, _ = _read_head(stream)
    if not 200 <= status < 300:
        raise TunnelRefused(
            f"the proxy {proxy} answered CONNECT {url.authority} with HTTP {status}", status
        )
    if stream.pending():  # TLS starts with the client: nothing may follow the proxy's answer
        raise BadResponse(f"the proxy {proxy} sent more than its answer to CONNECT")


def exchange(
    method: str,
    url: URL,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    proxy: Proxy | None = None,
) -> Response:
    """Send one request with `Connection: close` and read the whole answer within `timeout`.

    Through `proxy`, https goes through a CONNECT tunnel and http is sent to the proxy with
    the absolute URL as its target.
    """
    clock = Timer(timeout)
    forwarded = proxy is not None and url.scheme == "http"
    target = f"http://{url.host_header}{url.target}" if forwarded else url.target
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.host_header}"]
    if forwarded and proxy.authorization:  # type: ignore[union-attr]
        lines.append(f"Proxy-Authorization: {proxy.authorization}")  # type: ignore[union-attr]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += ["Accept-Encoding: identity", "Connection: close", "", ""]
    request = "\r\n".join(lines).encode("latin-1") + (body or b"")
    sock = connect(url.host, url.port, clock) if proxy is None else proxy.connect(clock)
    try:
        if url.scheme == "https":
            if proxy is not None:
                _tunnel(sock, url, proxy, headers.get("User-Agent"), clock)
            sock = _secure(sock, url, clock)
        clock.arm(sock)
        sock.sendall(request)
        return _read_response(_Stream(_receiver(sock, clock)))
    finally:
        sock.close()
