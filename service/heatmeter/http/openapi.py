"""GET /v1/openapi.json: the OpenAPI 3.1 description of the /v1 API, built from its schemas."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import __version__
from ..reports.schema import REPORT_SCHEMA

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
        },
    }


@routes.get("/v1/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
