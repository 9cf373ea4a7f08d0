"""Where the pull-request comment links to: each run on GitHub, and the scorecard's page.

Pure, like the rest of summary/: the comment's renderer is given these URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote


def scorecard_link(public_url: str | None, repository: str, tasks: Sequence[str]) -> str | None:
    """The page a pull request's comment points at: the task's page, narrowed to the
    repository, when the PR ran one task; the repository's scorecard when it ran several.

    None without HEATMETER_PUBLIC_URL. Every name is percent-encoded, so the link holds no
    character that Markdown or HTML could read as anything but a URL.
    """
    if not public_url:
        return None
    query = "repository=" + quote(repository, safe="")
    distinct = sorted(set(tasks))
    # A task named "x.json" needs "&format=html" to reach its page rather than the JSON
    # twin of "x", and the comment renderer accepts no "&": link the scorecard instead.
    if len(distinct) != 1 or distinct[0].endswith(".json"):
        return f"{public_url}/?{query}"
    return f"{public_url}/tasks/{quote(distinct[0], safe='')}?{query}"


def run_url(web_url: str, repository: str, run_id: int, run_attempt: int) -> str:
    """A run's attempt on GitHub's web pages (``web_url``: github.com, or the GHES host)."""
    return f"{web_url}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"
