"""Links into the scorecard from elsewhere (the pull-request comment), given the public URL."""

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
