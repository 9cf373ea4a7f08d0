"""Who sent a report: an HMAC over the body with the shared secret, or a GitHub OIDC token."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import structlog

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Heatmeter-Signature-256"
_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
# A token is a few KiB; a JWKS document a few more. Anything larger is not one.
_MAX_DOCUMENT_BYTES = 256 * 1024


class AuthError(Exception):
    """The report is not authenticated (401) or not allowed for that repository (403)."""

    def __init__(self, detail: str, *, status: int = 401) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Reporter:
    """What proved itself: the method, and for OIDC the token's claims."""

    method: str
    claims: dict[str, Any] | None = None


def sign(secret: str, body: bytes) -> str:
    """The header value a client sends: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | None, header: str | None, body: bytes) -> Reporter:
    if secret is None:
        raise AuthError(
            "HMAC-signed reports are not accepted here (no HEATMETER_REPORT_SECRET is set); "
            "use an OIDC token"
        )
    if not header:
        raise AuthError(f"missing {SIGNATURE_HEADER} or Authorization header")
    if not hmac.compare_digest(sign(secret, body).encode(), header.strip().encode()):
        raise AuthError(f"{SIGNATURE_HEADER} does not match the body")
    return Reporter("hmac")


def check_claims(reporter: Reporter, repository: str, run_id: int, run_attempt: int) -> None:
    """A repository may report only for itself, and only for the run that holds the token."""
    if reporter.claims is None:
        return
    claims = reporter.claims
    expected = {"repository": repository, "run_id": str(run_id), "run_attempt": str(run_attempt)}
    for name, value in expected.items():
        if str(claims.get(name, "")).lower() != value.lower():
            raise AuthError(
                f"the report's {name} does not match the OIDC token's {name} claim", status=403
            )


class OidcVerifier:
    """Verifies GitHub Actions OIDC tokens against the issuer's published keys.

    Keys come from the issuer's discovery document and are cached; an unknown key id
    triggers one refresh (GitHub rotates keys), at most one a second so a flood of forged
    key ids cannot turn into a flood of requests to the issuer. Inside that second an
    unknown key id is answered "retry" (503), not "no" (401): the action retries a 503,
    so a token signed with a brand-new key is never lost to the rate limit.
    """

    MIN_REFRESH_INTERVAL_S = 1.0

    def __init__(
        self,
        session: aiohttp.ClientSession,
        issuer: str,
        audience: str,
        *,
        leeway: float = 30.0,
    ) -> None:
        self._session = session
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._leeway = leeway
        self._keys: dict[str, Any] = {}
        self._refreshed_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Reporter:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        kid = header.get("kid")
        if header.get("alg") not in _ALGORITHMS:
            raise AuthError("the bearer token's algorithm is not accepted")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "repository", "run_id"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the OIDC token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(f"the OIDC token's audience is not {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise AuthError(f"the OIDC token was not issued by {self.issuer}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the OIDC token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError("the OIDC token's signature does not verify") from None
        return Reporter("oidc", claims)

    async def _key(self, kid: str | None) -> Any:
        if kid not in self._keys:
            async with self._lock:
                if kid not in self._keys:
                    if time.monotonic() - self._refreshed_at < self.MIN_REFRESH_INTERVAL_S:
                        raise OidcUnavailable("the issuer's keys were refreshed just now; retry")
                    await self._refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise AuthError(
                "the OIDC token was signed with a key the issuer does not publish"
            ) from None

    async def _refresh(self) -> None:
        self._refreshed_at = time.monotonic()
        try:
            discovery = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            jwks = await self._get_json(discovery["jwks_uri"])
            keys = {}
            for jwk in jwks["keys"]:
                keys[jwk.get("kid")] = jwt.PyJWK.from_dict(jwk).key
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.warning("oidc keys unavailable", issuer=self.issuer, error=repr(exc))
            # Keep the keys we had; a transient outage must not lock out every runner.
            self._refreshed_at = float("-inf") if not self._keys else self._refreshed_at
            raise OidcUnavailable(f"cannot fetch the OIDC issuer's keys: {exc!r}") from None
        self._keys = keys
        log.info("oidc keys refreshed", issuer=self.issuer, keys=len(keys))

    async def _get_json(self, url: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=10)
        async with self._session.get(url, timeout=timeout) as response:
            response.raise_for_status()
            body = await response.content.read(_MAX_DOCUMENT_BYTES)
            return json.loads(body)


class OidcUnavailable(Exception):
    """The issuer's keys cannot be fetched right now: the report should be retried (503)."""
