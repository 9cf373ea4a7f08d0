"""The published JSON Schema of a report, and its validation into a `Report`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

KINDS = ("scaffolding", "deploy", "provisioning", "other")
OUTCOMES = ("success", "failure", "cancelled", "timed_out", "skipped")

# Timestamps this far ahead of the service's clock are a broken runner clock, not data.
MAX_CLOCK_SKEW = timedelta(hours=1)


def _text(max_length: int, description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "description": description}


REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Report",
    "description": "One platform task's start or end, sent by the heatmeter action.",
    "type": "object",
    "additionalProperties": False,
    "required": (
        "repository workflow run_id run_attempt job task kind step phase started_at".split()
    ),
    "properties": {
        "repository": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$",
            "description": "owner/name, as in GITHUB_REPOSITORY",
        },
        "workflow": _text(255, "GITHUB_WORKFLOW"),
        "run_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        "run_attempt": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "job": _text(255, "GITHUB_JOB: the job's key in the workflow file"),
        "task": _text(100, "the platform task's name, e.g. deploy"),
        "kind": {"enum": list(KINDS)},
        "step": _text(200, "the action's id input, else GITHUB_ACTION of the starting step"),
        "phase": {"enum": ["start", "finish"]},
        "started_at": {"type": "string", "maxLength": 64, "description": "RFC 3339"},
        "finished_at": {"type": "string", "maxLength": 64, "description": "RFC 3339"},
        "duration_ms": {"type": "integer", "minimum": 0, "maximum": 2**53},
        "outcome": {"enum": list(OUTCOMES)},
        "exit_code": {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
        "sha": {"type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$"},
        "ref": _text(255, "GITHUB_REF"),
        "head_ref": _text(255, "GITHUB_HEAD_REF"),
        "pull_request": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "event_name": _text(100, "GITHUB_EVENT_NAME"),
        "runner_os": _text(50, "RUNNER_OS"),
        "runner_name": _text(255, "RUNNER_NAME"),
        "actor": _text(255, "GITHUB_ACTOR"),
        "version": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            # Shown on the scorecard and grouped on: no control characters.
            "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
            "description": "the platform task's own version, e.g. v3 (the action's version input)",
        },
    },
    "if": {"properties": {"phase": {"const": "finish"}}, "required": ["phase"]},
    "then": {"required": ["finished_at", "duration_ms", "outcome"]},
    "else": {
        "not": {
            "anyOf": [{"required": ["finished_at"]}, {"required": ["outcome"]}],
        },
    },
}

# Two validators of the one published schema. fastjsonschema compiles it to Python and
# decides in ~18 µs what jsonschema takes ~430 µs for (a quarter of the service's CPU
# at full ingest), but it stops at the first problem; so jsonschema runs only for a
# report already refused, to name every bad field in the 400.
_accept = fastjsonschema.compile({k: v for k, v in REPORT_SCHEMA.items() if k != "$schema"})
_explainer = Draft202012Validator(REPORT_SCHEMA)


class ReportError(ValueError):
    """The report is not one we accept; ``fields`` maps a JSON path to what is wrong."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Report:
    repository: str
    workflow: str
    run_id: int
    run_attempt: int
    job: str
    task: str
    kind: str
    step: str
    phase: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = None
    outcome: str | None = None
    exit_code: int | None = None
    sha: str | None = None
    ref: str | None = None
    head_ref: str | None = None
    pull_request: int | None = None
    event_name: str | None = None
    runner_os: str | None = None
    runner_name: str | None = None
    actor: str | None = None
    version: str | None = None


def parse_report(data: Any, *, now: datetime | None = None) -> Report:
    """Validate a decoded JSON body; raise `ReportError` naming every bad field."""
    try:
        _accept(data)
    except fastjsonschema.JsonSchemaValueException as refusal:
        raise ReportError(_explain(data) or _first_problem(refusal)) from None
    fields: dict[str, str] = {}
    now = now or datetime.now(UTC)
    times = {}
    for name in ("started_at", "finished_at"):
        if name in data:
            try:
                times[name] = _timestamp(data[name], now)
            except ValueError as exc:
                fields[name] = str(exc)
    if not fields and "finished_at" in times and times["finished_at"] < times["started_at"]:
        fields["finished_at"] = "is before started_at"
    if fields:
        raise ReportError(fields)
    return Report(**{**data, **times})


def _explain(data: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in _explainer.iter_errors(data):
        fields.setdefault(_path(error), _message(error))
    return fields


def _first_problem(refusal: fastjsonschema.JsonSchemaValueException) -> dict[str, str]:
    # Where the two disagree (a pattern's `$` before a trailing newline, which Python's
    # `re` lets through), the stricter verdict stands, in fastjsonschema's words.
    path = ".".join(str(part) for part in refusal.path[1:]) or "$"
    return {path: refusal.message.removeprefix(f"data.{path} ").removeprefix("data ")}


def _timestamp(value: str, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    if moment - now > MAX_CLOCK_SKEW:
        raise ValueError(f"{value!r} is in the future")
    return moment


def _path(error: Any) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator == "required":
        # jsonschema reports a missing property at the parent; name the property itself.
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path = f"{path}.{missing}"
    elif error.validator == "additionalProperties":
        extra = ", ".join(sorted(set(error.instance) - set(REPORT_SCHEMA["properties"])))
        return extra or "$"
    elif error.validator == "not" and not error.absolute_path:
        return "phase"
    return path.lstrip(".") or "$"


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return "is not a report field"
    if error.validator == "required":
        return "is required"
    if error.validator == "not":
        return "a start report carries no outcome or finished_at"
    if error.validator == "type" and not error.absolute_path:
        return "the body must be a JSON object"
    return error.message
