"""JSON without the `json` package: a flat-object encoder, a decoder on `_json`'s scanner."""

# `import json` costs about 15 ms under `python3 -I -S`, almost all of it `re`, which its
# pure-Python decoder and encoder compile patterns with. The reports and the state file are
# flat objects of strings and numbers, simple to write by hand; reading (the event payload,
# the service's answer) uses the same C scanner that json.loads uses, so it parses alike.

from __future__ import annotations

# JSON's escapes for `"`, `\` and the control characters; everything else, non-ASCII too,
# is written as is (the body is UTF-8, as the contract asks).
_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x20)}
_ESCAPES.update(
    {ord('"'): '\\"', ord("\\"): "\\\\", 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
)


def _string(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} has no JSON form")
        return float.__repr__(value)
    raise TypeError(f"{type(value).__name__} is not a JSON scalar")


def dumps(record: dict[str, object]) -> str:
    """`record` (str keys; str, int, float, bool or None values) as compact JSON text."""
    members = (_string(key) + ":" + _scalar(value) for key, value in record.items())
    return "{" + ",".join(members) + "}"


class _Options:
    # What `_json.make_scanner` reads off json.JSONDecoder; these are json.loads' defaults.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity and -Infinity, as json.loads reads them
    memo: dict[str, str] = {}  # noqa: RUF012 - read by older scanners, never written here


try:
    from _json import make_scanner

    _scan = make_scanner(_Options())
except Exception:  # not CPython, or a scanner of another shape: use `json` itself
    _scan = None

_WHITESPACE = " \t\n\r"


def loads(text: str | bytes) -> object:
    """Parse a JSON document as json.loads does (ValueError when it is not one)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    text = text.strip(_WHITESPACE)
    if _scan is not None:
        try:
            value, end = _scan(text, 0)
        except Exception:  # noqa: S110 - json.loads below says what is wrong
            # The scanner raises its errors through json.decoder, which it expects imported.
            pass
        else:
            if end == len(text):
                return value
    import json

    return json.loads(text)
