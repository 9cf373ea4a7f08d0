"""POST /webhooks/github: check headers and signature, validate the payload, record it once."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import structlog
from aiohttp import web
from gidgethub import sansio

from ..appkeys import github_key, metrics_key, pool_key, settings_key
from ..db.connections import DATABASE_DOWN
from ..github.client import GitHubClient
from ..github.credentials import AppAuth
from ..http.errors import ClientError, json_error, read_body
from ..http.jsonbody import JsonBodyError, decode_json
from ..http.schemas import explain
from . import router
from .payloads import ENVELOPE_VALIDATOR, MAX_DEPTH, installation_id, validator_of

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

# GitHub caps webhook payloads at 25 MB.
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024
# GitHub names events in lower case with underscores, and identifies each delivery by a
# GUID, which is kept to deduplicate redeliveries: anything else is not from GitHub.
EVENT_NAME = re.compile(r"[a-z_]{1,64}")
DELIVERY_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")

RECORD_DELIVERY = """
INSERT INTO webhook_deliveries (delivery_id, event, action) VALUES ($1, $2, $3)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id
"""


@dataclass
class _Delivery:
    """What the metrics may say about a delivery: its event, once the signature proves it."""

    event: str = "unknown"
    result: str = "error"


@routes.post("/webhooks/github")
async def receive_webhook(request: web.Request) -> web.Response:
    delivery = _Delivery()
    try:
        return await _receive(request, delivery)
    except ClientError:
        delivery.result = "rejected"
        raise
    except DATABASE_DOWN:
        delivery.result = "unavailable"
        raise
    finally:
        # Only a verified delivery's event name is a label; anything else could fill the
        # metrics with whatever names a caller sends. An exception left "error": a 500.
        request.app[metrics_key].webhooks.labels(delivery.event, delivery.result).inc()


async def _receive(request: web.Request, delivery: _Delivery) -> web.Response:
    settings = request.app[settings_key]
    if settings.webhook_secret is None:
        delivery.result = "not_configured"
        detail = "set GITHUB_WEBHOOK_SECRET to receive webhooks"
        return json_error(503, "webhooks_not_configured", detail)
    # Everything that can be refused from the headers is, before a byte of the body is read.
    refusal = _check_headers(request)
    if refusal is not None:
        delivery.result = "bad_signature" if refusal.status == 401 else "rejected"
        log.info("webhook refused", error=refusal.error, detail=refusal.detail)
        return json_error(refusal.status, refusal.error, refusal.detail)
    body = await read_body(request, MAX_PAYLOAD_BYTES, settings.body_timeout_s)
    expected = (
        "sha256=" + hmac.new(settings.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(expected, request.headers["X-Hub-Signature-256"]):
        delivery.result = "bad_signature"
        log.info("webhook refused", error="bad_signature")
        return json_error(401, "bad_signature", "X-Hub-Signature-256 does not match the body")

    delivery.event = event_name = request.headers["X-GitHub-Event"]
    delivery_id = request.headers["X-GitHub-Delivery"]
    delivery.result = "rejected"
    try:
        data = decode_json(body, max_depth=MAX_DEPTH)
    except JsonBodyError as exc:
        return json_error(400, "bad_webhook", str(exc))
    if not isinstance(data, dict):
        return json_error(400, "bad_webhook", "the payload is not a JSON object")
    event = sansio.Event(data, event=event_name, delivery_id=delivery_id)
    # The envelope first: the router looks handlers up by `action`, which must be text.
    problems = explain(ENVELOPE_VALIDATOR, data)
    handlers = frozenset() if problems else router.fetch(event)
    problems = problems or _handler_problems(data, handlers)
    log_ = log.bind(event=event_name, action=data.get("action"), delivery_id=delivery_id)
    if problems:
        log_.warning("webhook payload refused", fields=problems)
        detail = f"the {event_name} payload does not have the fields heatmeter reads: " + "; ".join(
            f"{path}: {message}" for path, message in problems.items()
        )
        return json_error(400, "unexpected_payload", detail, fields=problems)

    # The delivery row and every effect of the handlers commit together: a handler that
    # fails leaves no trace, so GitHub's redelivery runs it again from the start. A handler
    # that raises is our bug: the middleware answers 500, logs the traceback, counts it.
    delivery.result = "error"
    async with request.app[pool_key].acquire() as conn, conn.transaction():
        first = await conn.fetchval(RECORD_DELIVERY, delivery_id, event_name, data.get("action"))
        if first is None:
            log_.info("webhook redelivered; nothing to do")
            delivery.result = "duplicate"
            return web.json_response({"delivery": delivery_id, "duplicate": True})
        for handler in handlers:
            await handler(event, db=conn)
    log_.info("webhook handled")
    delivery.result = "handled"
    _tell_auth(request.app[github_key], event)
    answer = {"delivery": delivery_id, "duplicate": False}
    if event_name == "ping":
        answer["zen"] = data.get("zen")
    return web.json_response(answer)


def _check_headers(request: web.Request) -> ClientError | None:
    if request.content_type != "application/json":
        detail = "GitHub App webhooks are application/json"
        return ClientError(415, "unsupported_media_type", detail)
    if not EVENT_NAME.fullmatch(request.headers.get("X-GitHub-Event", "")):
        detail = "X-GitHub-Event must name a GitHub event, e.g. pull_request"
        return ClientError(400, "bad_event", detail)
    if not DELIVERY_ID.fullmatch(request.headers.get("X-GitHub-Delivery", "")):
        detail = "X-GitHub-Delivery must be the delivery's GUID, as GitHub sends it"
        return ClientError(400, "bad_delivery_id", detail)
    if not SIGNATURE.fullmatch(request.headers.get("X-Hub-Signature-256", "")):
        detail = "X-Hub-Signature-256 must be sha256=<64 hex digits> of the body"
        return ClientError(401, "bad_signature", detail)
    return None


def _handler_problems(data: dict, handlers: frozenset) -> dict[str, str]:
    """What the schemas of the handlers about to run say is wrong with the payload."""
    problems: dict[str, str] = {}
    for handler in handlers:
        validator = validator_of(handler)
        if validator is None:
            raise TypeError(f"webhook handler {handler.__qualname__} declares no @reads schema")
        for path, message in explain(validator, data).items():
            problems.setdefault(path, message)
    return problems


def _tell_auth(github: GitHubClient | None, event: sansio.Event) -> None:
    """Webhooks name the installation of their repository: spare the App a lookup."""
    auth = github and github.auth
    if not isinstance(auth, AppAuth) or (installation := installation_id(event.data)) is None:
        return
    if event.event == "installation" and event.data.get("action") in {"deleted", "suspend"}:
        auth.forget_installation(installation)
    elif repository := (event.data.get("repository") or {}).get("full_name"):
        auth.remember_installation(repository, installation)
