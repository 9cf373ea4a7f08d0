"""POST /v1/reports: authenticate, validate and store one report from the action."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import structlog
from aiohttp import web

from ..appkeys import metrics_key, oidc_key, report_writer_key, settings_key
from ..db.connections import DATABASE_DOWN
from ..http.errors import ClientError, json_error, read_body
from ..http.jsonbody import JsonBodyError, decode_json
from ..http.middleware import add_to_request_log
from .schema import MAX_DEPTH, ReportError, parse_report
from .trust import (
    SIGNATURE_HEADER,
    AuthError,
    OidcUnavailable,
    Reporter,
    check_claims,
    verify_signature,
)

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()


@routes.post("/v1/reports")
async def post_report(request: web.Request) -> web.Response:
    reports = request.app[metrics_key].reports
    try:
        response, result = await _receive(request)
    except (web.HTTPException, ClientError):
        reports.labels("rejected").inc()
        raise
    except DATABASE_DOWN:
        reports.labels("unavailable").inc()
        raise
    reports.labels(result).inc()
    return response


async def _receive(request: web.Request) -> tuple[web.Response, str]:
    """The answer to one report, and the result it counts as in /metrics."""
    settings = request.app[settings_key]
    if request.content_type != "application/json":
        return json_error(
            415, "unsupported_media_type", "send the report as Content-Type: application/json"
        ), "rejected"
    body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
    try:
        reporter = await _authenticate(request, body)
    except AuthError as exc:
        log.info("report refused", reason=exc.detail)
        error = "unauthenticated" if exc.status == 401 else "forbidden"
        return json_error(exc.status, error, exc.detail), error
    except OidcUnavailable as exc:
        return json_error(503, "oidc_unavailable", str(exc)), "unavailable"
    try:
        data = decode_json(body, max_depth=MAX_DEPTH)
    except JsonBodyError as exc:
        return json_error(400, "invalid_json", str(exc)), "invalid"
    try:
        report = parse_report(data)
    except ReportError as exc:
        return json_error(400, "invalid_report", str(exc), fields=exc.fields), "invalid"
    try:
        check_claims(reporter, report.repository, report.run_id, report.run_attempt)
    except AuthError as exc:
        log.warning("report for another repository or run", reason=exc.detail)
        return json_error(exc.status, "forbidden", exc.detail), "forbidden"

    # Postgres reads the fields from this document, so it gets the values as validated,
    # not the body as sent: `2.0` or `4.2e4` are the integers 2 and 42000 to the schema,
    # and `'2.0'::integer` would fail there. Timestamps go as the instants parsed, in UTC:
    # RFC 3339 allows offsets up to ±23:59, Postgres reads ±15:59 at most, and nine
    # fraction digits would be rounded there but truncated here.
    data = {**data, **{name: _utc(getattr(report, name)) for name in TIMESTAMPS}}
    document = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    stored = await request.app[report_writer_key].store(report, document, reporter)
    # One log line per request: the middleware's, which carries these.
    add_to_request_log(
        report_id=stored.id,
        duplicate=stored.duplicate,
        repository=report.repository,
        task=report.task,
        phase=report.phase,
        outcome=report.outcome,
    )
    answer = web.json_response({"id": stored.id, "duplicate": stored.duplicate}, status=202)
    return answer, "duplicate" if stored.duplicate else "stored"


async def _authenticate(request: web.Request, body: bytes) -> Reporter:
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await request.app[oidc_key].verify(token.strip())
    settings = request.app[settings_key]
    return verify_signature(settings.report_secret, request.headers.get(SIGNATURE_HEADER), body)


TIMESTAMPS = ("started_at", "finished_at")


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()
