"""Builds a task report (docs/report-contract.md), authenticates it and sends it to heatmeter."""

from __future__ import annotations

import time

from action import jsonlite, signature, system, transport
from action import workflow_commands as wf

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


def _rejection(status: int, payload: object) -> str:
    if not isinstance(payload, dict):
        return f"HTTP {status}"
    text = f"HTTP {status} {payload.get('error', '')}".rstrip()
    if payload.get("detail"):
        text += f": {payload['detail']}"
    fields = payload.get("fields")
    if isinstance(fields, dict) and fields:
        text += " (" + "; ".join(f"{path}: {message}" for path, message in fields.items()) + ")"
    return text


def _failure(url: str, exc: transport.SendError) -> tuple[str, str]:
    """Why a report was not stored (for the warning), and a short note for the summary."""
    response = exc.response
    status = response.status if response is not None else 0
    if status == 407:  # a forwarding proxy's answer for http://: the service never saw it
        return (
            f"the proxy in front of {url} asks for credentials (HTTP 407): "
            "give them in the proxy URL (http://user:password@host:port)",
            "not sent (proxy refused)",
        )
    if response is not None and 400 <= status < 500 and status not in transport.RETRY_STATUSES:
        return (
            "the service rejected it: " + _rejection(status, response.json()),
            f"rejected (HTTP {status})",
        )
    if response is not None and 300 <= status < 400:
        location = response.headers.get("location", "elsewhere")
        return (
            f"{url} answered HTTP {status}, a redirect to {location}: "
            "set service-url to the service's own address",
            f"not sent (HTTP {status})",
        )
    detail = f" ({_rejection(status, response.json())})" if response is not None else ""
    return f"heatmeter at {url} is unreachable: {exc}{detail}", "not sent (service unreachable)"


def _auth_headers(
    inputs: Inputs, environ: Mapping[str, str], body: bytes, deadline: transport.Deadline
) -> dict[str, str] | None:
    from action import oidc  # only a few steps grant id-token: write; most sign

    if oidc.available(environ):
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
        return {"X-Heatmeter-Signature-256": signature.sign(inputs.secret, body)}
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
        problem, note = _failure(url, exc)
        wf.warning(f"the {report.get('phase')} report of task {task!r} was not stored; {problem}")
        return Delivery(False, note)
    payload = answer.json()
    stored = payload if isinstance(payload, dict) else {}
    duplicate = " (already stored)" if stored.get("duplicate") else ""
    wf.log(
        f"heatmeter: {report.get('phase')} of task {task!r} stored as {stored.get('id')}{duplicate}"
    )
    return Delivery(True, "sent")
