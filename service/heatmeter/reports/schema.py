"""The published JSON Schema of a report, and its validation into a `Report`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

from .. import clock
from ..http.field_schemas import (
    INT32_MAX,
    INT64_MAX,
    REPOSITORY_PATTERN,
    SHA_PATTERN,
    VERSION_PATTERN,
    describe_keyword,
    explain,
    integer,
    json_path,
    parse_timestamp,
    text,
    timestamp,
)

KINDS = ("scaffolding", "deploy", "provisioning", "other")
PHASES = ("start", "finish")
OUTCOMES = ("success", "failure", "cancelled", "timed_out", "skipped")
# Fields only a `finish` report carries; a `start` carrying one is refused.
FINISH_ONLY = ("finished_at", "duration_ms", "outcome", "exit_code")
FINISH_REQUIRED = ("finished_at", "duration_ms", "outcome")

# Timestamps this far ahead of the service's clock are a broken runner clock, not data.
MAX_CLOCK_SKEW = timedelta(hours=1)
# The report is one flat object; a little room so a nested value is named as the wrong
# type of its field rather than refused as a whole.
MAX_DEPTH = 4

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Report",
    "description": "One platform task's start or end, sent by the heatmeter action.",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "repository",
        "workflow",
        "run_id",
        "run_attempt",
        "job",
        "task",
        "kind",
        "step",
        "phase",
        "started_at",
    ],
    "properties": {
        "repository": {
            "type": "string",
            "pattern": REPOSITORY_PATTERN,
            "description": "`GITHUB_REPOSITORY`",
        },
        "workflow": text(255, "`GITHUB_WORKFLOW`"),
        "run_id": integer(1, INT64_MAX, "`GITHUB_RUN_ID`"),
        "run_attempt": integer(1, INT32_MAX, "`GITHUB_RUN_ATTEMPT`"),
        "job": text(255, "`GITHUB_JOB` (the job's key in the workflow file)"),
        "task": text(100, "the action's `task` input"),
        "kind": {
            "enum": list(KINDS),
            "description": "the action's `kind` input (default `other`)",
        },
        "step": text(
            200, "the `id` input if given, else `GITHUB_ACTION` of the step that started the task"
        ),
        "phase": {
            "enum": list(PHASES),
            "description": "`run:` mode sends one `finish` report",
        },
        "started_at": timestamp("when the task started"),
        "finished_at": timestamp("when it ended"),
        "duration_ms": integer(0, 2**53, "monotonic-clock duration"),
        "outcome": {"enum": list(OUTCOMES), "description": "how the task ended"},
        "exit_code": integer(-(2**31), INT32_MAX, "the wrapped command's exit code (`run:` mode)"),
        "sha": {"type": "string", "pattern": SHA_PATTERN, "description": "`GITHUB_SHA`"},
        "ref": text(255, "`GITHUB_REF`"),
        "head_ref": text(255, "`GITHUB_HEAD_REF` (pull_request events)"),
        "pull_request": integer(
            1, INT32_MAX, "PR number from the event payload (`GITHUB_EVENT_PATH`)"
        ),
        "event_name": text(100, "`GITHUB_EVENT_NAME`"),
        "runner_os": text(50, "`RUNNER_OS`"),
        "runner_name": text(
            255, "`RUNNER_NAME` (lets the service match the `workflow_job` webhook)"
        ),
        "actor": text(255, "`GITHUB_ACTOR`"),
        # Shown on the scorecard and grouped on: no control characters either.
        "version": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "pattern": VERSION_PATTERN,
            "description": (
                "the action's `version` input: the platform task's own version (e.g. `v3`); "
                "a `finish` keeps its `start`'s version"
            ),
        },
    },
    "if": {"properties": {"phase": {"const": "finish"}}, "required": ["phase"]},
    "then": {"required": list(FINISH_REQUIRED)},
    # `{"not": {}}` rather than `false`: jsonschema leaves the property out of a `false`
    # schema's error path, and the 400 must name it.
    "else": {"properties": {name: {"not": {}} for name in FINISH_ONLY}},
}

# Two validators of the one published schema. fastjsonschema compiles it to Python and
# decides in ~18 µs what jsonschema takes ~430 µs for (a quarter of the service's CPU
# at full ingest), but it stops at the first problem; so jsonschema runs only for a
# report already refused, to name every bad field in the 400.
_accept = fastjsonschema.compile({k: v for k, v in REPORT_SCHEMA.items() if k != "$schema"})
_explainer = Draft202012Validator(REPORT_SCHEMA)
_FORBIDDEN_IN_START = "is only sent with phase finish"


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
        fields = explain(_explainer, data, forbidden=_FORBIDDEN_IN_START)
        raise ReportError(fields or _first_problem(refusal)) from None
    # A report may not start in the future of both clocks: heatmeter's, and the machine's
    # real one (a runner times its steps with real time, even when a test moves ours).
    not_after = max(now or clock.now(), datetime.now(UTC)) + MAX_CLOCK_SKEW
    fields: dict[str, str] = {}
    times = {}
    for name in ("started_at", "finished_at"):
        if name in data:
            try:
                times[name] = parse_timestamp(data[name], not_after=not_after)
            except ValueError as exc:
                fields[name] = str(exc)
    if not fields and "finished_at" in times and times["finished_at"] < times["started_at"]:
        fields["finished_at"] = "is before started_at"
    if fields:
        raise ReportError(fields)
    return Report(**{**data, **times})


def _first_problem(refusal: fastjsonschema.JsonSchemaValueException) -> dict[str, str]:
    # Where the two disagree (a pattern's `$` before a trailing newline, which jsonschema's
    # `re.search` lets through), the stricter verdict stands.
    path = list(refusal.path[1:])
    return {json_path(path): describe_keyword(refusal.rule, refusal.rule_definition, path)}
