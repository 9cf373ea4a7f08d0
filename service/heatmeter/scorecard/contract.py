"""The JSON Schema of /v1/summary (and the pages' JSON twins), for the OpenAPI document.

The tests validate real answers against it, so it cannot drift from ``shaping``.
"""

from __future__ import annotations

from typing import Any

_COUNT = {"type": "integer", "minimum": 0}
_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_CHANGE = {"type": ["number", "null"]}
_MS = {"type": ["number", "null"], "minimum": 0}
_SCORE = {"type": ["number", "null"], "minimum": 1, "maximum": 5}
_TIME = {"type": "string", "format": "date-time"}
_ENOUGH = {
    "type": "boolean",
    "description": "false when too few samples stand behind the figure; it is then null",
}


def _object(properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


TASK_CARD_SCHEMA = _object(
    {
        "task": {"type": "string"},
        "kind": {"type": "string", "enum": ["scaffolding", "deploy", "provisioning", "other"]},
        "runs": _object(
            {
                "total": _COUNT,
                "succeeded": _COUNT,
                "failed": _COUNT,
                "timed_out": _COUNT,
                "cancelled": _COUNT,
                "skipped": _COUNT,
                "running": _COUNT,
                "previous_total": _COUNT,
            },
            "runs in the window, by outcome",
        ),
        "happiness": _object(
            {
                "mean": _SCORE,
                "previous_mean": _SCORE,
                "change": _CHANGE,
                "responses": _COUNT,
                "previous_responses": _COUNT,
                "enough_data": _ENOUGH,
            },
            "mean 1-5 score of /heatmeter rate responses",
        ),
        "efficiency": _object(
            {
                "p50_ms": _MS,
                "p90_ms": _MS,
                "previous_p50_ms": _MS,
                "change_pct": {**_CHANGE, "description": "p50 change, % of the previous p50"},
                "timed_runs": _COUNT,
                "previous_timed_runs": _COUNT,
                "enough_data": _ENOUGH,
            },
            "durations of runs that succeeded, failed or timed out",
        ),
        "adoption": _object(
            {
                "share": _RATE,
                "previous_share": _RATE,
                "change": _CHANGE,
                "repositories": _COUNT,
                "previous_repositories": _COUNT,
                "installed_repositories": _COUNT,
                "outside_app_repositories": {
                    **_COUNT,
                    "description": "repositories that ran it without the app installed",
                },
                "enough_data": _ENOUGH,
            },
            "repositories running the task / repositories where the app is installed",
        ),
        "task_success": _object(
            {
                "rate": _RATE,
                "previous_rate": _RATE,
                "change": _CHANGE,
                "decisive_runs": _COUNT,
                "previous_decisive_runs": _COUNT,
                "enough_data": _ENOUGH,
                "first_successes": {
                    **_COUNT,
                    "description": "changes (pull requests, else commits) that first "
                    "succeeded in the window",
                },
                "attempts_to_first_success": {
                    "type": ["number", "null"],
                    "minimum": 1,
                    "description": "mean attempts those changes took up to their first "
                    "success; above 1 when failures were re-run",
                },
            },
            "success / (success + failure + timed_out)",
        ),
    }
)

SUMMARY_SCHEMA = _object(
    {
        "window": _object(
            {
                "since": {**_TIME, "description": "the window's first instant (UTC midnight)"},
                "until": {**_TIME, "description": "the midnight after its last day (exclusive)"},
                "previous_since": {
                    **_TIME,
                    "description": "the previous period [previous_since, since)",
                },
            },
            "whole UTC days, as the roll-ups count them",
        ),
        "filters": _object(
            {
                "repository": {"type": ["string", "null"]},
                "task": {"type": ["string", "null"]},
                "kind": {"type": ["string", "null"]},
            }
        ),
        "installed_repositories": _COUNT,
        "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/TaskCard"}},
    },
    "The HEAT scorecard of every task: the window [since, until) against [previous_since, since).",
)


def _parameter(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


_WHEN = (
    "an ISO date (UTC midnight), an ISO date-time, or a duration back from now (28d, 4w); "
    "the window widens to whole UTC days, ending at the midnight after until"
)

SUMMARY_PARAMETERS = [
    _parameter("repository", "only this repository (owner/name, any case)", "octo-org/api"),
    _parameter("task", "only this task", "deploy"),
    _parameter("kind", "only tasks of this kind: scaffolding, deploy, provisioning or other",
               "deploy"),
    _parameter("since", f"window start: {_WHEN}; default 28 days before until", "28d"),
    _parameter("until", f"window end: {_WHEN}; default now", "2026-11-28"),
    _parameter("period", "window length instead of since (28d, 4w)", "28d"),
]  # fmt: skip
