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

from action import responses, system
from action.responses import Response

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

    from action.proxy import Proxy

DEFAULT_PORTS = {"http": 80, "https": 443}
_RECV_SIZE = 65536

# Looked up at call time, so that a test can stand in for the system's resolver.
getaddrinfo = socket_module.getaddrinfo


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


# --- TLS, prepared in the background ---------------------------------------------------------

_tls = system.Job()


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
    lookup = system.Job()
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


def receiver(sock: socket_module.socket, clock: Timer) -> Callable[[], bytes]:
    def receive() -> bytes:
        clock.arm(sock)
        return sock.recv(_RECV_SIZE)

    return receive


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
                proxy.tunnel(sock, url, headers.get("User-Agent"), clock)
            sock = _secure(sock, url, clock)
        clock.arm(sock)
        sock.sendall(request)
        return responses.read(responses.Stream(receiver(sock, clock)))
    finally:
        sock.close()
