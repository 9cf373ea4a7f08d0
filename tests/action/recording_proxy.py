"""An HTTP proxy on 127.0.0.1 for tests: it records what goes through it and forwards it.

CONNECT host:port opens a tunnel; any other method is an absolute-form request
(`POST http://host:port/path`), forwarded in origin form. Every host is reached on
127.0.0.1 at the port asked for, so that a test can use names no DNS knows
(`bücher.example`). With `credentials`, a request without the matching
Proxy-Authorization is answered 407, as a proxy that wants a login does.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import socketserver
import threading


class Proxied:
    """One request as the proxy saw it."""

    def __init__(self, method: str, target: str, headers: dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.headers = headers


class RecordingProxy:
    def __init__(self, credentials: str | None = None) -> None:
        self.requests: list[Proxied] = []
        expected = None
        if credentials is not None:
            expected = "Basic " + base64.b64encode(credentials.encode()).decode()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                lines = []
                while (line := self.rfile.readline(65536)) not in (b"\r\n", b""):
                    lines.append(line.decode("latin-1").rstrip("\r\n"))
                if not lines:
                    return
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                proxy.requests.append(Proxied(method, target, headers))
                if expected is not None and headers.get("proxy-authorization") != expected:
                    self.wfile.write(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                        b"Connection: close\r\n\r\n"
                    )
                    return
                if method == "CONNECT":
                    self._tunnel(target)
                else:
                    self._forward(method, target, lines[1:], headers)

            def _upstream(self, authority: str) -> socket.socket:
                port = int(authority.rpartition(":")[2])
                return socket.create_connection(("127.0.0.1", port), timeout=10)

            def _tunnel(self, authority: str) -> None:
                with self._upstream(authority) as upstream:
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    sending = threading.Thread(
                        target=_relay, args=(self.connection, upstream), daemon=True
                    )
                    sending.start()
                    _relay(upstream, self.connection)
                    sending.join(10)

            def _forward(
                self, method: str, url: str, header_lines: list[str], headers: dict[str, str]
            ) -> None:
                scheme, _, rest = url.partition("://")
                assert scheme == "http", url
                authority, slash, path = rest.partition("/")
                body = self.rfile.read(int(headers.get("content-length") or 0))
                kept = [
                    line
                    for line in header_lines
                    if not line.lower().startswith(("proxy-authorization:", "proxy-connection:"))
                ]
                request = "\r\n".join([f"{method} {slash}{path} HTTP/1.1", *kept, "", ""])
                with self._upstream(authority) as upstream:
                    upstream.sendall(request.encode("latin-1") + body)
                    _relay(upstream, self.connection)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> RecordingProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    """Copy until `source` ends, then tell `sink` nothing more is coming."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
