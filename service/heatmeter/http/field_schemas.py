"""JSON Schema pieces the report and webhook contracts share, and a refusal's field-by-field words.

Both contracts are JSON Schemas, and a 400 names each bad field with what is wrong in
plain words. Those words are built from the failed keyword and its value (``error.validator``
/ ``validator_value`` / ``instance``), never parsed out of jsonschema's own messages,
which quote the offending value (unbounded in size) and change between releases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

# Text Postgres can store: no NUL (a `text` value cannot hold one), no lone surrogate
# (not Unicode; UTF-8 cannot encode it). Read on code points, as Python's `re` and
# ECMA-262 with the `u` flag do.
TEXT_PATTERN = "^[^\\u0000\\ud800-\\udfff]*$"

# RFC 3339's date-time, and only it: `20261127T100000Z` or `2026-W48-5T10:00:00+00:00`
# are ISO 8601 that Python's fromisoformat takes, and are refused here. Years 2000 to 2999:
# anything else is a broken clock, and year 1 overflows when converted to UTC.
TIMESTAMP_PATTERN = (
    "^2[0-9]{3}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?"
    "([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN.replace("$", "\\Z"))

# Text without control characters (and, as TEXT_PATTERN, without lone surrogates).
VERSION_PATTERN = "^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]+$"
REPOSITORY_PATTERN = "^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"
SHA_PATTERN = "^[0-9a-f]{40}$"

# What each pattern means, for the person reading a 400.
PATTERN_MEANINGS = {
    TEXT_PATTERN: "must not contain NUL characters or lone surrogates",
    TIMESTAMP_PATTERN: "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-27T10:00:00Z",
    VERSION_PATTERN: "must not contain control characters or lone surrogates",
    REPOSITORY_PATTERN: "must be owner/name",
    SHA_PATTERN: "must be 40 lowercase hexadecimal digits",
}

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def text(max_length: int, description: str | None = None) -> dict[str, Any]:
    """A non-empty string Postgres can store, of at most ``max_length`` characters."""
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": TEXT_PATTERN,
    }
    if description:
        schema["description"] = description
    return schema


def integer(minimum: int, maximum: int, description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description}


def timestamp(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "format": "date-time",
        "pattern": TIMESTAMP_PATTERN,
        "maxLength": 64,
        "description": description,
    }


def parse_timestamp(value: str, *, not_after: datetime | None = None) -> datetime:
    """An RFC 3339 timestamp as an aware datetime; ValueError, worded for a client, if not."""
    if not _TIMESTAMP.match(value):
        raise ValueError(PATTERN_MEANINGS[TIMESTAMP_PATTERN])
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    if not_after is not None and moment > not_after:
        raise ValueError(f"is in the future (after {not_after.isoformat(timespec='seconds')})")
    return moment


def explain(
    validator: Draft202012Validator, instance: Any, *, forbidden: str = "is not allowed here"
) -> dict[str, str]:
    """Every problem the schema finds, as {JSON path: what is wrong}; the first per path wins.

    ``forbidden`` words a property whose schema is ``{"not": {}}``: allowed elsewhere, not here.
    """
    fields: dict[str, str] = {}
    for error in validator.iter_errors(instance):
        for path, message in _describe(error, forbidden):
            fields.setdefault(path, message)
    return fields


def _describe(error: ValidationError, forbidden: str) -> Iterator[tuple[str, str]]:
    path = list(error.absolute_path)
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield json_path([*path, name]), "is required"
    elif keyword == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in sorted(set(instance) - set(known)):
            yield json_path([*path, name]), "is not a known field"
    elif keyword is None or (keyword == "not" and value == {}):  # `false` or `{"not": {}}`
        yield json_path(path), forbidden
    else:
        yield json_path(path), describe_keyword(keyword, value, path)


def describe_keyword(keyword: str, value: Any, path: list[Any]) -> str:
    """What failing ``keyword`` (with its schema ``value``) means, at ``path``."""
    if keyword == "type":
        kinds = value if isinstance(value, list) else [value]
        if not path and kinds == ["object"]:
            return "the body must be a JSON object"
        return "must be " + " or ".join(_TYPE_WORDS.get(kind, kind) for kind in kinds)
    if keyword == "enum":
        return "must be one of " + ", ".join(str(choice) for choice in value)
    if keyword == "const":
        return f"must be {value}"
    if keyword == "pattern":
        return PATTERN_MEANINGS.get(value, f"must match {value}")
    if keyword == "format":
        return f"must be a {value}"
    words = _BOUND_WORDS.get(keyword)
    if words:
        return words.format(value)
    return f"does not satisfy {keyword}"


def json_path(path: list[Any]) -> str:
    """``["pull_request", "head", "sha"]`` as ``pull_request.head.sha``; the root is ``$``."""
    joined = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return joined.lstrip(".") or "$"


_TYPE_WORDS = {
    "integer": "an integer",
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "number": "a number",
}
_BOUND_WORDS = {
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
}
