"""GitHub App webhooks: one module per family of events, composed into one Router."""

from gidgethub import routing

from . import installations, job_steps, ping, pull_requests, workflow_jobs, workflow_runs

router = routing.Router(
    installations.router,
    job_steps.router,
    ping.router,
    pull_requests.router,
    workflow_jobs.router,
    workflow_runs.router,
)
