"""Proxies: the variables read as urllib reads them, and reports sent through a local proxy."""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from action import http1, proxy, transport

from .harness import (
    ACTION_PYTHON,
    MAIN,
    POSIX_ONLY,
    SECRET,
    RecordingServer,
    Runner,
    annotations,
    check_signature,
    serve_tls,
    write_certificate,
)
from .recording_proxy import RecordingProxy
from .test_action_unit import HEAVY_MODULES, imported_modules


@pytest.fixture
def recording_proxy() -> Iterator[RecordingProxy]:
    running = RecordingProxy().start()
    yield running
    running.stop()


# --- the variables, as urllib reads them ---------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"HTTPS_PROXY": "http://upper:1"},
        {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"},
        {"HTTPS_PROXY": "http://upper:1", "https_proxy": ""},  # an empty lower-case one unsets
        {"Https_Proxy": "http://mixed:3", "HTTP_PROXY": "http://h:4", "NO_PROXY": "a,b"},
        {"HTTP_proxy": "http://suffix-lower:5", "HTTP_PROXY": "http://upper:6"},
        {"HTTP_PROXY": "http://cgi:7", "REQUEST_METHOD": "GET"},  # CVE-2016-1000110
        {"http_proxy": "http://cgi-lower:8", "REQUEST_METHOD": "GET"},
        {"no_proxy": "*", "ALL_PROXY": "socks5://s:9", "PATH": "/bin"},
    ],
)
def test_variables_are_read_as_urllib_reads_them(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    assert proxy.proxies(environ) == urllib.request.getproxies_environment()


@pytest.mark.parametrize(
    ("host", "no_proxy"),
    [
        ("heatmeter.corp", "heatmeter.corp"),
        ("api.heatmeter.corp", "heatmeter.corp"),
        ("api.heatmeter.corp", ".heatmeter.corp"),
        ("notheatmeter.corp", "heatmeter.corp"),
        ("heatmeter.corp:8443", "heatmeter.corp"),
        ("heatmeter.corp:8443", "heatmeter.corp:8443"),
        ("heatmeter.corp", "heatmeter.corp:8443"),
        ("heatmeter.corp:80", "heatmeter.corp:8443"),
        ("HeatMeter.Corp", " other , HEATMETER.corp "),
        ("anything", "*"),
        ("anything", "*,x"),
        ("127.0.0.1:8080", "localhost,127.0.0.1"),
        ("10.0.0.1", "0.0.1"),
        ("[::1]:8080", "[::1]"),
        ("h", ""),
        ("h", ",,"),
    ],
)
def test_no_proxy_matches_as_urllib_does(host: str, no_proxy: str) -> None:
    expected = urllib.request.proxy_bypass_environment(host, {"no": no_proxy})

    assert proxy.bypassed(host, no_proxy) is expected


@pytest.mark.parametrize("text", ["plain", "p%40ss", "%E2%82%AC", "%zz%4", "%", "a%2", "%ff"])
def test_credentials_are_percent_decoded_as_urllib_does(text: str) -> None:
    assert proxy._unquote(text) == urllib.parse.unquote(text)


@pytest.mark.parametrize(
    ("address", "host", "port", "credentials"),
    [
        ("http://proxy.corp:3128", "proxy.corp", 3128, None),
        ("http://proxy.corp:3128/", "proxy.corp", 3128, None),
        ("proxy.corp:8080", "proxy.corp", 8080, None),  # no scheme: http, as urllib and curl
        ("HTTP://Proxy.Corp", "proxy.corp", 80, None),
        ("http://me:p%40ss%3Aw@proxy.corp:3128", "proxy.corp", 3128, "me:p@ss:w"),
        ("http://me@[::1]:3128", "::1", 3128, "me:"),
        ("http://prøxy.corp:3128", "xn--prxy-hra.corp", 3128, None),
    ],
)
def test_proxy_urls(address: str, host: str, port: int, credentials: str | None) -> None:
    parsed = proxy.parse(address, "https_proxy")

    assert (parsed.host, parsed.port) == (host, port)
    if credentials is None:
        assert parsed.authorization is None
    else:
        assert parsed.authorization == "Basic " + base64.b64encode(credentials.encode()).decode()
    assert "@" not in str(parsed)
    assert "p%40ss" not in str(parsed)


@pytest.mark.parametrize(
    "address", ["https://proxy.corp:3128", "socks5://proxy.corp:1080", "http://:3128", "http://"]
)
def test_unusable_proxy_urls_are_refused(address: str) -> None:
    with pytest.raises(proxy.ProxySettingError, match="https_proxy"):
        proxy.parse(address, "https_proxy")


def test_the_scheme_picks_the_variable_and_no_proxy_bypasses() -> None:
    environ = {
        "HTTPS_PROXY": "http://secure-proxy:1",
        "HTTP_PROXY": "http://plain-proxy:2",
        "NO_PROXY": "internal.corp,bücher.example",
    }

    chosen = proxy.for_url(http1.URL("https://heatmeter.example.com/v1"), environ)
    assert chosen is not None
    assert str(chosen) == "secure-proxy:1"
    chosen = proxy.for_url(http1.URL("http://heatmeter.example.com/v1"), environ)
    assert chosen is not None
    assert str(chosen) == "plain-proxy:2"
    assert proxy.for_url(http1.URL("https://heatmeter.internal.corp/v1"), environ) is None
    assert proxy.for_url(http1.URL("https://Bücher.example/"), environ) is None
    assert proxy.for_url(http1.URL("https://x"), {"HTTP_PROXY": "http://p:1"}) is None
    assert proxy.for_url(http1.URL("https://x"), {"https_proxy": "p:1", "no_proxy": "*"}) is None
    environ = {"https_proxy": "http://p:1", "no_proxy": "::1"}  # as curl writes an IPv6 address
    assert proxy.for_url(http1.URL("https://[::1]:8443/"), environ) is None


# --- through a local proxy -------------------------------------------------------------------


def _post(url: str, environ: dict[str, str]) -> transport.Response:
    return transport.request(
        "POST",
        url,
        deadline=transport.Deadline(5.0),
        body=b"{}",
        headers={"Content-Type": "application/json"},
        environ=environ,
    )


def test_http_goes_through_the_proxy_with_an_absolute_uri(
    server: RecordingServer, recording_proxy: RecordingProxy
) -> None:
    answer = _post(server.url + "/v1/reports?x=1", {"http_proxy": recording_proxy.url})

    assert answer.status == 202
    [seen] = recording_proxy.requests
    assert (seen.method, seen.target) == ("POST", server.url + "/v1/reports?x=1")
    assert seen.headers["host"] == server.url.removeprefix("http://")
    [arrived] = server.requests
    assert arrived.path == "/v1/reports?x=1"


def test_proxy_credentials_become_proxy_authorization(server: RecordingServer) -> None:
    guarded = RecordingProxy(credentials="me:p@ss").start()
    try:
        address = f"http://me:p%40ss@127.0.0.1:{guarded.port}"
        assert _post(server.url + "/v1/reports", {"HTTP_PROXY": address}).status == 202
        with pytest.raises(transport.SendError, match="HTTP 407") as refused:
            _post(server.url + "/v1/reports", {"HTTP_PROXY": guarded.url})
    finally:
        guarded.stop()

    assert refused.value.response is not None
    expected = "Basic " + base64.b64encode(b"me:p@ss").decode()
    assert guarded.requests[0].headers["proxy-authorization"] == expected
    assert "proxy-authorization" not in server.requests[0].headers
    assert len(guarded.requests) == 2  # a 407 is not retried


def test_no_proxy_goes_straight_to_the_service(
    server: RecordingServer, recording_proxy: RecordingProxy
) -> None:
    environ = {"HTTP_PROXY": recording_proxy.url, "NO_PROXY": "localhost, 127.0.0.1"}

    assert _post(server.url + "/v1/reports", environ).status == 202
    assert recording_proxy.requests == []
    assert len(server.requests) == 1


def test_an_unreachable_proxy_is_named(server: RecordingServer) -> None:
    closed = RecordingProxy()
    closed.server.server_close()
    environ = {"HTTP_PROXY": closed.url}

    with pytest.raises(
        transport.SendError, match=f"cannot reach the proxy 127.0.0.1:{closed.port}"
    ):
        transport.request("GET", server.url, deadline=transport.Deadline(0.0), environ=environ)


# --- the action, run as a runner runs it, behind a proxy ---------------------------------------


@pytest.fixture
def idna_tls_server(tmp_path: Path) -> Iterator[tuple[RecordingServer, Path]]:
    """The recording server behind TLS, with a certificate for bücher.example (IDNA)."""
    cert_file, key_file = write_certificate(tmp_path, dns_names=("xn--bcher-kva.example",))
    recording = RecordingServer()
    serve_tls(recording, cert_file, key_file)
    recording.start()
    yield recording, cert_file
    recording.stop()


def test_https_goes_through_a_connect_tunnel(
    run_action: Runner,
    idna_tls_server: tuple[RecordingServer, Path],
    recording_proxy: RecordingProxy,
) -> None:
    server, cert_file = idna_tls_server
    port = server.url.rpartition(":")[2]
    proxy_url = f"http://heat:m%C3%A9ter@127.0.0.1:{recording_proxy.port}"
    result = run_action(
        {"HTTPS_PROXY": proxy_url, "SSL_CERT_FILE": str(cert_file)},
        task="deploy",
        run="true",
        # Only the proxy can reach this name: it sends every host to 127.0.0.1.
        **{"service-url": f"https://Bücher.example:{port}", "secret": SECRET},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert annotations(result.stdout, "warning") == []
    [tunnel] = recording_proxy.requests
    assert (tunnel.method, tunnel.target) == ("CONNECT", f"xn--bcher-kva.example:{port}")
    assert (
        tunnel.headers["proxy-authorization"]
        == "Basic " + base64.b64encode("heat:méter".encode()).decode()
    )
    [report] = server.reports()
    check_signature(report)  # the report itself went through the tunnel, end to end
    assert report.headers["host"] == f"xn--bcher-kva.example:{port}"
    assert "proxy-authorization" not in report.headers
    assert "méter" not in result.stdout + result.stderr


def test_lower_case_http_proxy_wins_and_no_proxy_bypasses(
    run_action: Runner, server: RecordingServer, recording_proxy: RecordingProxy
) -> None:
    # HTTP_PROXY points nowhere; http_proxy, which urllib and curl prefer, is the real one.
    environ = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": recording_proxy.url}
    proxied = run_action(
        environ, task="deploy", run="true", **{"service-url": server.url, "secret": SECRET}
    )
    bypassed = run_action(
        {**environ, "no_proxy": "127.0.0.1"},
        task="deploy",
        run="true",
        **{"service-url": server.url, "secret": SECRET},
    )

    assert annotations(proxied.stdout + bypassed.stdout, "warning") == []
    [seen] = recording_proxy.requests
    assert (seen.method, seen.target) == ("POST", server.url + "/v1/reports")
    assert len(server.reports()) == 2


def test_a_proxy_that_wants_credentials_is_explained(
    run_action: Runner, server: RecordingServer
) -> None:
    guarded = RecordingProxy(credentials="me:secret").start()
    try:
        result = run_action(
            {"HTTP_PROXY": guarded.url},
            task="deploy",
            run="exit 2",
            **{"service-url": server.url, "secret": SECRET},
        )
    finally:
        guarded.stop()

    assert result.returncode == 2
    [warning] = annotations(result.stdout, "warning")
    assert "asks for credentials (HTTP 407)" in warning
    assert "not sent (proxy refused)" in result.summary
    assert server.requests == []


def test_an_unusable_proxy_setting_is_explained(
    run_action: Runner, server: RecordingServer
) -> None:
    result = run_action(
        {"HTTP_PROXY": "socks5://me:secret@127.0.0.1:1080"},
        task="deploy",
        run="true",
        **{"service-url": server.url, "secret": SECRET},
    )

    [warning] = annotations(result.stdout, "warning")
    assert "http_proxy is a socks5:// proxy" in warning
    assert "secret@" not in warning
    assert server.requests == []


@POSIX_ONLY
def test_with_a_proxy_the_hot_path_still_imports_no_heavy_module(
    run_action: Runner, server: RecordingServer, recording_proxy: RecordingProxy
) -> None:
    env = run_action.action_env(
        {"HTTP_PROXY": f"http://me:pw@127.0.0.1:{recording_proxy.port}"},
        {"task": "deploy", "run": "true", "service-url": server.url, "secret": SECRET},
    )
    completed = subprocess.run(
        [ACTION_PYTHON, "-I", "-S", "-X", "importtime", str(MAIN)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert len(recording_proxy.requests) == 1
    modules = imported_modules(completed.stderr)
    assert "action.proxy" in modules
    assert sorted(modules & HEAVY_MODULES) == []
