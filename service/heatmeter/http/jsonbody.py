"""Decoding a request's JSON body within bounds, so that no body can cost more than a 400.

Python's `json` has three ways to turn a small hostile body into a 500 or a CPU sink: a
number of more than 4,300 digits (ValueError from int()), nesting deep enough to exhaust
the C decoder's recursion (RecursionError), and NaN/Infinity, which are not JSON at all.
A fourth way is quieter: of a key given twice in one object it keeps the last, while
other readers of the same bytes (a proxy, an audit log, a validator) may keep the first,
so ``{"outcome": "failure", "outcome": "success"}`` would mean two things. Here each is a
`JsonBodyError` that names what is wrong (RFC 8259 leaves duplicate names undefined;
RFC 7493, I-JSON, forbids them).

Numbers are exact, never `float`: JSON Schema counts `1.0` and `1e3` as the integers 1
and 1000, so they decode to those `int`s; any other number with a fraction or exponent
decodes to `Decimal`, which both validators the service uses see as "not an integer"
(a float there would reach Postgres rounded, or fail there).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# No field of a report or of the webhook payloads heatmeter reads needs more than 20
# digits; 100 leaves room without letting a number cost anything.
MAX_NUMBER_CHARS = 100
_MAX_INTEGER_DIGITS = 30
# A duplicate key is named in the answer; a longer one is cut to this many characters.
_MAX_KEY_CHARS = 60


class JsonBodyError(ValueError):
    """The body is not JSON heatmeter accepts; the message says why, for the client."""


def decode_json(body: bytes, *, max_depth: int) -> Any:
    """The decoded body, refused if not UTF-8 JSON or nested deeper than ``max_depth``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonBodyError(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(
            text,
            parse_int=_integer,
            parse_float=_decimal,
            parse_constant=_not_json,
            object_pairs_hook=_object,
        )
    except JsonBodyError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonBodyError(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise JsonBodyError(f"the body nests deeper than {max_depth} levels") from None
    depth = nesting_depth(data, stop_after=max_depth)
    if depth > max_depth:
        raise JsonBodyError(f"the body nests deeper than {max_depth} levels")
    return data


def nesting_depth(data: Any, *, stop_after: int) -> int:
    """How many arrays/objects deep ``data`` goes (a scalar is 0), counted without recursion.

    Stops looking once past ``stop_after``, so a refused body costs no more than that.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop_after:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonBodyError(f"the body holds a number of more than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _decimal(text: str) -> Decimal | int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonBodyError(f"the body holds a number of more than {MAX_NUMBER_CHARS} characters")
    number = Decimal(text)
    # An integral value is an integer; past 30 digits it is no field's, and int() of
    # `1e99999` would cost what the digit limit is there to prevent.
    if number == number.to_integral_value() and number.adjusted() < _MAX_INTEGER_DIGITS:
        return int(number)
    return number


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):  # the common case costs one comparison
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = key if len(key) <= _MAX_KEY_CHARS else key[:_MAX_KEY_CHARS] + "…"
                raise JsonBodyError(f"the body gives the key {shown!r} twice in one object")
            seen.add(key)
    return obj


def _not_json(name: str) -> Any:
    raise JsonBodyError(f"the body is not JSON: {name} is not a JSON value")
