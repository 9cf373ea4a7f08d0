"""POST /webhooks/github: check headers and signature, validate the payload, record it once.

The refusals come in a fixed order, each before anything costlier: not configured (503),
then from the headers alone (415 content type, 400 event name, 400 delivery id, 401
signature header, 413 declared size), then, holding one of a bounded number of places
for unverified bodies (503 when none is free; see unverified.py), the body is read (408,
413, 400) and its signature checked by gidgethub (401). Only a verified body is decoded
(400) and checked against the fields its handlers read (400).

gidgethub's ``validate_event`` checks the signature; its ``Event.from_http`` is not used
because it decodes the body with an unbounded ``json.loads`` (http/jsonbody.py says
what that lets through) and takes form-encoded and SHA-1-signed deliveries, which a
GitHub App configured for JSON never sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import structlog
from aiohttp import web
from gidgethub import ValidationFailure, sansio

from ..appkeys import github_key, metrics_key, pool_key, settings_key, unverified_bodies_key
from ..db.connections import DATABASE_DOWN
from ..github.client import GitHubClient
from ..github.credentials import AppAuth
from ..http.errors import CLOSE_CONNECTION, ClientError, body_too_large, json_error, read_body
from ..http.field_schemas import explain
from ..http.jsonbody import JsonBodyError, decode_json
from . import router
from .payloads import ENVELOPE_VALIDATOR, MAX_DEPTH, installation_id, validator_of
from .unverified import TooManyUnverifiedBodies

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
        return _unread(json_error(503, "webhooks_not_configured", detail))
    # Everything that can be refused from the headers is, before a byte of the body is read.
    refusal = _check_headers(request)
    if refusal is not None:
        delivery.result = "bad_signature" if refusal.status == 401 else "rejected"
        log.info("webhook refused", error=refusal.error, detail=refusal.detail)
        return _unread(json_error(refusal.status, refusal.error, refusal.detail))
    try:
        with request.app[unverified_bodies_key].place():
            body = await read_body(request, MAX_PAYLOAD_BYTES, settings.body_timeout_s)
            sansio.validate_event(
                body,
                signature=request.headers["X-Hub-Signature-256"],
                secret=settings.webhook_secret,
            )
    except TooManyUnverifiedBodies as exc:
        delivery.result = "busy"
        log.warning("webhook refused: too many unverified bodies", detail=str(exc))
        detail = "too many webhook bodies are being read at once; retry later"
        return _unread(json_error(503, "webhooks_busy", detail))
    except ValidationFailure:
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


def _unread(response: web.Response) -> web.Response:
    """An answer given before the body was read: the connection is closed after it, not
    drained (aiohttp would otherwise read and discard the body for up to 10 s)."""
    response[CLOSE_CONNECTION] = True
    return response


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
    if request.content_length is not None and request.content_length > MAX_PAYLOAD_BYTES:
        # read_body says the same; said here, the body takes no place among the unverified.
        return body_too_large(MAX_PAYLOAD_BYTES)
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
