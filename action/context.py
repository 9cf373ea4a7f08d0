"""The run a step belongs to, read from the runner's GITHUB_*/RUNNER_* variables and event."""

from __future__ import annotations

from action import system

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

# Events whose payload carries the pull request as `pull_request`.
PULL_REQUEST_EVENTS = frozenset(
    {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"}
)

_HEX = frozenset("0123456789abcdef")


class ContextError(Exception):
    """The environment is not a GitHub Actions job (a variable the report needs is missing)."""


def _positive_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = environ.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ContextError(f"{name} is {raw!r}, not a positive integer") from None
    if value < 1:
        raise ContextError(f"{name} is {raw!r}, not a positive integer")
    return value


def run_fields(environ: Mapping[str, str] = system.environ) -> dict[str, object]:
    """The report fields that identify the run, job and runner (contract names)."""
    missing = [
        name
        for name in ("GITHUB_REPOSITORY", "GITHUB_WORKFLOW", "GITHUB_JOB", "GITHUB_RUN_ID")
        if not environ.get(name)
    ]
    if missing:
        raise ContextError(", ".join(missing) + " not set: is this a GitHub Actions job?")
    fields: dict[str, object] = {
        "repository": environ["GITHUB_REPOSITORY"],
        "workflow": environ["GITHUB_WORKFLOW"],
        "run_id": _positive_int(environ, "GITHUB_RUN_ID"),
        # Older GitHub Enterprise Server versions do not set GITHUB_RUN_ATTEMPT.
        "run_attempt": _positive_int(environ, "GITHUB_RUN_ATTEMPT", default=1),
        "job": environ["GITHUB_JOB"],
    }
    sha = environ.get("GITHUB_SHA", "").lower()
    if len(sha) == 40 and _HEX.issuperset(sha):
        fields["sha"] = sha
    for field, name in (
        ("ref", "GITHUB_REF"),
        ("head_ref", "GITHUB_HEAD_REF"),
        ("event_name", "GITHUB_EVENT_NAME"),
        ("runner_os", "RUNNER_OS"),
        ("runner_name", "RUNNER_NAME"),
        ("actor", "GITHUB_ACTOR"),
    ):
        if environ.get(name):
            fields[field] = environ[name]
    number = pull_request_number(
        environ.get("GITHUB_EVENT_NAME", ""), environ.get("GITHUB_EVENT_PATH")
    )
    if number is not None:
        fields["pull_request"] = number
    return fields


def pull_request_number(event_name: str, event_path: str | None) -> int | None:
    """The PR a run belongs to, from the event payload; None for events without one."""
    if not event_path or (event_name not in PULL_REQUEST_EVENTS and event_name != "issue_comment"):
        return None
    from action import jsonlite

    try:
        with open(event_path, "rb") as handle:
            payload = jsonlite.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    if event_name == "issue_comment":
        issue = payload.get("issue")
        # A comment on a plain issue has no `pull_request` key on its issue.
        if not isinstance(issue, dict) or not issue.get("pull_request"):
            return None
        number = issue.get("number")
    else:
        pull_request = payload.get("pull_request")
        number = pull_request.get("number") if isinstance(pull_request, dict) else None
    if isinstance(number, int) and not isinstance(number, bool) and number >= 1:
        return number
    return None


def step_key(id_input: str, environ: Mapping[str, str] = system.environ) -> str:
    """The report's `step`: the `id` input, else the step's GITHUB_ACTION.

    Inside a composite action GITHUB_ACTION is the calling step's (its id, or `__owner_repo`
    with a `_2`, `_3` … suffix for later uses), so two uses of the action in a job differ.
    """
    return (id_input or environ.get("GITHUB_ACTION") or "heatmeter")[:200]
