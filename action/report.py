"""A task report (docs/report-contract.md): the run it belongs to, its signature, its delivery."""

# `hmac` and `hashlib` cost about 5 ms to import under `python3 -I -S`, most of it loading
# OpenSSL through `_hashlib` (3.8 ms alone, so `_hashlib.hmac_digest` saves nothing). The
# builtin `_sha2` (`_sha256` before Python 3.12) loads in well under 1 ms, and HMAC over it
# is the ten lines of hmac_sha256 below; a test checks them against hmac.new().

from __future__ import annotations

import sys
import time

from action import jsonlite, system, transport
from action import workflow_commands as wf

try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256
    else:
        from _sha256 import sha256
except ImportError:  # another interpreter, or a build without the builtin hashes
    from hashlib import sha256

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from action.inputs import Inputs

REPORTS_PATH = "/v1/reports"
# After a cancel the runner allows a few seconds before it kills the step: whatever the
# retry-budget input says, reporting a cancelled task takes no longer than this.
CANCELLED_BUDGET_S = 2.5


def rfc3339(epoch: float) -> str:
    """UTC with an explicit offset and milliseconds, e.g. 2024-05-01T12:00:00.250+00:00."""
    whole = int(epoch)
    millis = min(999, round((epoch - whole) * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}+00:00"


def reports_url(service_url: str) -> str:
    base = service_url.rstrip("/")
    return base if base.endswith(REPORTS_PATH) else base + REPORTS_PATH


class Delivery:
    """How a report fared: `sent` when the service stored it; `note` for the summary."""

    def __init__(self, sent: bool, note: str) -> None:
        self.sent = sent
        self.note = note


# --- the run a report belongs to: GITHUB_*/RUNNER_* variables and the event payload -------

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
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    number = pull_request_number(event_name, environ.get("GITHUB_EVENT_PATH"))
    if number is not None:
        fields["pull_request"] = number
    if event_name == "workflow_run":
        # GITHUB_SHA and GITHUB_REF are the default branch's here, whatever triggered the
        # run: the triggering run's branch is what ties it to a pull request.
        branch = workflow_run_head_branch(environ.get("GITHUB_EVENT_PATH"))
        if branch:
            fields["head_ref"] = branch
    return fields


def _event_payload(event_path: str | None) -> dict | None:
    if not event_path:
        return None
    from action import jsonlite

    try:
        with open(event_path, "rb") as handle:
            payload = jsonlite.loads(handle.read())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def workflow_run_head_branch(event_path: str | None) -> str | None:
    """The head branch of the run that triggered this one (``workflow_run`` events)."""
    payload = _event_payload(event_path)
    run = payload.get("workflow_run") if payload else None
    branch = run.get("head_branch") if isinstance(run, dict) else None
    return branch if isinstance(branch, str) and 0 < len(branch) <= 255 else None


def pull_request_number(event_name: str, event_path: str | None) -> int | None:
    """The PR a run belongs to, from the event payload; None for events without one."""
    if event_name not in PULL_REQUEST_EVENTS and event_name != "issue_comment":
        return None
    payload = _event_payload(event_path)
    if payload is None:
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


# --- authentication: HMAC-SHA256 (RFC 2104) with the secret, or the job's OIDC token ----------

BLOCK_SIZE = 64  # SHA-256's block, in bytes
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def hmac_sha256(key: bytes, message: bytes) -> str:
    """The hex HMAC-SHA256 of `message` under `key`, as hmac.new(key, message, sha256)."""
    if len(key) > BLOCK_SIZE:
        key = sha256(key).digest()
    key = key.ljust(BLOCK_SIZE, b"\0")
    inner = sha256(key.translate(_INNER_PAD))
    inner.update(message)
    outer = sha256(key.translate(_OUTER_PAD))
    outer.update(inner.digest())
    return outer.hexdigest()


def sign(secret: str, body: bytes) -> str:
    """The `X-Heatmeter-Signature-256` value: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    return "sha256=" + hmac_sha256(secret.encode(), body)


def _auth_headers(
    inputs: Inputs, environ: Mapping[str, str], body: bytes, deadline: transport.Deadline
) -> dict[str, str] | None:
    # Only jobs that grant `id-token: write` have the token endpoint; most sign instead.
    if environ.get("ACTIONS_ID_TOKEN_REQUEST_URL") and environ.get(
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
    ):
        from action import oidc

        try:
            token = oidc.fetch_token(environ, inputs.audience, deadline)
        except oidc.TokenError as exc:
            if not inputs.secret:
                wf.warning(f"{exc}; no secret to sign with either, so nothing is reported")
                return None
            wf.warning(f"{exc}; signing the report with the secret instead")
        else:
            wf.add_mask(token)
            return {"Authorization": "Bearer " + token}
    if inputs.secret:
        return {"X-Heatmeter-Signature-256": sign(inputs.secret, body)}
    wf.warning(
        "no OIDC token (grant the job `permissions: id-token: write`) and no secret input: "
        "the service stores no unauthenticated report, so nothing is reported"
    )
    return None


def deliver(
    report: dict[str, object],
    inputs: Inputs,
    environ: Mapping[str, str] = system.environ,
    *,
    cancelled: bool = False,
) -> Delivery:
    """Send one report; problems become warning annotations, never exceptions."""
    task = report.get("task")
    if not inputs.service_url:
        wf.warning(f"service-url is not set: task {task!r} is not reported")
        return Delivery(False, "not sent (no service-url)")
    budget = min(inputs.retry_budget, CANCELLED_BUDGET_S) if cancelled else inputs.retry_budget
    deadline = transport.Deadline(budget)
    body = jsonlite.dumps(report).encode()
    headers = _auth_headers(inputs, environ, body, deadline)
    if headers is None:
        return Delivery(False, "not sent (no credentials)")
    headers["Content-Type"] = "application/json"
    url = reports_url(inputs.service_url)
    try:
        answer = transport.request(
            "POST", url, deadline=deadline, body=body, headers=headers, environ=environ
        )
    except ValueError as exc:
        wf.warning(f"cannot report task {task!r}: {exc}")
        return Delivery(False, "not sent (bad service-url)")
    except transport.SendError as exc:
        from action import failures  # only when something went wrong

        problem, note = failures.explain(url, exc)
        wf.warning(f"the {report.get('phase')} report of task {task!r} was not stored; {problem}")
        return Delivery(False, note)
    payload = answer.json()
    stored = payload if isinstance(payload, dict) else {}
    duplicate = " (already stored)" if stored.get("duplicate") else ""
    wf.log(
        f"heatmeter: {report.get('phase')} of task {task!r} stored as {stored.get('id')}{duplicate}"
    )
    return Delivery(True, "sent")
