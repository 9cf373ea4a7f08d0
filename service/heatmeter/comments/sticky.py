"""The one sticky heatmeter comment per pull request: found by its marker, edited in place."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiohttp
import gidgethub
import gidgethub.aiohttp
import structlog

from ..github.credentials import USER_AGENT, GitHubAuth, split_repository

log = structlog.get_logger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_BUDGET_S = 30.0
REQUEST_TIMEOUT_S = 10.0
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 8.0
# GitHub's advice for a secondary rate limit that names no time: wait at least a minute.
_SECONDARY_LIMIT_WAIT_S = 60.0
# A reset instant is whole seconds on GitHub's clock; one more covers the rounding and skew.
_RESET_SLACK_S = 1.0
_PER_PAGE = 100
# Listing shows the comment but editing says it is gone: a deletion racing us. Say so
# after a few rounds rather than loop.
_MAX_VANISHED = 3


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


async def upsert_comment(
    session: aiohttp.ClientSession,
    auth: GitHubAuth,
    repository: str,
    number: int,
    body: str,
    *,
    marker: str,
    comment_id: int | None = None,
    api_url: str = DEFAULT_API_URL,
    budget_s: float = DEFAULT_BUDGET_S,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Make PR ``number``'s heatmeter comment say ``body``; return the comment's id.

    Edits ``comment_id`` when given and still there; otherwise edits the oldest comment
    on the PR that contains ``marker`` and that ``auth.owns``; otherwise creates one.
    Retries 5xx, rate limits and network failures within ``budget_s`` seconds of waiting,
    then raises ``GitHubUnavailable``; raises ``GitHubRefused`` for answers a retry
    cannot change.
    """
    if marker not in body:
        # Without its marker the comment could never be found again: one new comment a run.
        raise ValueError("the comment body must contain the marker")
    owner, name = split_repository(repository)
    calls = _Calls(
        gidgethub.aiohttp.GitHubAPI(session, USER_AGENT, base_url=api_url),
        auth,
        repository,
        _Backoff(budget_s, sleep),
        request_timeout_s,
    )
    where: dict[str, Any] = {"owner": owner, "repo": name, "number": number}
    if comment_id is not None:
        try:
            await calls.edit(where, comment_id, body)
        except _Gone:
            log.info(
                "github comment gone", repository=repository, number=number, comment=comment_id
            )
        else:
            return comment_id
    vanished = 0
    while True:
        found = await calls.find(where, marker)
        if found is not None:
            try:
                await calls.edit(where, found, body)
            except _Gone:
                vanished += 1
                if vanished >= _MAX_VANISHED:
                    raise GitHubUnavailable(
                        f"comment {found} on {repository}#{number} is listed but cannot be edited"
                    ) from None
                continue
            log.info("github comment found", repository=repository, number=number, comment=found)
            return found
        try:
            created = await calls.create(where, body)
        except _MaybeCreated:
            # GitHub may have made it before failing; look again rather than post twice.
            continue
        log.info("github comment created", repository=repository, number=number, comment=created)
        return created


class _Gone(Exception):
    """404 where a 404 means "that comment was deleted"."""


class _MaybeCreated(Exception):
    """A create failed in a way that may have reached GitHub (5xx, network)."""


FailureKind = Literal["transient", "rate_limited", "unauthorized", "missing", "refused"]


@dataclass(frozen=True)
class _Failure:
    kind: FailureKind
    detail: str
    status: int | None = None
    wait_s: float | None = None  # what GitHub asked for, when it did


class _Calls:
    """The REST calls of one upsert, each retried under one shared waiting budget."""

    def __init__(
        self,
        gh: gidgethub.aiohttp.GitHubAPI,
        auth: GitHubAuth,
        repository: str,
        backoff: _Backoff,
        timeout_s: float,
    ) -> None:
        self._gh = gh
        self._auth = auth
        self._repository = repository
        self._backoff = backoff
        self._timeout_s = timeout_s
        self._reauthorized = False

    async def edit(self, where: Mapping[str, Any], comment_id: int, body: str) -> None:
        async def patch(token: str) -> None:
            await self._gh.patch(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                {**where, "comment_id": comment_id},
                data={"body": body},
                oauth_token=token,
            )

        await self._run(f"PATCH comment {comment_id}", patch, missing_is_gone=True)

    async def find(self, where: Mapping[str, Any], marker: str) -> int | None:
        async def search(token: str) -> int | None:
            listing = self._gh.getiter(
                f"/repos/{{owner}}/{{repo}}/issues/{{number}}/comments?per_page={_PER_PAGE}",
                where,
                oauth_token=token,
            )
            async with contextlib.aclosing(listing) as comments:
                async for comment in comments:
                    if marker in (comment.get("body") or "") and self._auth.owns(comment):
                        return int(comment["id"])
            return None

        return await self._run(f"GET comments of #{where['number']}", search)

    async def create(self, where: Mapping[str, Any], body: str) -> int:
        async def post(token: str) -> int:
            created = await self._gh.post(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                where,
                data={"body": body},
                oauth_token=token,
            )
            return int(created["id"])

        return await self._run(f"POST comment on #{where['number']}", post, idempotent=False)

    async def _run(
        self,
        what: str,
        request: Callable[[str], Awaitable[T]],
        *,
        missing_is_gone: bool = False,
        idempotent: bool = True,
    ) -> T:
        while True:
            try:
                # The token is inside the timeout: minting one is a request too.
                async with asyncio.timeout(self._timeout_s):
                    return await request(await self._auth.token(self._repository))
            except Exception as exc:
                failure = _classify(exc)
                if failure is None:
                    raise
                error = exc
            if failure.kind == "missing" and missing_is_gone:
                raise _Gone from error
            if failure.kind == "unauthorized" and not self._reauthorized:
                # A token revoked or expired early: mint another, once.
                self._reauthorized = True
                self._auth.forget(self._repository)
                log.info(
                    "github token refused; reauthorizing", repository=self._repository, call=what
                )
                continue
            if failure.kind in {"missing", "unauthorized", "refused"}:
                raise GitHubRefused(
                    f"{what} on {self._repository}: {failure.detail}", status=failure.status or 0
                ) from error
            await self._backoff.wait(failure, what, self._repository)
            if failure.kind == "transient" and not idempotent:
                raise _MaybeCreated from error


class _Backoff:
    """Exponential backoff with jitter, honouring GitHub's asked-for waits, within a budget.

    Time spent counts as the larger of wall time and time slept, so an injected sleep
    that returns at once still exhausts the budget.
    """

    def __init__(self, budget_s: float, sleep: Sleep) -> None:
        self._budget_s = budget_s
        self._sleep = sleep
        self._started = time.monotonic()
        self._slept = 0.0
        self._failures = 0

    async def wait(self, failure: _Failure, what: str, repository: str) -> None:
        self._failures += 1
        backoff = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** (self._failures - 1))
        # Jitter spreads replicas that failed together; it is not a secret.
        delay = backoff * random.uniform(0.5, 1.0)  # noqa: S311
        if failure.wait_s is not None:
            delay = max(delay, failure.wait_s)
        spent = max(time.monotonic() - self._started, self._slept)
        if delay > self._budget_s - spent:
            raise GitHubUnavailable(
                f"{what} on {repository}: {failure.detail} "
                f"(gave up after {self._failures} failed attempts)",
                retry_after=failure.wait_s,
                status=failure.status,
            )
        log.warning(
            "github retry",
            repository=repository,
            call=what,
            failure=failure.detail,
            attempt=self._failures,
            wait_s=round(delay, 3),
        )
        await self._sleep(delay)
        self._slept += delay


def _classify(exc: BaseException) -> _Failure | None:
    """What a failed call means for retrying it; None for failures that are our bugs."""
    if isinstance(exc, gidgethub.HTTPException):
        status = int(exc.status_code)
        detail = f"{status} {exc}"
        headers = exc.headers
        if isinstance(exc, gidgethub.RateLimitExceeded):
            wait = _asked_wait(headers)
            if wait is None:
                wait = exc.rate_limit.reset_datetime.timestamp() - time.time() + _RESET_SLACK_S
            return _Failure("rate_limited", detail, status, max(0.0, wait))
        if status == 429 or (status == 403 and _is_secondary_limit(headers, str(exc))):
            wait = _asked_wait(headers)
            return _Failure(
                "rate_limited", detail, status, _SECONDARY_LIMIT_WAIT_S if wait is None else wait
            )
        if status >= 500:
            return _Failure("transient", detail, status, _asked_wait(headers))
        if status == 401:
            return _Failure("unauthorized", detail, status)
        if status == 404:
            return _Failure("missing", detail, status)
        return _Failure("refused", detail, status)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return _Failure("transient", f"{type(exc).__name__}: {exc}".rstrip(": "))
    return None


def _is_secondary_limit(headers: Mapping[str, str], message: str) -> bool:
    # A 403 is a rate limit only when GitHub says so; otherwise it is a permission refusal.
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    )


def _asked_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds GitHub asked us to wait: ``Retry-After``, else until ``x-ratelimit-reset``."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(retry_after)
                return max(0.0, when.timestamp() - time.time())
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(reset) - time.time() + _RESET_SLACK_S)
    return None
