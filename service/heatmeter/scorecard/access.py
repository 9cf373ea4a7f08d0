"""Who may read the scorecard: HEATMETER_READ_TOKEN as a bearer header or a sign-in cookie.

Without a token every read route is open (the README says to bind to localhost then).
With one, each read handler is wrapped by ``read_guard``: a bearer header or the cookie
set by /signin must match, compared in constant time. The cookie holds an HMAC of the
token, not the token, so it is useless elsewhere and a new token signs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from aiohttp import web

from ..appkeys import settings_key
from ..http.errors import json_error

COOKIE = "heatmeter_read"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
_SESSION_CONTEXT = b"heatmeter read session v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_value(token: str) -> str:
    """What the sign-in cookie holds for ``token``."""
    return hmac.new(token.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def may_read(request: web.Request) -> bool:
    token = request.app[settings_key].read_token
    if token is None:
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials and token_matches(credentials.strip(), token):
        return True
    cookie = request.cookies.get(COOKIE)
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: sign-in never redirects away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    return target


def read_guard(*, html: bool) -> Callable[[Handler], Handler]:
    """Wrap a read handler: pages send strangers to /signin, the API answers 401 JSON."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            if may_read(request):
                return await handler(request)
            if html:
                target = quote(local_path(request.path_qs), safe="")
                raise web.HTTPSeeOther(f"/signin?next={target}")
            return json_error(
                401,
                "unauthorized",
                "this service needs HEATMETER_READ_TOKEN: send Authorization: Bearer <token>",
            )

        guarded.read_guarded = True  # type: ignore[attr-defined]  # checked by the tests
        return guarded

    return wrap


def _over_https(request: web.Request) -> bool:
    # Behind a TLS-terminating proxy the request reaches us over http; the public URL or
    # the proxy's header says it was https. Trusting the header can only add the flag.
    public_url = request.app[settings_key].public_url or ""
    return (
        request.secure
        or public_url.startswith("https://")
        or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )


def sign_in(response: web.StreamResponse, request: web.Request, token: str) -> None:
    """Set the HTTP-only, SameSite=Strict cookie (Secure when the request came over https)."""
    response.set_cookie(
        COOKIE,
        session_value(token),
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_over_https(request),
    )
