"""The GitHub Actions part of the fake GitHub: workflow runs and their jobs, paginated.

``GET /repos/{o}/{r}/actions/runs`` filters on ``created`` (``A..B``, ``>=A``, ``<=B``…),
lists newest first and, like GitHub, serves at most ``result_cap`` runs of one query
while ``total_count`` says how many matched. ``GET /repos/{o}/{r}/actions/runs/{id}/jobs``
lists a run's jobs (``filter=all``: every attempt's; ``latest``: the last attempt's).
Both paginate with ``per_page`` / ``page`` and ``Link`` headers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .fake_github import FakeGitHub

# GitHub: "This endpoint will return up to 1,000 results for each search when using the
# following parameters: actor, branch, check_suite_id, created, event, head_sha, status."
RESULT_CAP = 1000


class FakeActions:
    def __init__(self, github: FakeGitHub, *, result_cap: int = RESULT_CAP) -> None:
        self._github = github
        self.result_cap = result_cap
        self._runs: dict[str, dict[int, dict[str, Any]]] = {}  # repository -> id -> run
        self._jobs: dict[int, list[dict[str, Any]]] = {}  # run id -> jobs

    def add_run(
        self, repository: str, run: dict[str, Any], jobs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A workflow run (``id``, ``created_at``… as the REST API has them) and its jobs."""
        base = f"{self._github.url}/repos/{repository}/actions/runs/{run['id']}"
        run = {**run, "url": base, "jobs_url": f"{base}/jobs"}
        self._runs.setdefault(repository.lower(), {})[run["id"]] = run
        self._jobs[run["id"]] = [
            {**job, "url": f"{self._github.url}/repos/{repository}/actions/jobs/{job['id']}"}
            for job in jobs
        ]
        return run

    def add_routes(self, app: web.Application, repo: str) -> None:
        app.router.add_get(f"{repo}/actions/runs", self._list_runs)
        app.router.add_get(f"{repo}/actions/runs/{{id:\\d+}}/jobs", self._list_jobs)

    async def _list_runs(self, request: web.Request) -> web.Response:
        repository, _ = self._github._require_repository_access(request)
        runs = list(self._runs.get(repository, {}).values())
        if "created" in request.query:
            try:
                accepts = _created_filter(request.query["created"])
            except ValueError:
                return web.json_response({"message": "Invalid created filter"}, status=422)
            runs = [r for r in runs if accepts(_parse(r["created_at"]))]
        runs.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        servable = runs[: self.result_cap]
        return _page(request, "workflow_runs", servable, total=len(runs))

    async def _list_jobs(self, request: web.Request) -> web.Response:
        repository, _ = self._github._require_repository_access(request)
        run_id = int(request.match_info["id"])
        run = self._runs.get(repository, {}).get(run_id)
        if run is None:
            return web.json_response({"message": "Not Found"}, status=404)
        jobs = self._jobs[run_id]
        if request.query.get("filter", "latest") == "latest":
            jobs = [j for j in jobs if j.get("run_attempt", 1) == run.get("run_attempt", 1)]
        return _page(request, "jobs", jobs, total=len(jobs))


def _page(request: web.Request, key: str, items: list[dict[str, Any]], total: int) -> web.Response:
    from .fake_github import _link_header

    per_page = min(100, max(1, int(request.query.get("per_page", "30"))))
    page = max(1, int(request.query.get("page", "1")))
    chunk = items[(page - 1) * per_page : page * per_page]
    last = max(1, -(-len(items) // per_page))
    headers = {"Link": _link_header(request, per_page, page, last)} if last > 1 else {}
    return web.json_response({"total_count": total, key: chunk}, headers=headers)


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bound(value: str, *, upper: bool) -> datetime:
    """A date or date-time of GitHub's search syntax; a bare date as an upper bound means
    its whole day."""
    moment = _parse(value)
    if upper and len(value) == 10:
        return moment + timedelta(days=1) - timedelta(microseconds=1)
    return moment


def _created_filter(spec: str) -> Callable[[datetime], bool]:
    if ".." in spec:
        low, high = spec.split("..", 1)
        lo = None if low in {"", "*"} else _bound(low, upper=False)
        hi = None if high in {"", "*"} else _bound(high, upper=True)
        return lambda t: (lo is None or t >= lo) and (hi is None or t <= hi)
    for prefix, test in (
        (">=", lambda t, b: t >= b),
        ("<=", lambda t, b: t <= b),
        (">", lambda t, b: t > b),
        ("<", lambda t, b: t < b),
    ):
        if spec.startswith(prefix):
            bound = _bound(spec[len(prefix) :], upper=prefix.startswith("<"))
            return lambda t, test=test, bound=bound: test(t, bound)
    day = _bound(spec, upper=False)
    end = _bound(spec, upper=True)
    return lambda t: day <= t <= end
