"""PyGithub for the walk, heatmeter's own credentials for its tokens: what to walk, and how.

PyGithub walks the Actions history (its ``PaginatedList`` follows Link headers). Who we
are comes from the service's one credentials module (github/credentials.py) through
the one client (github/client.py), which also lists the App's installations: the
tokens PyGithub sends are minted, cached and renewed there, and a call to GitHub
follows one rate-limit policy (github/policy.py) whichever library makes it.

PyGithub blocks; the walk calls it through ``asyncio.to_thread``. Its own retry is off:
the walk retries, with the clock and sleep it is given, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import gidgethub.aiohttp
from github import Auth, Github
from github.PaginatedList import PaginatedList
from github.Repository import Repository
from github.WorkflowJob import WorkflowJob
from github.WorkflowRun import WorkflowRun

from ..github import USER_AGENT
from ..github.client import GitHubClient, GitHubRefused, Operation
from ..github.credentials import AppAuth, GitHubAuth, TokenAuth, check_app
from ..github.installations import list_installations
from ..settings import Settings

PER_PAGE = 100  # GitHub's maximum: fewest requests for a long walk
# GitHub asks integrators not to hammer it; PyGithub's own pacing between requests.
SECONDS_BETWEEN_REQUESTS = 0.25
TIMEOUT_S = 30


class NoCredentials(Exception):
    """Neither the App nor a token is configured (or --all-installed without the App)."""


class NotWalkable(Exception):
    """A repository named cannot be walked with these credentials (the App not installed)."""


class HeldToken(Auth.Auth):
    """The token PyGithub sends: heatmeter's credentials put a fresh one here before each
    call (``Target.refresh``), so an hour-long walk outlives any one installation token."""

    def __init__(self) -> None:
        self.value = ""

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self.value

    @property
    def _masked_token(self) -> str:
        return "token (removed)"


@dataclass(frozen=True)
class Target:
    """One repository to walk, the PyGithub client for it, and how to renew its token."""

    repository: str
    client: Github
    held: HeldToken = field(repr=False)
    calls: Operation = field(repr=False)

    def repo(self) -> Repository:
        # The client is lazy: no request until the walk lists its runs.
        return self.client.get_repo(self.repository)

    async def refresh(self) -> None:
        """A token that is good for the next call (cached; minted when near its expiry)."""
        self.held.value = await self.calls.run("token for the walk", _token_only)


async def _token_only(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> str:
    # No request: the operation's credentials (minted within its retry budget) are the answer.
    return token


@dataclass(frozen=True)
class GitHubAccess:
    """The backfill's way to GitHub, from the service's settings."""

    api_url: str
    token: str | None = field(default=None, repr=False)
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    per_page: int = PER_PAGE
    seconds_between_requests: float | None = SECONDS_BETWEEN_REQUESTS

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> GitHubAccess:
        return cls(
            api_url=settings.github_api_url,
            token=settings.github_token,
            app_id=settings.github_app_id,
            private_key=settings.github_app_private_key,
            **options,
        )

    @property
    def uses_app(self) -> bool:
        return bool(self.app_id and self.private_key)

    def describe(self) -> str:
        return f"GitHub App {self.app_id}" if self.uses_app else "GITHUB_TOKEN"

    def check(self, *, all_installed: bool) -> None:
        """``NoCredentials`` unless these settings can do what is asked."""
        if all_installed and not self.uses_app:
            raise NoCredentials(
                "--all-installed lists the App's installations: set GITHUB_APP_ID and "
                "GITHUB_APP_PRIVATE_KEY"
            )
        if not self.uses_app and not self.token:
            raise NoCredentials(
                "backfill reads GitHub's API: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY "
                "(the App), or GITHUB_TOKEN"
            )
        if self.uses_app:
            assert self.app_id is not None
            assert self.private_key is not None
            try:
                check_app(self.app_id, self.private_key)
            except ValueError as exc:
                # The credentials module's words: nothing of the key reaches a terminal.
                raise NoCredentials(str(exc)) from None

    def auth(self, session: aiohttp.ClientSession) -> GitHubAuth:
        if self.uses_app:
            assert self.app_id is not None
            assert self.private_key is not None
            return AppAuth(session, self.api_url, self.app_id, self.private_key)
        assert self.token is not None
        return TokenAuth(self.token)

    async def targets(
        self, github: GitHubClient, repositories: Iterable[str], *, all_installed: bool
    ) -> list[Target]:
        """The repositories named, and with ``all_installed`` every one the App is installed
        on, each with a client that may read its Actions history."""
        self.check(all_installed=all_installed)
        auth = github.auth
        if not isinstance(auth, AppAuth):
            client, held = self._client()
            return [Target(r, client, held, github.operation(r)) for r in repositories]
        clients: dict[int, tuple[Github, HeldToken]] = {}

        def target(repository: str, installation_id: int) -> Target:
            if installation_id not in clients:
                clients[installation_id] = self._client()
            client, held = clients[installation_id]
            return Target(repository, client, held, github.installation_operation(installation_id))

        targets = []
        for repository in repositories:
            try:
                # The installation is looked up (and its token minted) within the retry budget.
                await github.operation(repository).run("GET installation", _token_only)
            except GitHubRefused as exc:
                if exc.status == 404:
                    raise NotWalkable(
                        "not found, or not visible to these credentials "
                        f"(is the App installed there?): {repository}"
                    ) from None
                raise
            targets.append(target(repository, await auth.installation_id(repository)))
        if all_installed:
            seen = {repository.lower() for repository in repositories}
            for installation in await list_installations(github):
                for repo in installation.repositories or []:
                    if repo.full_name.lower() not in seen:
                        seen.add(repo.full_name.lower())
                        auth.remember_installation(repo.full_name, installation.id)
                        targets.append(target(repo.full_name, installation.id))
        return targets

    def _client(self) -> tuple[Github, HeldToken]:
        held = HeldToken()
        client = Github(
            auth=held,
            base_url=self.api_url,
            per_page=self.per_page,
            user_agent=USER_AGENT,
            timeout=TIMEOUT_S,
            # The walk retries, waiting with the clock and sleep it is given.
            retry=None,
            seconds_between_requests=self.seconds_between_requests,
            # Objects fetch nothing until read: get_repo costs no request.
            lazy=True,
        )
        return client, held


def runs_created(repo: Repository, start: datetime, end: datetime) -> PaginatedList[WorkflowRun]:
    """Runs created in [start, end), whole seconds; GitHub's range syntax is inclusive."""
    last = end.timestamp() - 1
    created = f"{_iso(start.timestamp())}..{_iso(last)}"
    return repo.get_workflow_runs(created=created, exclude_pull_requests=True)


def jobs_of(run: WorkflowRun) -> PaginatedList[WorkflowJob]:
    """Every attempt's jobs, not only the latest attempt's."""
    return run.jobs("all")


def job_payload(job: WorkflowJob) -> dict[str, Any]:
    """The job's fields in the webhook's shape (times stay datetimes), for ``Job``."""
    return {
        "id": job.id,
        "run_id": job.run_id,
        "run_attempt": job.run_attempt,
        "name": job.name,
        "workflow_name": job.workflow_name,
        "head_sha": job.head_sha,
        "head_branch": job.head_branch,
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "labels": job.labels,
        "runner_name": job.runner_name,
        "runner_group_name": job.runner_group_name,
        "steps": [
            {
                "name": step.name,
                "number": step.number,
                "status": step.status,
                "conclusion": step.conclusion,
                "started_at": step.started_at,
                "completed_at": step.completed_at,
            }
            for step in job.steps
        ],
    }


def head_repository(run: WorkflowRun) -> str | None:
    head = run.head_repository
    return head.full_name if head is not None else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
