"""What the action's tests share: a job's environment, a recording service, a certificate."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .outputs import parse_outputs

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "action" / "main.py"
# The action runs on whatever Python a runner has; point this at another one to check it.
ACTION_PYTHON = os.environ.get("HEATMETER_ACTION_PYTHON", sys.executable)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = "s3cr3t-Value/42"
SHA = "0123456789abcdef0123456789abcdef01234567"
OIDC_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJyZXBvc2l0b3J5Ijoib2N0by9hcHAifQ.c2lnbmF0dXJl"
REQUEST_TOKEN = "runner-request-token"

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX shells and signals")


class Recorded:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> dict[str, object]:
        return json.loads(self.body)


class RecordingServer:
    """Answers each POST with the next queued answer (default 202) and records every request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: list[tuple[int, dict[str, str], object]] = []
        self.token_answer: tuple[int, object] = (200, {"value": OIDC_JWT})
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorder.requests.append(Recorded(self.command, self.path, headers, body))

            def do_GET(self) -> None:
                self._record()
                status, body = recorder.token_answer
                self._answer(status, body, {})

            def do_POST(self) -> None:
                self._record()
                if recorder.answers:
                    status, headers, body = recorder.answers.pop(0)
                else:
                    status, headers, body = 202, {}, {"id": len(recorder.requests)}
                    body["duplicate"] = False  # type: ignore[index]
                self._answer(status, body, headers)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> RecordingServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reports(self) -> list[Recorded]:
        return [request for request in self.requests if request.method == "POST"]


class Result:
    def __init__(self, completed: subprocess.CompletedProcess[str], workdir: Path, elapsed: float):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.elapsed = elapsed
        self.outputs = parse_outputs((workdir / "output").read_text(encoding="utf-8"))
        self.summary = (workdir / "summary").read_text(encoding="utf-8")


class Runner:
    """A job's environment on disk: RUNNER_TEMP, output/summary files and the event payload."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "temp").mkdir()
        (workdir / "event.json").write_text(
            json.dumps({"action": "synchronize", "number": 42, "pull_request": {"number": 42}}),
            encoding="utf-8",
        )
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(workdir)),
            "LANG": "C.UTF-8",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_WORKFLOW": "CI",
            "GITHUB_RUN_ID": "1234567",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_JOB": "deploy",
            "GITHUB_ACTION": "__octo_heatmeter",
            "GITHUB_SHA": SHA,
            "GITHUB_REF": "refs/pull/42/merge",
            "GITHUB_HEAD_REF": "feature/x",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(workdir / "event.json"),
            "GITHUB_ACTOR": "mona",
            "RUNNER_OS": "Linux",
            "RUNNER_NAME": "GitHub Actions 7",
            "RUNNER_TEMP": str(workdir / "temp"),
            "GITHUB_OUTPUT": str(workdir / "output"),
            "GITHUB_STEP_SUMMARY": str(workdir / "summary"),
        }
        if os.name == "nt":
            self.env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")

    def action_env(
        self, extra_env: dict[str, str] | None, inputs: dict[str, str]
    ) -> dict[str, str]:
        for name in ("output", "summary"):
            (self.workdir / name).write_text("", encoding="utf-8")
        env = {**self.env, **(extra_env or {})}
        for name, value in inputs.items():
            env["INPUT_" + name.replace("-", "_").upper()] = value
        return env

    def __call__(self, extra_env: dict[str, str] | None = None, **inputs: str) -> Result:
        env = self.action_env(extra_env, inputs)
        began = time.monotonic()
        completed = subprocess.run(
            [ACTION_PYTHON, "-I", "-S", str(MAIN)],
            env=env,
            capture_output=True,
            text=True,
            cwd=self.workdir,
            check=False,
        )
        return Result(completed, self.workdir, time.monotonic() - began)


def check_contract(report: dict[str, object], phase: str) -> None:
    """The fields and types docs/report-contract.md promises."""
    assert report["repository"] == "octo/app"
    assert report["workflow"] == "CI"
    assert report["run_id"] == 1234567
    assert report["run_attempt"] == 2
    assert report["job"] == "deploy"
    assert report["kind"] in ("scaffolding", "deploy", "provisioning", "other")
    assert isinstance(report["task"], str)
    assert 1 <= len(report["task"]) <= 100
    assert isinstance(report["step"], str)
    assert 1 <= len(report["step"]) <= 200
    assert report["phase"] == phase
    started = datetime.fromisoformat(str(report["started_at"]))
    assert started.utcoffset() is not None
    assert report["sha"] == SHA
    assert report["ref"] == "refs/pull/42/merge"
    assert report["head_ref"] == "feature/x"
    assert report["pull_request"] == 42
    assert report["event_name"] == "pull_request"
    assert report["runner_os"] == "Linux"
    assert report["runner_name"] == "GitHub Actions 7"
    assert report["actor"] == "mona"
    if phase == "finish":
        finished = datetime.fromisoformat(str(report["finished_at"]))
        assert finished >= started
        assert isinstance(report["duration_ms"], int)
        assert report["duration_ms"] >= 0
        assert report["outcome"] in ("success", "failure", "cancelled", "timed_out", "skipped")
    else:
        assert {"finished_at", "duration_ms", "outcome"}.isdisjoint(report)
    known = {
        "repository", "workflow", "run_id", "run_attempt", "job", "task", "kind", "step",
        "phase", "started_at", "finished_at", "duration_ms", "outcome", "exit_code", "sha",
        "ref", "head_ref", "pull_request", "event_name", "runner_os", "runner_name", "actor",
        "version",
    }  # fmt: skip
    assert set(report) <= known


def check_signature(request: Recorded) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-heatmeter-signature-256"], expected)
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers


def annotations(stdout: str, kind: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"::{kind} ")]


def write_certificate(folder: Path, dns_names: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1 (and `dns_names`), and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heatmeter test")])
    now = datetime.now().astimezone()
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    names += [x509.DNSName(dns_name) for dns_name in dns_names]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def serve_tls(recording: RecordingServer, cert_file: Path, key_file: Path) -> None:
    """Put `recording` behind TLS with the certificate in `cert_file` (before it starts)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    recording.httpd.socket = context.wrap_socket(recording.httpd.socket, server_side=True)
    recording.url = recording.url.replace("http://", "https://")
