"""heatmeter.task_runs: the one column list every writer of task_runs follows."""

from __future__ import annotations

import asyncpg
import pytest

from heatmeter.task_runs import COLUMNS, KEY, placeholders, values_in_order


def test_values_come_in_column_order_with_none_for_the_unnamed() -> None:
    values = values_in_order({"job_id": 7, "repository": "octo/r"})
    assert values[COLUMNS.index("repository")] == "octo/r"
    assert values[COLUMNS.index("job_id")] == 7
    assert sum(v is not None for v in values) == 2
    assert len(values) == len(COLUMNS)
    assert placeholders(3) == "$1, $2, $3"


def test_a_name_that_is_no_column_is_refused() -> None:
    with pytest.raises(KeyError, match="runner_label"):
        values_in_order({"runner_label": "x"})


async def test_the_columns_and_key_are_the_tables(db: asyncpg.Connection) -> None:
    columns = {
        r["attname"]
        for r in await db.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'task_runs'::regclass "
            "AND attnum > 0 AND NOT attisdropped"
        )
    }
    assert set(COLUMNS) <= columns
    key = await db.fetchval(
        "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_constraint AS c "
        "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
        "WHERE c.conrelid = 'task_runs'::regclass AND c.conname = 'task_runs_idempotency'"
    )
    assert tuple(key) == KEY
