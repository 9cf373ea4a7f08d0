"""GET /v1/openapi.json: the OpenAPI 3.1 description of the /v1 API, built from its schemas."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import __version__
from ..reports.schema import REPORT_SCHEMA
from ..scorecard.contract import SUMMARY_PARAMETERS, SUMMARY_SCHEMA, TASK_CARD_SCHEMA

routes = web.RouteTableDef()

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "a stable, machine-readable code"},
        "detail": {"type": "string", "description": "what is wrong, for a person"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "invalid_report only: each bad field's path and what is wrong",
        },
        "parameter": {
            "type": "string",
            "description": "invalid_parameter only: the query parameter that is wrong",
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document() -> dict[str, Any]:
    report = {k: v for k, v in REPORT_SCHEMA.items() if k != "$schema"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "heatmeter",
            "version": __version__,
            "description": "Reports of platform task runs, and the metrics made of them.",
        },
        "components": {
            "schemas": {
                "Report": report,
                "Stored": {
                    "type": "object",
                    "required": ["id", "duplicate"],
                    "properties": {
                        "id": {"type": "integer"},
                        "duplicate": {
                            "type": "boolean",
                            "description": "true when this report was already stored",
                        },
                    },
                },
                "Error": _ERROR,
                "Summary": SUMMARY_SCHEMA,
                "TaskCard": TASK_CARD_SCHEMA,
            },
            "securitySchemes": {
                "hmac": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Heatmeter-Signature-256",
                    "description": "sha256=<hex of HMAC-SHA256 over the raw body with the "
                    "shared secret HEATMETER_REPORT_SECRET>",
                },
                "oidc": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "a GitHub Actions OIDC token; its repository, run_id "
                    "and run_attempt claims must match the report",
                },
                "readToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "HEATMETER_READ_TOKEN, when the service has one; "
                    "without it the read API is open",
                },
            },
        },
        "paths": {
            "/v1/reports": {
                "post": {
                    "summary": "Store the start or end of one platform task run",
                    "operationId": "postReport",
                    "security": [{"hmac": []}, {"oidc": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "stored, or already stored (same id)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Stored"}
                                }
                            },
                        },
                        "400": _error("not JSON, or not a valid report"),
                        "401": _error("missing or wrong signature or token"),
                        "403": _error("the OIDC token is for another repository or run"),
                        "413": _error("the body is over 64 KiB"),
                        "415": _error("the body is not application/json"),
                        "503": _error("the database is unreachable; retry after Retry-After"),
                    },
                }
            },
            "/v1/summary": {
                "get": {
                    "summary": "The HEAT scorecard of every task, against the previous period",
                    "description": "Happiness, Efficiency, Adoption and Task success per task "
                    "for the window [since, until), each with its value for the window of the "
                    "same length before, its change, and the samples behind it. A figure with "
                    "too few samples is null with enough_data false.",
                    "operationId": "getSummary",
                    "security": [{"readToken": []}, {}],
                    "parameters": SUMMARY_PARAMETERS,
                    "responses": {
                        "200": {
                            "description": "the scorecard",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Summary"}
                                }
                            },
                        },
                        "400": _error("a parameter is unknown or malformed; `parameter` names it"),
                        "401": _error("HEATMETER_READ_TOKEN is set and was not sent"),
                        "503": _error("the database is unreachable; retry after Retry-After"),
                    },
                }
            },
        },
    }


@routes.get("/v1/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
