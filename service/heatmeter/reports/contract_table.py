"""The report contract's field table in docs/report-contract.md, generated from the JSON Schema.

The schema in `reports/schema.py` is the one source of truth: this renders its fields as
the Markdown table between the markers in the document, and a test fails when the two
differ. Regenerate with::

    python -m heatmeter.reports.contract_table --write docs/report-contract.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..http.field_schemas import (
    PATTERN_MEANINGS,
    REPOSITORY_PATTERN,
    SHA_PATTERN,
    TIMESTAMP_PATTERN,
    VERSION_PATTERN,
)
from .schema import FINISH_ONLY, FINISH_REQUIRED, MAX_CLOCK_SKEW, REPORT_SCHEMA

BEGIN = "<!-- generated from reports/schema.py: begin -->"
END = "<!-- generated from reports/schema.py: end -->"


def fields_table(schema: dict[str, Any] = REPORT_SCHEMA) -> str:
    """The Markdown table of every field: its type and bounds, when it is sent, its meaning."""
    rows = [
        "| field | type | required | meaning |",
        "| --- | --- | --- | --- |",
    ]
    required = set(schema["required"])
    for name, field in schema["properties"].items():
        if name in required:
            when = "yes"
        elif name in FINISH_REQUIRED:
            when = "with `finish`"
        elif name in FINISH_ONLY:
            when = "`finish` only"
        else:
            when = "no"
        rows.append(f"| `{name}` | {_type(field)} | {when} | {field.get('description', '')} |")
    return "\n".join(rows) + "\n"


def _type(field: dict[str, Any]) -> str:
    if "enum" in field:
        return " \\| ".join(f"`{choice}`" for choice in field["enum"])
    pattern = field.get("pattern")
    if pattern == REPOSITORY_PATTERN:
        return "string `owner/name` (letters, digits, `-`, `_`, `.`)"
    if pattern == SHA_PATTERN:
        return "40 lowercase hex digits"
    if pattern == TIMESTAMP_PATTERN:
        ahead = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        return f"RFC 3339 timestamp with an offset, years 2000 to 2999, at most {ahead} min ahead"
    if field.get("type") == "integer":
        return f"integer {field['minimum']} to {field['maximum']}"
    if field.get("type") == "string":
        words = f"string, {field.get('minLength', 0)} to {field['maxLength']} characters"
        if pattern == VERSION_PATTERN:
            words += ", no control character or lone surrogate"
        elif pattern in PATTERN_MEANINGS:
            words += ", no NUL or lone surrogate"
        return words
    raise ValueError(f"no words for the schema {field!r}")


def with_table(document: str) -> str:
    """``document`` with the text between the markers replaced by the current table."""
    try:
        head, rest = document.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"the document lacks the markers {BEGIN} … {END}") from None
    return f"{head}{BEGIN}\n{fields_table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m heatmeter.reports.contract_table")
    parser.add_argument("--write", type=Path, help="update the table in this Markdown file")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(fields_table())
        return 0
    args.write.write_text(with_table(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
