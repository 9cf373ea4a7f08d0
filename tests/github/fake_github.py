"""A local aiohttp server that answers like GitHub's REST API and records what it was sent.

Start it with ``async with serve_fake_github(...) as fake`` (or the ``fake_github``
fixture) and point the code under test at ``fake.url``. It knows repositories you add,
App installations, installation tokens it minted, plain tokens you add, and issue
comments; a test can script failures for the next requests matching a method and path.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer

from .fake_actions import FakeActions

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

APP_SLUG = "heatmeter"
BOT_USER = {"login": f"{APP_SLUG}[bot]", "id": 41898282, "type": "Bot"}
PERSON = {"login": "octocat", "id": 583231, "type": "User"}
REACTION_CONTENTS = frozenset(
    {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
)


@dataclass
class RecordedRequest:
    """One request as the fake saw it, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    status: int = 0
    # When it arrived (time.monotonic), to check that waits really happened.
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Scripted:
    method: str
    path: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    # True: do the real work first, then answer with the failure (GitHub made the comment
    # but the answer was lost). "disconnect": drop the connection without an answer.
    after: bool = False
    disconnect: bool = False
    # Set: wait for it before answering ("hold" then handle, or "stall" and never answer).
    gate: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    stall: bool = False
    # Only requests carrying these query parameters (e.g. {"page": "2"}).
    query: dict[str, str] = field(default_factory=dict)


class Held:
    """A request the fake holds: ``await arrived()``, then ``release()`` lets it be handled.

    Released after its client has gone (a killed replica), it is still handled, as GitHub
    finishes a request whose client hung up after sending it.
    """

    def __init__(self, scripted: _Scripted) -> None:
        self._scripted = scripted

    async def arrived(self) -> None:
        await self._scripted.arrived.wait()

    def release(self) -> None:
        assert self._scripted.gate is not None
        self._scripted.gate.set()


@dataclass
class _HookDelivery:
    """One attempt to deliver a webhook to the App, as GitHub lists it."""

    id: int
    guid: str
    event: str
    action: str | None
    delivered_at: float
    redelivery: bool
    status_code: int  # 0: no answer at all (connection refused, timeout)
    payload: Any

    def public(self) -> dict[str, Any]:
        ok = 200 <= self.status_code < 300
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": _iso(self.delivered_at),
            "redelivery": self.redelivery,
            "duration": 0.27,
            "status": "OK" if ok else _failed_status(self.status_code),
            "status_code": self.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": 7,
            "repository_id": 1296269,
            "throttled_at": None,
        }


@dataclass
class _Token:
    installation_id: int | None  # None: a plain token that may act on every repository
    expires_at: float | None
    login: dict[str, Any] = field(default_factory=lambda: dict(PERSON))


class FakeGitHub:
    """GitHub's REST API, the parts heatmeter uses, in memory."""

    def __init__(
        self,
        *,
        app_id: int = 4242,
        app_public_key: str | bytes | None = None,
        token_lifetime_s: float = 3600.0,
    ) -> None:
        self.app_id = app_id
        self.app_public_key = app_public_key
        self.token_lifetime_s = token_lifetime_s
        self.url = ""  # set once served
        self.requests: list[RecordedRequest] = []
        self.minted_tokens: list[str] = []
        self._repositories: dict[str, int | None] = {}  # lower-case name -> installation
        self._tokens: dict[str, _Token] = {}
        self._comments: dict[int, dict[str, Any]] = {}
        self._comment_ids = itertools.count(1_000_001)
        self._reaction_ids = itertools.count(1)
        self._scripted: list[_Scripted] = []
        self._held_work: set[asyncio.Task[web.StreamResponse]] = set()
        self.hook_deliveries: list[_HookDelivery] = []
        self._hook_delivery_ids = itertools.count(90_000_001)
        self._webhook_target: tuple[str, str] | None = None
        # Workflow runs and their jobs (fake_actions.py).
        self.actions = FakeActions(self)
        # What GET /rate_limit says of the core limit.
        self.rate_limit_remaining = 5000
        self.rate_limit_reset = time.time() + 3600
        # The most items a page of /app/installations or /installation/repositories holds
        # (GitHub's: 100); a test lowers it to see pagination followed.
        self.max_per_page = 100
        self._suspended: dict[int, str] = {}  # installation -> when

    # --- setting the scene -------------------------------------------------------

    def add_repository(self, repository: str, *, installation_id: int | None = None) -> None:
        """A repository that exists; with ``installation_id``, the App is installed on it."""
        self._repositories[repository.lower()] = installation_id

    def remove_repository(self, repository: str) -> None:
        self._repositories.pop(repository.lower(), None)

    def suspend_installation(self, installation_id: int) -> None:
        """An installation suspended by its owner: listed, but it mints no token."""
        self._suspended[installation_id] = _iso(time.time())

    def add_token(self, token: str, *, user: dict[str, Any] | None = None) -> None:
        """A plain token (``GITHUB_TOKEN``, PAT) valid for every repository."""
        self._tokens[token] = _Token(None, None, dict(user or PERSON))

    def revoke_tokens(self) -> None:
        """Every installation token stops working (401), as after a key rotation."""
        for value in [t for t, info in self._tokens.items() if info.installation_id is not None]:
            del self._tokens[value]

    def add_comment(
        self, repository: str, number: int, body: str, *, by_app: bool = False
    ) -> dict[str, Any]:
        """A comment already on the PR, written by a person or (``by_app``) by the App."""
        return self._new_comment(repository, number, body, by_app=by_app, user=None)

    def delete_comment(self, comment_id: int) -> None:
        del self._comments[comment_id]

    def add_hook_delivery(
        self,
        event: str,
        payload: Any,
        *,
        status_code: int,
        guid: str | None = None,
        delivered_at: float | None = None,
        redelivery: bool = False,
    ) -> dict[str, Any]:
        """An attempt GitHub made to deliver a webhook to the App, and how it was answered."""
        action = payload.get("action") if isinstance(payload, dict) else None
        delivery = _HookDelivery(
            next(self._hook_delivery_ids),
            guid or str(uuid.uuid4()),
            event,
            action,
            time.time() if delivered_at is None else delivered_at,
            redelivery,
            status_code,
            payload,
        )
        self.hook_deliveries.append(delivery)
        return delivery.public()

    def deliver_to(self, url: str, secret: str) -> None:
        """Where the App's webhook points: redeliveries are sent there, signed with ``secret``."""
        self._webhook_target = (url, secret)

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        after: bool = False,
        query: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (``*``: any) and ``path``
        (a glob, e.g. ``/repos/*/issues/comments/*``) and carrying ``query``, with ``status``;
        ``after=True`` does the real work first, as when GitHub acts but the answer is
        lost on the way."""
        if body is None:
            body = {"message": "Server Error" if status >= 500 else "Failed"}
        self._scripted.append(
            _Scripted(
                method.upper(), path, status, body, dict(headers or {}), times, after,
                query=dict(query or {}),
            )
        )  # fmt: skip

    def rate_limit_once(self, path: str, *, reset: int, **match: str) -> None:
        """The next request to ``path`` (a glob; with ``match`` as query parameters) is
        refused as GitHub refuses a spent primary rate limit: 403, ``x-ratelimit-remaining:
        0`` and the ``reset`` instant (seconds since the epoch)."""
        self.fail(
            "GET",
            path,
            403,
            body={
                "message": "API rate limit exceeded for installation ID 7.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits",
            },
            headers={
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": "5000",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            },
            query=match,
        )

    def disconnect(self, method: str, path: str, *, times: int = 1) -> None:
        """Drop the connection, with no answer, on the next ``times`` matching requests.

        aiohttp's client silently retries an idempotent request once when a pooled
        connection drops, so a GET needs ``times=2`` to reach the code under test.
        """
        self._scripted.append(_Scripted(method.upper(), path, 0, None, {}, times, disconnect=True))

    def stall(self, method: str, path: str, *, times: int = 1) -> None:
        """Never answer the next ``times`` matching requests: the caller's timeout fires."""
        gate = asyncio.Event()
        self._scripted.append(
            _Scripted(method.upper(), path, 0, None, {}, times, gate=gate, stall=True)
        )

    def hold(self, method: str, path: str) -> Held:
        """Hold the next matching request until the test releases it (see ``Held``)."""
        scripted = _Scripted(method.upper(), path, 0, None, {}, 1, gate=asyncio.Event())
        self._scripted.append(scripted)
        return Held(scripted)

    def recover(self) -> None:
        """GitHub is back: every scripted failure still pending is dropped."""
        self._scripted.clear()

    def release_everything(self) -> None:
        for scripted in self._scripted:
            if scripted.gate is not None:
                scripted.gate.set()

    # --- looking at what happened ------------------------------------------------

    def comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        """The PR's comments, oldest first."""
        return [
            c
            for c in self._comments.values()
            if c["_repository"] == repository.lower() and c["_number"] == number
        ]

    @property
    def writes(self) -> list[RecordedRequest]:
        """Every POST or PATCH of an issue comment, answered however it was."""
        return [
            r
            for r in self.requests
            if r.method in {"POST", "PATCH"}
            and fnmatch.fnmatchcase(r.path, "/repos/*/comments*")
            and not r.path.endswith("/reactions")
        ]

    def reactions(self, comment_id: int) -> list[dict[str, Any]]:
        """The reactions on an issue comment, oldest first."""
        return list(self._comments[comment_id]["_reactions"])

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests matching ``method`` and the glob ``path``."""
        return [
            r
            for r in self.requests
            if r.method == method.upper() and fnmatch.fnmatchcase(r.path, path)
        ]

    # --- the server ----------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record, self._script])
        repo = "/repos/{owner}/{repo}"
        app.router.add_post("/app/installations/{id}/access_tokens", self._access_token)
        app.router.add_get("/app/hook/deliveries", self._list_hook_deliveries)
        app.router.add_post("/app/hook/deliveries/{id:\\d+}/attempts", self._redeliver)
        app.router.add_get(f"{repo}/installation", self._installation)
        app.router.add_get(f"{repo}/issues/{{number:\\d+}}/comments", self._list_comments)
        app.router.add_post(f"{repo}/issues/{{number:\\d+}}/comments", self._create_comment)
        app.router.add_get(f"{repo}/issues/comments/{{id:\\d+}}", self._get_comment)
        app.router.add_patch(f"{repo}/issues/comments/{{id:\\d+}}", self._edit_comment)
        app.router.add_delete(f"{repo}/issues/comments/{{id:\\d+}}", self._delete_comment)
        app.router.add_post(f"{repo}/issues/comments/{{id:\\d+}}/reactions", self._react)
        app.router.add_get("/app/installations", self._list_installations)
        app.router.add_get("/installation/repositories", self._installation_repositories)
        app.router.add_get("/rate_limit", self._rate_limit)
        self.actions.add_routes(app, repo)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        recorded = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), payload
        )
        self.requests.append(recorded)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            recorded.status = exc.status
            raise
        recorded.status = response.status
        return response

    @web.middleware
    async def _script(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        scripted = next(
            (
                s
                for s in self._scripted
                if s.remaining > 0
                and s.method in {"*", request.method}
                and fnmatch.fnmatchcase(request.path, s.path)
                and all(request.query.get(k) == v for k, v in s.query.items())
            ),
            None,
        )
        if scripted is None:
            return await handler(request)
        scripted.remaining -= 1
        if scripted.gate is not None:
            scripted.arrived.set()
            if scripted.stall:
                await scripted.gate.wait()
                return web.Response(status=599)
            # Shielded: the request is handled once released even if its client has gone
            # (aiohttp cancels the handler of a closed connection).
            work = asyncio.ensure_future(self._handle_when_released(scripted, handler, request))
            self._held_work.add(work)
            work.add_done_callback(self._held_work.discard)
            return await asyncio.shield(work)
        if scripted.disconnect:
            assert request.transport is not None
            request.transport.abort()
            # Nobody will read this answer: the connection is already gone.
            return web.Response(status=599)
        if scripted.after:
            await handler(request)
        return web.json_response(scripted.body, status=scripted.status, headers=scripted.headers)

    @staticmethod
    async def _handle_when_released(
        scripted: _Scripted, handler: Handler, request: web.Request
    ) -> web.StreamResponse:
        assert scripted.gate is not None
        await scripted.gate.wait()
        return await handler(request)

    async def _access_token(self, request: web.Request) -> web.Response:
        self._require_app_jwt(request)
        installation_id = int(request.match_info["id"])
        if installation_id not in self._repositories.values():
            return _not_found()
        if installation_id in self._suspended:
            return web.json_response({"message": "This installation has been suspended"}, 403)
        value = "ghs_" + secrets.token_urlsafe(27)
        expires_at = time.time() + self.token_lifetime_s
        self._tokens[value] = _Token(installation_id, expires_at, dict(BOT_USER))
        self.minted_tokens.append(value)
        return web.json_response(
            {
                "token": value,
                "expires_at": _iso(expires_at),
                "permissions": {"issues": "write", "pull_requests": "write"},
                "repository_selection": "selected",
            },
            status=201,
        )

    async def _list_hook_deliveries(self, request: web.Request) -> web.Response:
        """Newest first, a page at a time, with an opaque cursor to the next page."""
        self._require_app_jwt(request)
        per_page = min(100, max(1, int(request.query.get("per_page", "30"))))
        ordered = sorted(self.hook_deliveries, key=lambda d: (d.delivered_at, d.id), reverse=True)
        start = 0
        if cursor := request.query.get("cursor"):
            after = int(cursor.removeprefix("v1_"))
            start = next((n + 1 for n, d in enumerate(ordered) if d.id == after), len(ordered))
        page = ordered[start : start + per_page]
        headers = {}
        if start + per_page < len(ordered):
            cursor = f"v1_{page[-1].id}"
            following = request.url.update_query({"per_page": per_page, "cursor": cursor})
            headers["Link"] = f'<{following}>; rel="next"'
        return web.json_response([d.public() for d in page], headers=headers)

    async def _redeliver(self, request: web.Request) -> web.Response:
        """A new attempt of the same delivery (same guid), sent before answering 202."""
        self._require_app_jwt(request)
        wanted = int(request.match_info["id"])
        original = next((d for d in self.hook_deliveries if d.id == wanted), None)
        if original is None:
            return _not_found()
        status = await self._send_webhook(original)
        self.hook_deliveries.append(
            _HookDelivery(
                next(self._hook_delivery_ids),
                original.guid,
                original.event,
                original.action,
                time.time(),
                True,
                status,
                original.payload,
            )
        )
        return web.json_response({}, status=202)

    async def _send_webhook(self, delivery: _HookDelivery) -> int:
        if self._webhook_target is None:
            return 0
        url, secret = self._webhook_target
        body = json.dumps(delivery.payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.guid,
            "X-Hub-Signature-256": f"sha256={signature}",
        }
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=body, headers=headers) as answer,
            ):
                return answer.status
        except aiohttp.ClientError:
            return 0

    async def _installation(self, request: web.Request) -> web.Response:
        self._require_app_jwt(request)
        owner = request.match_info["owner"]
        installation_id = self._repositories.get(f"{owner}/{request.match_info['repo']}".lower())
        if installation_id is None:
            return _not_found()
        return web.json_response(
            {
                "id": installation_id,
                "app_id": self.app_id,
                "app_slug": APP_SLUG,
                "account": {"login": owner},
                "target_type": "Organization",
            }
        )

    async def _list_installations(self, request: web.Request) -> web.Response:
        """Every installation of the App, a page at a time (``per_page``, ``page``, Link)."""
        self._require_app_jwt(request)
        accounts: dict[int, str] = {}
        for repository, installation_id in sorted(self._repositories.items()):
            if installation_id is not None:
                accounts.setdefault(installation_id, repository.split("/")[0])
        installations = [
            {
                "id": installation_id,
                "app_id": self.app_id,
                "app_slug": APP_SLUG,
                "account": {"login": account, "type": "Organization"},
                "target_type": "Organization",
                "repository_selection": "selected",
                "access_tokens_url": f"{self.url}/app/installations/{installation_id}"
                "/access_tokens",
                "suspended_at": self._suspended.get(installation_id),
            }
            for installation_id, account in sorted(accounts.items())
        ]
        chunk, headers = self._page(request, installations)
        return web.json_response(chunk, headers=headers)

    async def _installation_repositories(self, request: web.Request) -> web.Response:
        """The installation's repositories, as its own token sees them, a page at a time."""
        _, value = self._credentials(request)
        token = self._tokens.get(value)
        if token is None or token.installation_id is None:
            raise _unauthorized("Bad credentials")
        names = sorted(r for r, i in self._repositories.items() if i == token.installation_id)
        repositories = [
            {
                "id": 500_000 + n,
                "name": name.split("/")[1],
                "full_name": name,
                "owner": {"login": name.split("/")[0]},
                "url": f"{self.url}/repos/{name}",
            }
            for n, name in enumerate(names)
        ]
        chunk, headers = self._page(request, repositories)
        return web.json_response(
            {"total_count": len(repositories), "repositories": chunk}, headers=headers
        )

    def _page(self, request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """The page of ``items`` the request asks for, and its Link header when there are more."""
        per_page = min(self.max_per_page, max(1, int(request.query.get("per_page", "30"))))
        page = max(1, int(request.query.get("page", "1")))
        last = max(1, -(-len(items) // per_page))
        headers = {"Link": _link_header(request, per_page, page, last)} if last > 1 else {}
        return items[(page - 1) * per_page : page * per_page], headers

    async def _rate_limit(self, request: web.Request) -> web.Response:
        self._credentials(request)
        core = {
            "limit": 5000,
            "remaining": self.rate_limit_remaining,
            "reset": int(self.rate_limit_reset),
            "used": 5000 - self.rate_limit_remaining,
            "resource": "core",
        }
        return web.json_response({"resources": {"core": core}, "rate": core})

    async def _list_comments(self, request: web.Request) -> web.Response:
        repository, _ = self._require_repository_access(request)
        chunk, headers = self._page(
            request, self.comments(repository, int(request.match_info["number"]))
        )
        return web.json_response([_public(c) for c in chunk], headers=headers)

    async def _create_comment(self, request: web.Request) -> web.Response:
        repository, token = self._require_repository_access(request)
        payload = await request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
            return _invalid("body")
        comment = self._new_comment(
            repository,
            int(request.match_info["number"]),
            payload["body"],
            by_app=token.installation_id is not None,
            user=token.login,
        )
        return web.json_response(_public(comment), status=201)

    async def _get_comment(self, request: web.Request) -> web.Response:
        repository, _ = self._require_repository_access(request)
        comment = self._comment_in(repository, request)
        return _not_found() if comment is None else web.json_response(_public(comment))

    async def _edit_comment(self, request: web.Request) -> web.Response:
        repository, _ = self._require_repository_access(request)
        comment = self._comment_in(repository, request)
        if comment is None:
            return _not_found()
        payload = await request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
            return _invalid("body")
        comment["body"] = payload["body"]
        comment["updated_at"] = _iso(time.time())
        return web.json_response(_public(comment))

    async def _delete_comment(self, request: web.Request) -> web.Response:
        repository, _ = self._require_repository_access(request)
        comment = self._comment_in(repository, request)
        if comment is None:
            return _not_found()
        del self._comments[comment["id"]]
        return web.Response(status=204)

    async def _react(self, request: web.Request) -> web.Response:
        repository, token = self._require_repository_access(request)
        comment = self._comment_in(repository, request)
        if comment is None:
            return _not_found()
        payload = await request.json()
        content = payload.get("content") if isinstance(payload, dict) else None
        if content not in REACTION_CONTENTS:
            return _invalid("content")
        # GitHub answers 200 with the existing reaction when this user already made it.
        for reaction in comment["_reactions"]:
            if reaction["content"] == content and reaction["user"]["login"] == token.login["login"]:
                return web.json_response(reaction, status=200)
        reaction = {"id": next(self._reaction_ids), "content": content, "user": token.login}
        comment["_reactions"].append(reaction)
        return web.json_response(reaction, status=201)

    # --- helpers -----------------------------------------------------------------

    def _credentials(self, request: web.Request) -> tuple[str, str]:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in {"token", "bearer"} or not value.strip():
            raise _unauthorized("Requires authentication")
        return scheme.lower(), value.strip()

    def _require_app_jwt(self, request: web.Request) -> None:
        scheme, value = self._credentials(request)
        if scheme != "bearer" or self.app_public_key is None:
            raise _unauthorized("A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                value,
                self.app_public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError:
            raise _unauthorized("A JSON web token could not be decoded") from None
        if str(claims["iss"]) != str(self.app_id):
            raise _unauthorized("'Issuer' claim ('iss') must be an Integer")

    def _require_repository_access(self, request: web.Request) -> tuple[str, _Token]:
        _, value = self._credentials(request)
        token = self._tokens.get(value)
        if token is None or (token.expires_at is not None and token.expires_at <= time.time()):
            raise _unauthorized("Bad credentials")
        repository = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
        if repository not in self._repositories:
            raise web.HTTPNotFound(**_json({"message": "Not Found"}))
        # GitHub hides what an installation cannot see behind a 404.
        if token.installation_id not in {None, self._repositories[repository]}:
            raise web.HTTPNotFound(**_json({"message": "Not Found"}))
        return repository, token

    def _comment_in(self, repository: str, request: web.Request) -> dict[str, Any] | None:
        comment = self._comments.get(int(request.match_info["id"]))
        if comment is None or comment["_repository"] != repository:
            return None
        return comment

    def _new_comment(
        self,
        repository: str,
        number: int,
        body: str,
        *,
        by_app: bool,
        user: dict[str, Any] | None,
    ) -> dict[str, Any]:
        comment_id = next(self._comment_ids)
        now = _iso(time.time())
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{self.url}/repos/{repository}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{repository}/pull/{number}#issuecomment-{comment_id}",
            "body": body,
            "user": dict(user or (BOT_USER if by_app else PERSON)),
            "created_at": now,
            "updated_at": now,
            "author_association": "NONE" if by_app else "MEMBER",
            "performed_via_github_app": (
                {"id": self.app_id, "slug": APP_SLUG, "name": APP_SLUG} if by_app else None
            ),
            "_repository": repository.lower(),
            "_number": number,
            "_reactions": [],
        }
        self._comments[comment_id] = comment
        return comment


@asynccontextmanager
async def serve_fake_github(**kwargs: Any) -> AsyncIterator[FakeGitHub]:
    """Serve a ``FakeGitHub(**kwargs)`` on 127.0.0.1 at an ephemeral port."""
    fake = FakeGitHub(**kwargs)
    server = TestServer(fake.make_app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        fake.release_everything()
        await server.close()


def _failed_status(status_code: int) -> str:
    if status_code == 0:
        return "Couldn't connect to server"
    return f"Invalid HTTP Response: {status_code}"


def _public(comment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comment.items() if not k.startswith("_")}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _link_header(request: web.Request, per_page: int, page: int, last: int) -> str:
    def url(n: int) -> str:
        return str(request.url.update_query({"per_page": per_page, "page": n}))

    links = []
    if page > 1:
        links += [f'<{url(page - 1)}>; rel="prev"']
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"']
    return ", ".join(links)


def _json(body: Any) -> dict[str, Any]:
    return {"text": json.dumps(body), "content_type": "application/json"}


def _unauthorized(message: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(**_json({"message": message}))


def _not_found() -> web.Response:
    return web.json_response({"message": "Not Found"}, status=404)


def _invalid(field_name: str) -> web.Response:
    return web.json_response(
        {
            "message": "Invalid request.",
            "errors": [{"resource": "IssueComment", "code": "missing_field", "field": field_name}],
        },
        status=422,
    )
