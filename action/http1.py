"""One HTTP/1.1 request per connection over `_socket`, and the URL handling it needs."""

# Start-up cost under `python3 -I -S`: http.client imports email.* (~32 ms), urllib.parse
# ~19 ms, socket ~8 ms (enum, selectors). `_socket`, the C module under `socket`, loads in
# under 1 ms; with `Connection: close` a client is a status line, headers and a body read to
# the end. TLS needs `ssl` (~28 ms, and ~50 ms more for the system's CA certificates): that
# is started on a background thread (`prepare_tls`) as soon as an https URL is in sight.

from __future__ import annotations

import time

try:
    import _socket as socket_module
except ImportError:  # an interpreter without CPython's private module
    import socket as socket_module  # type: ignore[no-redef]

from action import background

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_BODY = 1 << 20
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class BadResponse(Exception):
    """The server's answer is not HTTP/1.x (or the connection closed before one)."""


class CertificateRejected(Exception):
    """The server's TLS certificate failed verification; retrying will not change that."""


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
        authority = authority.rpartition("@")[2]  # credentials in a URL are never sent
        if authority.startswith("["):  # an IPv6 literal, e.g. [::1]:8080
            host, bracket, port = authority[1:].partition("]")
            if not bracket or (port and not port.startswith(":")):
                raise ValueError(f"invalid IPv6 address in URL {url!r}")
            port = port[1:]
        else:
            host, _, port = authority.partition(":")
        if not host:
            raise ValueError(f"no host in URL {url!r}")
        self.host = host.lower()
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"invalid port {port!r} in URL {url!r}")
        self.port = int(port) if port else DEFAULT_PORTS[self.scheme]

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


class _Clock:
    """One attempt's timeout, for the connect and every read and write within it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def arm(self, sock: socket_module.socket) -> None:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {self.seconds:.1f} s")
        sock.settimeout(left)


def _connect(url: URL, clock: _Clock) -> socket_module.socket:
    problem: OSError = OSError(f"cannot resolve {url.host}")
    # A str host goes through the `idna` codec, which imports `re` and `unicodedata` (~10 ms);
    # an ASCII name as bytes is the same name without it.
    host = url.host.encode("ascii") if url.host.isascii() else url.host
    for family, kind, proto, _, address in socket_module.getaddrinfo(
        host, url.port, 0, socket_module.SOCK_STREAM
    ):
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


def _secure(sock: socket_module.socket, url: URL, clock: _Clock) -> socket_module.socket:
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


def _receive(sock: socket_module.socket, clock: _Clock) -> bytes:
    """Everything the server sends until it closes, or until a Content-Length is complete."""
    data = b""
    wanted = -1
    while wanted < 0 or len(data) < wanted:
        clock.arm(sock)
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if wanted < 0 and b"\r\n\r\n" in data:
            head = data.partition(b"\r\n\r\n")[0]
            _, status, headers = _headers(head)
            length = headers.get("content-length", "")
            if status >= 200 and length.isdigit():  # else: to the end (1xx, chunked, none)
                wanted = len(head) + 4 + int(length)
        if len(data) > MAX_BODY:
            break
    return data


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


def _dechunk(body: bytes) -> bytes:
    """The payload of a `Transfer-Encoding: chunked` body."""
    payload = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        payload += body[:size]
        body = body[size + 2 :]
    return payload


def _parse(data: bytes) -> Response:
    if not data:
        raise BadResponse("the server closed the connection without an answer")
    while True:
        head, separator, body = data.partition(b"\r\n\r\n")
        if not separator:
            raise BadResponse("the answer ended inside its headers")
        _, status, headers = _headers(head)
        if status >= 200 or status < 100:
            break
        data = body  # an interim answer (100 Continue, 103 Early Hints): the real one follows
    if "chunked" in headers.get("transfer-encoding", "").lower():
        try:
            body = _dechunk(body)
        except ValueError:
            raise BadResponse("malformed chunked body") from None
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return Response(status, headers, body[:MAX_BODY])


def exchange(
    method: str, url: URL, headers: dict[str, str], body: bytes | None, timeout: float
) -> Response:
    """Send one request with `Connection: close` and read the whole answer within `timeout`."""
    clock = _Clock(timeout)
    lines = [f"{method} {url.target} HTTP/1.1", f"Host: {url.host_header}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += ["Accept-Encoding: identity", "Connection: close", "", ""]
    request = "\r\n".join(lines).encode("latin-1") + (body or b"")
    sock = _connect(url, clock)
    try:
        if url.scheme == "https":
            sock = _secure(sock, url, clock)
        clock.arm(sock)
        sock.sendall(request)
        return _parse(_receive(sock, clock))
    finally:
        sock.close()
