"""The proxy a request goes through: HTTPS_PROXY, HTTP_PROXY and NO_PROXY, read as urllib does."""

# Imported only when the environment has a *_proxy variable (transport.py checks the names),
# so runners without a proxy never pay for it. urllib.request (~60 ms to import under
# `python3 -I -S`) is not used: its two functions are mirrored here, and a test holds them
# to urllib's answers.

from __future__ import annotations

from action import http1, responses

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from socket import socket


class ProxySettingError(ValueError):
    """A proxy variable the action cannot use (another scheme, a malformed address)."""


class Proxy:
    """An HTTP proxy's address, and the Proxy-Authorization its URL's credentials make."""

    def __init__(self, host: str, port: int, authorization: str | None = None) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization

    def __str__(self) -> str:  # never the credentials
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def connect(self, clock: http1.Timer) -> socket:
        """A connection to the proxy; the error names the proxy, not the service."""
        try:
            return http1.connect(self.host, self.port, clock)
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            problem = TimeoutError if isinstance(exc, TimeoutError) else OSError
            raise problem(f"cannot reach the proxy {self}: {reason}") from None

    def tunnel(self, sock: socket, url: http1.URL, agent: str | None, clock: http1.Timer) -> None:
        """Ask for a tunnel to the server (CONNECT host:port), for TLS through it."""
        lines = [f"CONNECT {url.authority} HTTP/1.1", f"Host: {url.authority}"]
        if agent:
            lines.append(f"User-Agent: {agent}")
        if self.authorization:
            lines.append(f"Proxy-Authorization: {self.authorization}")
        clock.arm(sock)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        stream = responses.Stream(http1.receiver(sock, clock))
        status, _ = responses.read_head(stream)
        if not 200 <= status < 300:
            raise http1.TunnelRefused(
                f"the proxy {self} answered CONNECT {url.authority} with HTTP {status}", status
            )
        if stream.pending():  # TLS starts with the client: nothing may come before it
            raise responses.BadResponse(f"the proxy {self} sent more than its answer to CONNECT")


def proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """urllib.request.getproxies_environment() of `environ`: scheme (or `no`) → value.

    Any case of `<scheme>_proxy` counts; a name ending in lower-case `_proxy` wins over the
    others, and an empty one of those unsets the scheme. HTTP_PROXY is ignored in a CGI
    script (REQUEST_METHOD set), where a client's `Proxy:` header could have set it.
    """
    found: dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            found[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            if value:
                found[name[:-6].lower()] = value
            else:
                found.pop(name[:-6].lower(), None)
    return found


def _without_port(host: str) -> str:
    # urllib's _splitport: the last `:` followed by nothing but ASCII digits ends the host.
    head, colon, port = host.rpartition(":")
    if colon and (not port or (port.isascii() and port.isdigit())):
        return head
    return host


def bypassed(host: str, no_proxy: str) -> bool:
    """urllib.request.proxy_bypass_environment(host) with `no_proxy` as NO_PROXY.

    `host` is host[:port] as the URL writes it. `*` bypasses every host; otherwise each
    comma-separated entry (a leading dot ignored) matches itself and every subdomain, with
    or without the port.
    """
    if no_proxy == "*":
        return True
    host = host.lower()
    bare = _without_port(host)
    for entry in no_proxy.split(","):
        entry = entry.strip().lstrip(".").lower()
        if entry:
            if entry in (bare, host):
                return True
            entry = "." + entry
            if bare.endswith(entry) or host.endswith(entry):
                return True
    return False


def _unquote(text: str) -> str:
    """Percent-decode as urllib.parse.unquote does (UTF-8, invalid bytes replaced)."""
    if "%" not in text:
        return text
    first, *rest = text.encode("utf-8").split(b"%")
    data = bytearray(first)
    for part in rest:
        code = part[:2]
        if len(code) == 2 and all(byte in b"0123456789abcdefABCDEF" for byte in code):
            data.append(int(code, 16))
            data += part[2:]
        else:
            data += b"%" + part
    return data.decode("utf-8", "replace")


def parse(address: str, variable: str) -> Proxy:
    """The proxy at `address` ([http://][user[:password]@]host[:port][/]), named by `variable`."""
    scheme, found, rest = address.strip().partition("://")
    if not found:
        scheme, rest = "http", address.strip()
    if scheme.lower() != "http":
        # urllib would speak plain HTTP to an https:// proxy, curl TLS: credentials meant for
        # an encrypted connection are not sent in clear on a guess.
        raise ProxySettingError(
            f"{variable} is a {scheme}:// proxy; the action speaks to proxies over plain HTTP "
            "only (write it http://host:port)"
        )
    authority = rest.partition("/")[0].partition("?")[0]
    userinfo, at, hostport = authority.rpartition("@")
    try:
        where = http1.URL("http://" + hostport)
    except ValueError:
        raise ProxySettingError(f"{variable} has no usable host:port") from None
    authorization = None
    if at:
        import binascii  # only proxies with credentials need Base64

        user, _, password = userinfo.partition(":")
        pair = f"{_unquote(user)}:{_unquote(password)}".encode()
        authorization = "Basic " + binascii.b2a_base64(pair, newline=False).decode("ascii")
    return Proxy(where.host, where.port, authorization)


def for_url(url: http1.URL, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy for `url` (its scheme's <scheme>_proxy), or None: none set, or NO_PROXY."""
    found = proxies(environ)
    address = found.get(url.scheme)
    if not address:
        return None
    no_proxy = found.get("no")
    if no_proxy is not None:
        # urllib matches the host as written; the IDNA form and a bracket-less IPv6
        # address (as curl writes them) match too.
        names = {url.netloc, url.host, url.host_header, url.authority}
        if any(bypassed(name, no_proxy) for name in names):
            return None
    return parse(address, f"{url.scheme}_proxy")
