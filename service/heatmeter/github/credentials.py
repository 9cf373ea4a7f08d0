"""Who heatmeter is on GitHub: an App installation or a plain token, as a token per repository.

The one place that reads the App's id and key, signs its JWTs and mints and caches its
installation tokens; the service's gidgethub client and the backfill's PyGithub
client both take their tokens from here.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import gidgethub
import gidgethub.aiohttp
import gidgethub.apps
import structlog
from cryptography.hazmat.primitives import serialization

from ..settings import Settings, SettingsError
from . import USER_AGENT

log = structlog.get_logger(__name__)

# Installation tokens live an hour; stop using one this long before it expires so a
# request started with it cannot outlive it.
REFRESH_MARGIN_S = 5 * 60


class GitHubAuth(abc.ABC):
    """Gives the token to call GitHub with on behalf of one repository."""

    @abc.abstractmethod
    async def token(self, repository: str) -> str:
        """A token that may act on ``repository`` ("owner/name")."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Who we are, for a log line; never contains a secret."""

    async def credentials(self, repository: str) -> tuple[str, str]:
        """Who we act as on ``repository`` (one name per rate limit), and its token."""
        return "token", await self.token(repository)

    def forget_token(self, installation_id: int) -> None:
        """Drop the installation's token (GitHub refused it): the next call mints another."""
        self._tokens.pop(int(installation_id), None)

    def forget(self, repository: str) -> None:  # noqa: B027 - optional hook, no-op by default
        """Drop what is cached for ``repository`` after GitHub refused it (401)."""

    def owns(self, comment: Mapping[str, Any]) -> bool:
        """Whether we wrote ``comment``, as far as we can tell (default: cannot tell, so yes)."""
        return True


class TokenAuth(GitHubAuth):
    """One token for every repository: a ``GITHUB_TOKEN`` or a personal access token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth()"

    async def token(self, repository: str) -> str:
        return self._token

    def describe(self) -> str:
        return "GITHUB_TOKEN"


@dataclass(frozen=True)
class _InstallationToken:
    value: str = field(repr=False)
    expires_at: float  # seconds since the epoch


class AppAuth(GitHubAuth):
    """A GitHub App: finds each repository's installation and mints its tokens, cached.

    A burst of calls for one installation mints one token: the fetch happens under a
    per-installation lock, and everyone waiting reuses its result.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        app_id: str | int,
        private_key: str | bytes,
        *,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._gh = gidgethub.aiohttp.GitHubAPI(session, USER_AGENT, base_url=api_url)
        self.app_id = check_app_id(app_id)
        # A parsed key, which PyJWT takes although gidgethub's hints say str | bytes.
        self._private_key: Any = load_private_key(private_key)
        self._refresh_margin_s = refresh_margin_s
        # Wall-clock time, because GitHub states expiry as a wall-clock instant.
        self._clock = clock
        self._installations: dict[str, int] = {}
        self._tokens: dict[int, _InstallationToken] = {}
        self._token_locks: dict[int, asyncio.Lock] = {}
        self._lookup_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r})"

    def describe(self) -> str:
        return f"GitHub App {self.app_id}"

    def remember_installation(self, repository: str, installation_id: int) -> None:
        """Seed the cache from a webhook, which names the installation it came from."""
        self._installations[_key(repository)] = int(installation_id)

    def forget_installation(self, installation_id: int) -> None:
        """Drop an installation (uninstalled, suspended) and every repository mapped to it."""
        self._tokens.pop(int(installation_id), None)
        for repository, known in list(self._installations.items()):
            if known == int(installation_id):
                del self._installations[repository]

    def forget_token(self, installation_id: int) -> None:
        """Drop the installation's token (GitHub refused it): the next call mints another."""
        self._tokens.pop(int(installation_id), None)

    def forget(self, repository: str) -> None:
        # The installation may have been replaced (uninstalled and installed again), so
        # look it up afresh as well as minting a new token.
        installation_id = self._installations.pop(_key(repository), None)
        if installation_id is not None:
            self._tokens.pop(installation_id, None)

    def owns(self, comment: Mapping[str, Any]) -> bool:
        """Ours when GitHub says this App made it; failing that, when a bot account wrote it.

        GitHub names the App behind a comment in ``performed_via_github_app``; where that
        is absent, a ``Bot`` author is the best evidence left (people are ``User``s).
        """
        app = comment.get("performed_via_github_app")
        if isinstance(app, Mapping) and app.get("id") is not None:
            return str(app["id"]) == self.app_id
        user = comment.get("user")
        return isinstance(user, Mapping) and user.get("type") == "Bot"

    async def installation_id(self, repository: str) -> int:
        """The installation that covers ``repository``, asked of GitHub once and cached."""
        key = _key(repository)
        if (known := self._installations.get(key)) is not None:
            return known
        lock = self._lookup_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if (known := self._installations.get(key)) is not None:
                return known
            owner, name = split_repository(repository)
            installation = await self._gh.getitem(
                "/repos/{owner}/{repo}/installation",
                {"owner": owner, "repo": name},
                jwt=self._jwt(),
            )
            installation_id = int(installation["id"])
            self._installations[key] = installation_id
            log.info(
                "github installation found", repository=repository, installation=installation_id
            )
            return installation_id

    async def app_credentials(self) -> tuple[str, str]:
        """Who we are as the App itself (a rate limit of its own), and a fresh JWT."""
        return "app", self._jwt()

    def _jwt(self) -> str:
        # gidgethub makes it valid from a minute ago (clock skew) for ten minutes.
        return gidgethub.apps.get_jwt(app_id=self.app_id, private_key=self._private_key)

    async def credentials(self, repository: str) -> tuple[str, str]:
        # Each installation has a rate limit of its own.
        installation_id = await self.installation_id(repository)
        return f"installation:{installation_id}", await self.token(repository)

    async def installation_credentials(self, installation_id: int) -> tuple[str, str]:
        """Who we are as one installation (its own rate limit), and its token."""
        return f"installation:{installation_id}", await self.installation_token(installation_id)

    async def token(self, repository: str) -> str:
        return await self.installation_token(await self.installation_id(repository))

    async def installation_token(self, installation_id: int) -> str:
        """A token of the installation, minted once and reused until near its expiry."""
        if (cached := self._fresh(installation_id)) is not None:
            return cached
        lock = self._token_locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            # Whoever held the lock before us may have minted one already.
            if (cached := self._fresh(installation_id)) is not None:
                return cached
            try:
                response = await gidgethub.apps.get_installation_access_token(
                    self._gh,
                    installation_id=str(installation_id),
                    app_id=self.app_id,
                    private_key=self._private_key,
                )
            except gidgethub.BadRequest as exc:
                if exc.status_code == 404:
                    # Uninstalled since we cached it: look the repository up afresh next time.
                    self.forget_installation(installation_id)
                raise
            expires_at = datetime.fromisoformat(response["expires_at"]).timestamp()
            self._tokens[installation_id] = _InstallationToken(response["token"], expires_at)
            log.info(
                "github installation token minted",
                installation=installation_id,
                expires_in_s=round(expires_at - self._clock()),
            )
            return response["token"]

    def _fresh(self, installation_id: int) -> str | None:
        cached = self._tokens.get(installation_id)
        if cached is None or cached.expires_at - self._refresh_margin_s <= self._clock():
            return None
        return cached.value


def auth_from_settings(settings: Settings, session: aiohttp.ClientSession) -> GitHubAuth | None:
    """The App when its id and key are set, else the plain token, else None (no comments)."""
    if settings.github_app_id and settings.github_app_private_key:
        try:
            return AppAuth(
                session,
                settings.github_api_url,
                settings.github_app_id,
                settings.github_app_private_key,
            )
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    if settings.github_app_id or settings.github_app_private_key:
        # Half an App is a misconfiguration worth saying out loud, not a reason to stop.
        missing = "GITHUB_APP_PRIVATE_KEY" if settings.github_app_id else "GITHUB_APP_ID"
        log.warning("github app incomplete", missing=missing)
    if settings.github_token:
        return TokenAuth(settings.github_token)
    return None


def check_app(app_id: str | int, private_key: str | bytes) -> None:
    """A ValueError naming the setting unless the App's id and key can sign its JWTs."""
    check_app_id(app_id)
    load_private_key(private_key)


def check_app_id(app_id: str | int) -> str:
    """The App's id as GitHub's JWTs want it; a ValueError unless it is a number."""
    text = str(app_id).strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"GITHUB_APP_ID must be a number, got {str(app_id)!r}")
    return text


def load_private_key(pem: str | bytes) -> Any:
    """Parse the App's key once: PyJWT would parse (and check) it again for every JWT,
    about 60 ms of blocked event loop each time. A bad key fails here, at start-up."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Deliberately not the library's message: nothing of the key reaches a log.
        raise ValueError(
            "GITHUB_APP_PRIVATE_KEY: not a PEM private key without a passphrase"
        ) from None


def split_repository(repository: str) -> tuple[str, str]:
    """``"owner/name"`` as its two parts; anything else is a caller's bug."""
    owner, sep, name = repository.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"repository must be 'owner/name', got {repository!r}")
    return owner, name


def _key(repository: str) -> str:
    # GitHub treats repository names case-insensitively; webhooks and reports may differ.
    return repository.lower()
