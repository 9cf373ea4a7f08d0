"""One report contract: the schema drives the docs, and the action and Postgres agree with it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import asyncpg

from heatmeter.reports import contract_table
from heatmeter.reports.schema import KINDS, OUTCOMES, REPORT_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from action import inputs as action_inputs  # noqa: E402

# Report fields whose column has another name.
COLUMN = {"step": "step_id"}


def test_the_docs_table_is_the_schema() -> None:
    document = (ROOT / "docs" / "report-contract.md").read_text(encoding="utf-8")
    assert contract_table.with_table(document) == document, (
        "docs/report-contract.md is out of date: run "
        "python -m heatmeter.reports.contract_table --write docs/report-contract.md"
    )


def test_the_action_knows_the_schemas_kinds_and_outcomes() -> None:
    assert set(action_inputs.KINDS) == set(KINDS)
    assert set(action_inputs.OUTCOMES) == set(OUTCOMES)


async def test_postgres_checks_and_column_types_agree_with_the_schema(
    db: asyncpg.Connection,
) -> None:
    properties = REPORT_SCHEMA["properties"]
    by_column = {COLUMN.get(name, name): name for name in properties}
    checks = await db.fetch(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = 'task_runs'::regclass AND contype = 'c'"
    )
    compared = set()
    for check in checks:
        definition = check["definition"]
        if match := re.fullmatch(r"CHECK \(\((\w+) >= (-?\d+)\)\)", definition):
            column, minimum = match[1], int(match[2])
            if column in by_column:
                assert properties[by_column[column]]["minimum"] == minimum, definition
                compared.add(column)
        elif match := re.fullmatch(r"CHECK \(\((\w+) = ANY \(ARRAY\[(.*)\]\)\)\)", definition):
            column, values = match[1], set(re.findall(r"'([^']*)'::text", match[2]))
            if column in by_column:
                assert set(properties[by_column[column]]["enum"]) == values, definition
                compared.add(column)
    assert {"kind", "outcome", "run_attempt", "duration_ms", "pull_request"} <= compared

    limits = {"integer": 2**31 - 1, "bigint": 2**63 - 1}
    columns = await db.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'task_runs' AND table_schema = current_schema()"
    )
    for column in columns:
        field = properties.get(by_column.get(column["column_name"], ""))
        if field is None:
            continue
        if column["data_type"] in limits:
            assert field["type"] == "integer", column
            assert field["maximum"] <= limits[column["data_type"]], column
            assert field["minimum"] >= -limits[column["data_type"]] - 1, column
        elif column["data_type"] == "text":
            assert field.get("type", "string") == "string" or "enum" in field, column
