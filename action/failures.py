"""Why a report was not stored, in words for the warning annotation and the job summary."""

from __future__ import annotations

from action import transport


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


def explain(url: str, exc: transport.SendError) -> tuple[str, str]:
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
