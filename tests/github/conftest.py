"""Fixtures: a fake GitHub on a local port, an App key pair for it, and an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from heatmeter.github.credentials import AppAuth

from .fake_github import FakeGitHub, serve_fake_github


@pytest.fixture(scope="session")
def app_private_key() -> str:
    """A fresh RSA key, PEM text, standing in for the GitHub App's private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def app_public_key(app_private_key: str) -> bytes:
    key = serialization.load_pem_private_key(app_private_key.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
async def fake_github(app_public_key: bytes) -> AsyncIterator[FakeGitHub]:
    """A fake GitHub REST API on 127.0.0.1 that trusts ``app_private_key``'s App JWTs."""
    async with serve_fake_github(app_public_key=app_public_key) as fake:
        yield fake


@pytest.fixture
async def pool(database_url: str, db: asyncpg.Connection) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session's database, for workers a test runs itself."""
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


REPOSITORY = "octo/widgets"
INSTALLATION_ID = 7


@pytest.fixture
def app_auth(http: aiohttp.ClientSession, fake_github: FakeGitHub, app_private_key: str) -> AppAuth:
    """heatmeter as the fake's App, installed on ``REPOSITORY``."""
    fake_github.add_repository(REPOSITORY, installation_id=INSTALLATION_ID)
    return AppAuth(http, fake_github.url, fake_github.app_id, app_private_key)
