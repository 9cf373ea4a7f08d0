"""Reports into task_runs: one statement stores many, and asks for their PRs' comments.

The one statement a report is stored by (reports/writer.py batches them; a batch of one
is a batch too). Columns and key are heatmeter.task_runs'.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..outbox import comment
from ..outbox.queue import ASK_AGAIN
from ..ownership import RunFacts, owning_pull_requests
from ..task_runs import COLUMN_LIST, KEY_LIST, ON_KEY_CONFLICT
from .schema import Report
from .trust import Reporter

# The batch travels as one JSON array of the reports' own bodies (already validated
# against the schema) beside an array of how each was authenticated: Postgres takes the
# fields apart, and the service encodes nothing per report.
_INPUT = """
ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::text[]), unnest($3::integer[]))
    WITH ORDINALITY AS j(d, auth_method, pull_request, ord)
"""
_FIELDS = """
j.ord, j.auth_method,
d->>'repository' AS repository, d->>'workflow' AS workflow,
(d->>'run_id')::bigint AS run_id, (d->>'run_attempt')::integer AS run_attempt,
d->>'job' AS job, d->>'task' AS task, d->>'kind' AS kind, d->>'step' AS step_id,
(d->>'started_at')::timestamptz AS started_at, (d->>'finished_at')::timestamptz AS finished_at,
(d->>'duration_ms')::bigint AS duration_ms, d->>'outcome' AS outcome,
(d->>'exit_code')::integer AS exit_code, d->>'sha' AS sha, d->>'ref' AS ref,
d->>'head_ref' AS head_ref, j.pull_request,
d->>'event_name' AS event_name, d->>'runner_os' AS runner_os,
d->>'runner_name' AS runner_name, d->>'actor' AS actor, d->>'version' AS version,
d->>'phase' = 'finish' AS finish,
CASE WHEN d->>'phase' = 'finish' THEN 'report' END AS closed_by,
'action' AS source, NULL::bigint AS job_id
"""

# A start only creates; a replayed start, or one arriving after its finish, is a no-op.
# A finish completes its start, or replaces an end the workflow_job webhook guessed for
# it; an already reported end is never overwritten, so a replay changes nothing.
FINISH_OVER_START = """
    finished_at  = EXCLUDED.finished_at,
    duration_ms  = EXCLUDED.duration_ms,
    outcome      = EXCLUDED.outcome,
    exit_code    = EXCLUDED.exit_code,
    closed_by    = 'report',
    -- The start's version stands, as its kind does; a finish may supply a missing one.
    version      = coalesce(task_runs.version, EXCLUDED.version),
    updated_at   = now(),
    pull_request = coalesce(task_runs.pull_request, EXCLUDED.pull_request)
WHERE task_runs.closed_by IS DISTINCT FROM 'report'
"""

# Stores the runs and asks for their PRs' comments (as the outbox's REQUEST does,
# once per PR); each report's pull request is decided beforehand by
# heatmeter.ownership's rule (the third array). Rows are written in key order, so two
# batches in flight take their locks in the same order. Reports stored (not duplicates)
# get their id; a duplicate's id is looked up afterwards (SELECT_IDS).
STORE_BATCH = f"""
WITH input AS (
    SELECT {_FIELDS} FROM {_INPUT}
), starts AS (
    INSERT INTO task_runs ({COLUMN_LIST})
    SELECT {COLUMN_LIST} FROM input WHERE NOT finish ORDER BY {KEY_LIST}
    {ON_KEY_CONFLICT} DO NOTHING
    RETURNING id, {KEY_LIST}
), finishes AS (
    INSERT INTO task_runs ({COLUMN_LIST})
    SELECT {COLUMN_LIST} FROM input WHERE finish ORDER BY {KEY_LIST}
    {ON_KEY_CONFLICT} DO UPDATE SET {FINISH_OVER_START}
    RETURNING id, {KEY_LIST}
), stored AS (
    SELECT i.ord, s.id, i.repository, i.pull_request
    FROM (SELECT * FROM starts UNION ALL SELECT * FROM finishes) AS s
    JOIN input AS i USING ({KEY_LIST})
), asked AS (
    INSERT INTO outbox (kind, key, requests)
    SELECT '{comment.NAME}', {comment.KEY_SQL}, count(*) FROM stored
    WHERE pull_request IS NOT NULL
    GROUP BY repository, pull_request
    ORDER BY repository, pull_request
    ON CONFLICT (kind, key) DO UPDATE SET {ASK_AGAIN}
)
SELECT ord, id FROM stored
"""  # noqa: S608 (built from this module's own constants, no input)

# The ids of the batch's duplicates (by position), read with the same parsing.
SELECT_IDS = f"""
SELECT k.ord, t.id
FROM (SELECT {_FIELDS} FROM {_INPUT}) AS k
JOIN task_runs AS t USING ({KEY_LIST})
WHERE k.ord = ANY($4::bigint[])
"""  # noqa: S608 (built from this module's own constants, no input)


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


async def store_reports(
    conn: asyncpg.Connection, items: list[tuple[Report, str, Reporter]]
) -> list[Stored]:
    """Store reports with distinct keys in one statement; their answers, in order.

    Each item is a report, its validated JSON body and who sent it. Outside a
    transaction the statement is its own.
    """
    owners = await owning_pull_requests(
        conn,
        [
            (
                r.repository,
                RunFacts(r.sha, r.ref, r.head_ref, r.event_name, r.pull_request, r.started_at),
            )
            for r, _, _ in items
        ],
    )
    documents = "[" + ",".join(document for _, document, _ in items) + "]"
    methods = [reporter.method for _, _, reporter in items]
    rows = await conn.fetch(STORE_BATCH, documents, methods, owners)
    ids: dict[int, int] = {row["ord"]: row["id"] for row in rows}
    duplicates = [n for n in range(1, len(items) + 1) if n not in ids]
    found: dict[int, int] = {}
    if duplicates:
        rows = await conn.fetch(SELECT_IDS, documents, methods, owners, duplicates)
        found = {row["ord"]: row["id"] for row in rows}
    return [
        Stored(ids[n], False) if n in ids else Stored(found[n], True)
        for n in range(1, len(items) + 1)
    ]
