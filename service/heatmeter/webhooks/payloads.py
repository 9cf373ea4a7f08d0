"""The fields of GitHub payloads that handlers read: their JSON Schemas, and small readers.

Every handler declares, with `@reads(schema)`, the fields it reads and what they must
be. The route checks a delivery against the schemas of the handlers it is about to run
(and against `ENVELOPE`, which every delivery must satisfy) before any of them runs, so a
payload of the wrong shape is a 400 naming the field, and an exception inside a handler
is always our bug. The schemas describe only what is read: GitHub adds fields freely.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from jsonschema import Draft202012Validator

from ..http.field_schemas import (
    INT64_MAX,
    REPOSITORY_PATTERN,
    SHA_PATTERN,
    TEXT_PATTERN,
    TIMESTAMP_PATTERN,
    parse_timestamp,
)

Handler = TypeVar("Handler", bound=Callable[..., Any])
_VALIDATOR = "payload_validator"

# GitHub's payloads nest six levels at most today.
MAX_DEPTH = 64


def identifier(maximum: int = INT64_MAX) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": maximum}


def optional_identifier(maximum: int = INT64_MAX) -> dict[str, Any]:
    return {"type": ["integer", "null"], "minimum": 1, "maximum": maximum}


def optional_text(max_length: int) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_length, "pattern": TEXT_PATTERN}


def required_text(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": TEXT_PATTERN}


def obj(required: list[str] | None = None, *, nullable: bool = False, **properties: Any) -> dict:
    """An object of which only ``properties`` are looked at."""
    schema: dict[str, Any] = {"type": ["object", "null"] if nullable else "object"}
    if required:
        schema["required"] = required
    if properties:
        schema["properties"] = properties
    return schema


FULL_NAME = {"type": "string", "pattern": REPOSITORY_PATTERN}
OPTIONAL_FULL_NAME = {**FULL_NAME, "type": ["string", "null"]}
OPTIONAL_TIMESTAMP = {"type": ["string", "null"], "pattern": TIMESTAMP_PATTERN, "maxLength": 64}
SHA = {"type": "string", "pattern": SHA_PATTERN}
OPTIONAL_SHA = {"type": ["string", "null"], "pattern": SHA_PATTERN}
# An owner's or a repository's own name (the two halves of a full name).
NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$"}
# Branch names are indexed with their repository; 255 characters keeps a row well
# inside Postgres's B-tree limit whatever the characters.
REF = required_text(255)
REPOSITORY = obj(["full_name"], full_name=FULL_NAME, id=optional_identifier())

# What the route itself reads from every delivery: the action it records, and the
# installation and repository it tells the GitHub client about.
ENVELOPE = obj(
    action=optional_text(100),
    installation=obj(nullable=True, id=optional_identifier()),
    repository=obj(nullable=True, full_name=OPTIONAL_FULL_NAME),
)
ENVELOPE_VALIDATOR = Draft202012Validator(ENVELOPE)


def reads(schema: dict[str, Any]) -> Callable[[Handler], Handler]:
    """Declare the payload fields a handler reads; the route checks them before it runs."""
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)

    def declare(handler: Handler) -> Handler:
        setattr(handler, _VALIDATOR, validator)
        return handler

    return declare


def validator_of(handler: Callable[..., Any]) -> Draft202012Validator | None:
    """The schema a handler declared with `@reads`, or None if it declared none."""
    return getattr(handler, _VALIDATOR, None)


def github_time(value: str | None) -> datetime | None:
    """GitHub's RFC 3339 timestamps (``2021-08-05T10:34:58Z``), or None.

    Only for fields a handler's schema declares as timestamps, so never a ValueError here.
    """
    return parse_timestamp(value) if value else None


def repository_name(data: dict[str, Any]) -> str:
    return data["repository"]["full_name"]


def installation_id(data: dict[str, Any]) -> int | None:
    return (data.get("installation") or {}).get("id")
