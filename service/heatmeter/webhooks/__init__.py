"""GitHub App webhooks: one module per family of events, composed into one Router."""

from gidgethub import routing

from . import (
    installations,
    issue_comments,
    ping,
    pull_requests,
    repositories,
    workflow_jobs,
    workflow_runs,
)

router = routing.Router(
    installations.router,
    issue_comments.router,
    ping.router,
    pull_requests.router,
    repositories.router,
    workflow_jobs.router,
    workflow_runs.router,
)
