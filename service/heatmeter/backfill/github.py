"""PyGithub, configured once: who we are (the App or a token), where GitHub is, what to walk.

Everything here blocks (PyGithub is synchronous); the walk calls it through
``asyncio.to_thread``. Retries are left to the walk, which waits out rate limits with a
clock and a sleep it is given, and says so; PyGithub's own retry would sleep unseen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from github import Auth, Github, GithubIntegration
from github.PaginatedList import PaginatedList
from github.Repository import Repository
from github.WorkflowJob import WorkflowJob
from github.WorkflowRun import WorkflowRun

from ..github import USER_AGENT
from ..settings import Settings

PER_PAGE = 100  # GitHub's maximum: fewest requests for a long walk
# GitHub asks integrators not to hammer it; PyGithub's own pacing between requests.
SECONDS_BETWEEN_REQUESTS = 0.25
TIMEOUT_S = 30


class NoCredentials(Exception):
    """Neither the App nor a token is configured (or --all-installed without the App)."""


@dataclass(frozen=True)
class Target:
    """One repository to walk, and the client authorized for it."""

    repository: str
    client: Github

    def repo(self) -> Repository:
        # The client is lazy: no request until the walk lists its runs.
        return self.client.get_repo(self.repository)


@dataclass(frozen=True)
class GitHubAccess:
    """Builds PyGithub clients from the service's settings."""

    api_url: str
    token: str | None = None
    app_id: str | None = None
    private_key: str | None = None
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
            assert self.private_key is not None
            try:
                serialization.load_pem_private_key(self.private_key.encode(), password=None)
            except (ValueError, TypeError):
                # Not the library's message: nothing of the key may reach a terminal.
                raise NoCredentials(
                    "GITHUB_APP_PRIVATE_KEY: not a PEM private key without a passphrase"
                ) from None
            if not str(self.app_id).isdigit():
                raise NoCredentials(f"GITHUB_APP_ID must be a number, got {self.app_id!r}")

    def targets(self, repositories: Iterable[str], *, all_installed: bool) -> Iterator[Target]:
        """The repositories named, and with ``all_installed`` every one the App is installed
        on, each with a client that may read its Actions history. Blocks."""
        self.check(all_installed=all_installed)
        if self.uses_app:
            yield from self._app_targets(list(repositories), all_installed)
            return
        client = Github(auth=Auth.Token(self.token), **self._options())
        for repository in repositories:
            yield Target(repository, client)

    def _app_targets(self, repositories: list[str], all_installed: bool) -> Iterator[Target]:
        assert self.app_id is not None
        assert self.private_key is not None
        integration = GithubIntegration(
            auth=Auth.AppAuth(int(self.app_id), self.private_key), **self._options()
        )
        clients: dict[int, Github] = {}

        def client(installation_id: int) -> Github:
            if installation_id not in clients:
                clients[installation_id] = integration.get_github_for_installation(installation_id)
            return clients[installation_id]

        seen = set()
        for repository in repositories:
            owner, name = repository.split("/", 1)
            installation = integration.get_repo_installation(owner, name)
            seen.add(repository.lower())
            yield Target(repository, client(installation.id))
        if all_installed:
            for installation in integration.get_installations():
                installed = client(installation.id)
                for repo in installation_repositories(installed):
                    if repo.full_name.lower() not in seen:
                        seen.add(repo.full_name.lower())
                        yield Target(repo.full_name, installed)

    def _options(self) -> dict[str, Any]:
        return {
            "base_url": self.api_url,
            "per_page": self.per_page,
            "user_agent": USER_AGENT,
            "timeout": TIMEOUT_S,
            # The walk retries, waiting with the clock and sleep it is given.
            "retry": None,
            "seconds_between_requests": self.seconds_between_requests,
            # Objects fetch nothing until read: get_repo costs no request.
            "lazy": True,
        }


def installation_repositories(client: Github) -> PaginatedList[Repository]:
    """``GET /installation/repositories`` with the installation's own client, so its one
    token serves both the listing and the walk (``Installation.get_repos`` mints another)."""
    return PaginatedList(
        Repository,
        client.requester,
        "/installation/repositories",
        None,
        list_item="repositories",
    )


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
