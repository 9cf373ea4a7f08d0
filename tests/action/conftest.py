"""Fixtures of the action's tests: a recording service (plain and TLS) and a job to run in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import RecordingServer, Runner, serve_tls, write_certificate


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer().start()
    yield recording
    recording.stop()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RecordingServer, Path]]:
    """The recording server behind TLS, with a self-signed certificate for 127.0.0.1."""
    cert_file, key_file = write_certificate(tmp_path)
    recording = RecordingServer()
    serve_tls(recording, cert_file, key_file)
    recording.start()
    yield recording, cert_file
    recording.stop()


@pytest.fixture
def run_action(tmp_path: Path) -> Runner:
    return Runner(tmp_path)
