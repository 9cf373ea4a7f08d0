"""POST /webhooks/github: check the signature, record the delivery once, dispatch."""

from __future__ import annotations

import structlog
from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, sansio

from ..appkeys import github_key, metrics_key, pool_key, settings_key
from ..github.client import GitHubClient
from ..github.credentials import AppAuth
from ..http.errors import json_error, read_body
from . import router
from .payloads import installation_id

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

# GitHub caps webhook payloads at 25 MB.
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024

RECORD_DELIVERY = """
INSERT INTO webhook_deliveries (delivery_id, event, action) VALUES ($1, $2, $3)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id
"""


@routes.post("/webhooks/github")
async def receive_webhook(request: web.Request) -> web.Response:
    response, result = await _receive(request)
    # Only a verified delivery's event name is trusted as a label; anything else could
    # fill the metrics with whatever names a caller sends.
    event = request.headers.get("X-GitHub-Event", "") if result != "bad_signature" else ""
    request.app[metrics_key].webhooks.labels(event[:50] or "unknown", result).inc()
    return response


async def _receive(request: web.Request) -> tuple[web.Response, str]:
    """The answer to one delivery, and the result it counts as in /metrics."""
    secret = request.app[settings_key].webhook_secret
    if secret is None:
        detail = "set GITHUB_WEBHOOK_SECRET to receive webhooks"
        return json_error(503, "webhooks_not_configured", detail), "not_configured"
    body = await read_body(request, MAX_PAYLOAD_BYTES)
    try:
        event = sansio.Event.from_http(request.headers, body, secret=secret)
    except ValidationFailure as exc:
        log.info("webhook refused", reason=str(exc))
        detail = f"X-Hub-Signature-256 does not verify: {exc}"
        return json_error(401, "bad_signature", detail), "bad_signature"
    except (BadRequest, KeyError, ValueError) as exc:
        detail = f"not a GitHub webhook delivery: {exc!r}"
        return json_error(400, "bad_webhook", detail), "rejected"
    if not isinstance(event.data, dict):
        return json_error(400, "bad_webhook", "the payload is not a JSON object"), "rejected"

    action = event.data.get("action")
    log_ = log.bind(event=event.event, action=action, delivery_id=event.delivery_id)
    # The delivery row and every effect of the handlers commit together: a handler that
    # fails leaves no trace, so GitHub's redelivery runs it again from the start.
    try:
        async with request.app[pool_key].acquire() as conn, conn.transaction():
            first = await conn.fetchval(
                RECORD_DELIVERY, event.delivery_id, event.event, action if action else None
            )
            if first is None:
                log_.info("webhook redelivered; nothing to do")
                answer = {"delivery": event.delivery_id, "duplicate": True}
                return web.json_response(answer), "duplicate"
            await router.dispatch(event, db=conn)
    except (KeyError, TypeError, AttributeError) as exc:
        # Signed by GitHub but not shaped like the event it names: say what is missing,
        # keep nothing (the transaction rolled back), and let a redelivery try again.
        log_.warning("webhook payload not understood", error=repr(exc))
        detail = f"the {event.event} payload lacks or mistypes a field: {exc!r}"
        return json_error(400, "unexpected_payload", detail), "rejected"
    log_.info("webhook handled")
    _tell_auth(request.app[github_key], event)
    answer = {"delivery": event.delivery_id, "duplicate": False}
    if event.event == "ping":
        answer["zen"] = event.data.get("zen")
    return web.json_response(answer), "handled"


def _tell_auth(github: GitHubClient | None, event: sansio.Event) -> None:
    """Webhooks name the installation of their repository: spare the App a lookup."""
    auth = github and github.auth
    if not isinstance(auth, AppAuth) or (installation := installation_id(event.data)) is None:
        return
    if event.event == "installation" and event.data.get("action") in {"deleted", "suspend"}:
        auth.forget_installation(installation)
    elif repository := (event.data.get("repository") or {}).get("full_name"):
        auth.remember_installation(repository, installation)
