"""A local OIDC issuer standing in for GitHub Actions': its own keys, JWKS and tokens."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa


class OidcIssuer:
    def __init__(self) -> None:
        self.url = ""
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.jwks_requests = 0
        self.rotate()

    def rotate(self) -> str:
        """Publish a new signing key (GitHub rotates its keys); return its key id."""
        kid = uuid.uuid4().hex[:16]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current_kid = kid
        return kid

    def token(self, *, key: rsa.RSAPrivateKey | None = None, **overrides: Any) -> str:
        """A token shaped like GitHub Actions', for octo-org/octo-repo run 1001 attempt 1."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": "heatmeter",
            "sub": "repo:octo-org/octo-repo:pull_request",
            "repository": "octo-org/octo-repo",
            "repository_owner": "octo-org",
            "run_id": "1001",
            "run_attempt": "1",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        signing_key = key or self.keys[self.current_kid]
        return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": self.current_kid})

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/.well-known/jwks", self._jwks)
        app.router.add_get("/runner/id-token", self._runner_token)
        return app

    # What a runner's ACTIONS_ID_TOKEN_REQUEST_URL answers a job with id-token: write.
    RUNNER_REQUEST_TOKEN = "runner-request-token"

    @property
    def runner_token_url(self) -> str:
        return f"{self.url}/runner/id-token?api-version=2.0"

    async def _runner_token(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").lower() != (
            f"bearer {self.RUNNER_REQUEST_TOKEN}"
        ):
            return web.json_response({"message": "bad request token"}, status=401)
        return web.json_response({"value": self.token(aud=request.query["audience"])})

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.url, "jwks_uri": f"{self.url}/.well-known/jwks"})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_requests += 1
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": keys})


@asynccontextmanager
async def serve_issuer() -> AsyncIterator[OidcIssuer]:
    issuer = OidcIssuer()
    server = TestServer(issuer.make_app(), host="127.0.0.1")
    await server.start_server()
    issuer.url = str(server.make_url("")).rstrip("/")
    try:
        yield issuer
    finally:
        await server.close()
