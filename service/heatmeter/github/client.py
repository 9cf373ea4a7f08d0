"""The one way out to GitHub's REST API: a gidgethub client per identity, retried within a budget.

Every call heatmeter makes to GitHub, on a repository's behalf or as the App itself,
goes through ``GitHubClient``. It keeps one ``gidgethub`` client per identity (the App,
an App installation, or the plain token), so gidgethub's own rate-limit record
(``GitHubAPI.rate_limit``, parsed from every answer's ``x-ratelimit-*`` headers) is
shared by every call made as that identity, and a call that would only be refused
waits for the reset instead of spending a request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import gidgethub.aiohttp
import structlog

from ..settings import GITHUB_API_URL
from . import USER_AGENT
from .credentials import AppAuth, GitHubAuth
from .policy import Backoff, Clock, Failure, classify, exhausted

log = structlog.get_logger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
# A request as the caller writes it: given the identity's gidgethub client and a token.
Request = Callable[[gidgethub.aiohttp.GitHubAPI, str], Awaitable[T]]

DEFAULT_BUDGET_S = 30.0
REQUEST_TIMEOUT_S = 10.0


class GitHubUnavailable(Exception):
    """GitHub kept failing (5xx, rate limit, network) past the budget: try again later.

    ``retry_after`` is how many seconds GitHub asked us to wait, when it said.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class GitHubRefused(Exception):
    """GitHub said no in a way retrying cannot fix: repository gone, no access, invalid."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotFound(Exception):
    """404 on a call whose caller asked to hear it (``missing_is_gone``): the thing is gone."""


class MaybeApplied(Exception):
    """A non-idempotent call failed in a way that may have reached GitHub (5xx, network)."""


def web_url(api_url: str) -> str:
    """GitHub's web root for its REST root: api.github.com, or GHES's /api/v3."""
    if api_url.rstrip("/") == GITHUB_API_URL:
        return "https://github.com"
    return api_url.rstrip("/").removesuffix("/api/v3")


class GitHubClient:
    """Calls GitHub as ``auth`` says, retrying what a retry can mend within a budget."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: GitHubAuth,
        *,
        api_url: str = GITHUB_API_URL,
        budget_s: float = DEFAULT_BUDGET_S,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.auth = auth
        self.api_url = api_url
        self._session = session
        self._budget_s = budget_s
        self._request_timeout_s = request_timeout_s
        self._sleep = sleep
        # Wall-clock time, to read GitHub's reset instants; monotonic, to spend the budget.
        self._clock = clock
        self._monotonic = monotonic
        self._apis: dict[str, gidgethub.aiohttp.GitHubAPI] = {}

    def operation(self, repository: str) -> Operation:
        """Calls on ``repository`` that share one waiting budget (one logical change)."""
        auth = self.auth
        return Operation(
            self,
            repository,
            self._backoff(),
            credentials=lambda: auth.credentials(repository),
            forget=lambda: auth.forget(repository),
        )

    def app_operation(self) -> Operation:
        """Calls as the GitHub App itself (its webhook deliveries, its installations).

        Their requests are given the App's JWT where others get a token (pass it as
        gidgethub's ``jwt=``); the App has a rate limit of its own.
        """
        auth = self._app()
        return Operation(
            self,
            f"GitHub App {auth.app_id}",
            self._backoff(),
            credentials=auth.app_credentials,
            forget=lambda: None,
        )

    def installation_operation(self, installation_id: int) -> Operation:
        """Calls as one installation of the App, whatever its repositories (listing them)."""
        auth = self._app()
        return Operation(
            self,
            f"installation {installation_id}",
            self._backoff(),
            credentials=lambda: auth.installation_credentials(installation_id),
            forget=lambda: auth.forget_token(installation_id),
        )

    async def call(self, repository: str, what: str, request: Request[T], **options: bool) -> T:
        """One call with a budget of its own; see ``Operation.run`` for ``options``."""
        return await self.operation(repository).run(what, request, **options)

    def _app(self) -> AppAuth:
        if not isinstance(self.auth, AppAuth):
            raise TypeError("calls as the App need GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY")
        return self.auth

    def _backoff(self) -> Backoff:
        return Backoff(self._budget_s, monotonic=self._monotonic)

    def _api(self, identity: str) -> gidgethub.aiohttp.GitHubAPI:
        api = self._apis.get(identity)
        if api is None:
            api = gidgethub.aiohttp.GitHubAPI(self._session, USER_AGENT, base_url=self.api_url)
            self._apis[identity] = api
        return api


class Operation:
    """The calls of one logical change on one repository (or as the App), under one budget."""

    def __init__(
        self,
        client: GitHubClient,
        scope: str,
        backoff: Backoff,
        *,
        credentials: Callable[[], Awaitable[tuple[str, str]]],
        forget: Callable[[], None],
    ) -> None:
        self._client = client
        # What the calls act on, for logs and errors: "owner/name", or the App.
        self._repository = scope
        self._backoff = backoff
        self._credentials = credentials
        self._forget = forget
        self._reauthorized = False

    async def run(
        self,
        what: str,
        request: Request[T],
        *,
        missing_is_gone: bool = False,
        idempotent: bool = True,
        timeout_s: float | None = None,
    ) -> T:
        """Run ``request`` until it succeeds, or raise.

        Raises ``NotFound`` on a 404 when ``missing_is_gone``; ``MaybeApplied`` when a call
        that is not ``idempotent`` failed in a way that may have reached GitHub (after
        waiting, so the caller can look before trying again); ``GitHubRefused`` for an
        answer no retry changes; ``GitHubUnavailable`` once the budget is spent.
        ``timeout_s`` bounds one try when it is more than one request (a paginated listing).
        """
        client = self._client
        while True:
            used_up = None
            try:
                # The token is inside the timeout: minting one is a request too.
                async with asyncio.timeout(timeout_s or client._request_timeout_s):
                    identity, token = await self._credentials()
                    api = client._api(identity)
                    if (failure := exhausted(api.rate_limit, now=client._clock())) is None:
                        return await request(api, token)
                    used_up, error = api, None
            except Exception as exc:
                failure = classify(exc, now=client._clock())
                if failure is None:
                    raise
                error = exc
            if failure.kind == "missing" and missing_is_gone:
                raise NotFound(failure.detail) from error
            if failure.kind == "unauthorized" and not self._reauthorized:
                # A token revoked or expired early: mint another, once.
                self._reauthorized = True
                self._forget()
                log.info(
                    "github token refused; reauthorizing", repository=self._repository, call=what
                )
                continue
            if failure.kind in {"missing", "unauthorized", "refused"}:
                raise GitHubRefused(
                    f"{what} on {self._repository}: {failure.detail}", status=failure.status or 0
                ) from error
            await self._wait(failure, what)
            if used_up is not None:
                # Waited until the reset: the recorded limit is stale until the next answer.
                used_up.rate_limit = None
            if failure.kind == "transient" and not idempotent:
                raise MaybeApplied(failure.detail) from error

    async def _wait(self, failure: Failure, what: str) -> None:
        delay = self._backoff.next_wait(failure)
        if delay is None:
            raise GitHubUnavailable(
                f"{what} on {self._repository}: {failure.detail} "
                f"(gave up after {self._backoff.failures} failed attempts)",
                retry_after=failure.wait_s,
                status=failure.status,
            )
        log.warning(
            "github retry",
            repository=self._repository,
            call=what,
            failure=failure.detail,
            attempt=self._backoff.failures,
            wait_s=round(delay, 3),
        )
        await self._client._sleep(delay)
