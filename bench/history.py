"""History at scale: millions of task runs generated in SQL, then the queries people run.

    python bench/history.py [--rows 10000000] [--samples 60] [--repeat 3] [--explain]

Creates a fresh database (DATABASE_URL's server, else an embedded Postgres), applies the
migrations, fills task_runs with `generate_series` (2,000 repositories, 50 tasks, 90
days, a quarter of the runs on the default branch, the rest on pull requests), then
times the pull-request comment's own queries (`load_summaries`) for random PRs, and
every view. With --explain it prints `EXPLAIN (ANALYZE, BUFFERS)` of each query.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "service"))

from bench._service import postgres  # noqa: E402
from heatmeter.db.migrations import load_migrations, migrate  # noqa: E402
from heatmeter.outbox import pull_request_runs  # noqa: E402

REPOSITORIES = 2_000
TASKS = 50
DAYS = 90
PRS_PER_REPOSITORY = 300  # over the 90 days: about 3 a day, each alive about 3 days

# Reproducible pseudo-randomness from the row number alone, so the generator can run in
# chunks on several connections at once: h(i, salt) is uniform in [0, 1).
GENERATE = f"""
WITH g AS MATERIALIZED (
    SELECT i,
           (hashint8extended(i, 1) & 4294967295) / 4294967296.0::float8 AS h1,
           (hashint8extended(i, 2) & 4294967295) / 4294967296.0::float8 AS h2,
           (hashint8extended(i, 3) & 4294967295) / 4294967296.0::float8 AS h3,
           (hashint8extended(i, 4) & 4294967295) / 4294967296.0::float8 AS h4,
           (hashint8extended(i, 5) & 4294967295) / 4294967296.0::float8 AS h5,
           (hashint8extended(i, 6) & 4294967295) / 4294967296.0::float8 AS h6,
           (hashint8extended(i, 7) & 4294967295) / 4294967296.0::float8 AS h7,
           (hashint8extended(i, 8) & 4294967295) / 4294967296.0::float8 AS h8
    FROM generate_series($1::bigint, $2::bigint) AS i
), shaped AS (
    SELECT i, h2, h5, h6, h7, h8,
           floor(h1 * {REPOSITORIES})::int                   AS repo,
           h4 < 0.25                                          AS on_default,
           1 + floor(h3 * {PRS_PER_REPOSITORY})::int          AS pr
    FROM g
), placed AS (
    SELECT *,
           CASE WHEN on_default THEN floor(h6 * {TASKS})::int
                ELSE (pr * 7 + floor(h6 * 5)::int) % {TASKS} END     AS task,
           CASE WHEN on_default THEN now() - h2 * interval '{DAYS} days'
                -- a PR's runs fall in the three days after it opened
                ELSE now() - interval '{DAYS} days'
                     + (pr - 1) * interval '{DAYS} days' / {PRS_PER_REPOSITORY}
                     + h5 * interval '3 days' END                AS started_at,
           CASE WHEN h7 < 0.85 THEN 'success' WHEN h7 < 0.93 THEN 'failure'
                WHEN h7 < 0.96 THEN 'cancelled' WHEN h7 < 0.98 THEN 'timed_out'
                WHEN h7 < 0.999 THEN 'skipped' END                AS outcome
    FROM shaped
)
INSERT INTO task_runs (
    repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at,
    finished_at, duration_ms, outcome, exit_code, sha, ref, head_ref, pull_request,
    event_name, runner_os, runner_name, actor, auth_method, closed_by
)
SELECT
    'org-' || lpad(repo::text, 4, '0') || '/service-' || repo,
    'CI', i, 1, 'build',
    'task-' || lpad(task::text, 2, '0'),
    (ARRAY['scaffolding', 'deploy', 'provisioning', 'other'])[1 + task % 4],
    '__heatmeter',
    least(started_at, now() - interval '1 hour'),
    CASE WHEN outcome IS NOT NULL
         THEN least(started_at, now() - interval '1 hour') + duration END,
    CASE WHEN outcome IS NOT NULL THEN (extract(epoch FROM duration) * 1000)::bigint END,
    outcome,
    CASE WHEN outcome = 'success' THEN 0 WHEN outcome = 'failure' THEN 1 END,
    md5(i::text) || substr(md5((i + 1)::text), 1, 8),
    CASE WHEN on_default THEN 'refs/heads/main' ELSE 'refs/pull/' || pr || '/merge' END,
    CASE WHEN on_default THEN NULL ELSE 'feature-' || pr END,
    CASE WHEN on_default THEN NULL ELSE pr END,
    CASE WHEN on_default THEN 'push' ELSE 'pull_request' END,
    'Linux', 'runner-' || (i % 500), 'dev-' || (i % 3000), 'hmac',
    CASE WHEN outcome IS NOT NULL THEN 'report' END
FROM placed,
    -- durations: each task has its own typical length (20 s to 10 min), spread around it
    LATERAL (SELECT make_interval(secs => (20 + (task * 37) % 580)
                                          * (0.5 + h8 * 1.5 + (h8 * h8) * 2))) AS d(duration)
"""

GENERATE_PULL_REQUESTS = f"""
INSERT INTO pull_requests (repository, number, head_sha, head_ref, head_repository,
                           base_ref, default_branch, state, opened_at)
SELECT 'org-' || lpad(repo::text, 4, '0') || '/service-' || repo, pr, md5(repo || '/' || pr),
       'feature-' || pr, 'org-' || lpad(repo::text, 4, '0') || '/service-' || repo, 'main',
       'main', CASE WHEN pr > {PRS_PER_REPOSITORY} - 3 THEN 'open' ELSE 'closed' END,
       now() - interval '{DAYS} days' + (pr - 1) * interval '{DAYS} days' / {PRS_PER_REPOSITORY}
FROM generate_series(0, {REPOSITORIES} - 1) AS repo,
     generate_series(1, {PRS_PER_REPOSITORY}) AS pr
"""

GENERATE_INSTALLATIONS = f"""
INSERT INTO installations (installation_id, account) VALUES (1, 'org');
INSERT INTO installation_repositories (installation_id, repository)
SELECT 1, 'org-' || lpad(repo::text, 4, '0') || '/service-' || repo
FROM generate_series(0, {REPOSITORIES} - 1) AS repo;
"""

# PRs that have runs, to pick the comment's samples from.
SAMPLE_PRS = """
SELECT DISTINCT repository, pull_request FROM task_runs
WHERE pull_request IS NOT NULL AND run_id % 997 = 0
LIMIT $1
"""

# task_runs' indexes and unique constraints, to drop before the load and build after it:
# the same definitions, built once instead of maintained row by row.
TABLE_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition,
       c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_definition
FROM pg_index i
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE i.indrelid = 'task_runs'::regclass
"""

HAS_UPKEEP = "SELECT to_regproc('heatmeter_task_runs_maintain') IS NOT NULL"
HAS_SNAPSHOT = "SELECT to_regproc('heatmeter_refresh_task_health') IS NOT NULL"
HAS_ROLLUPS = "SELECT to_regproc('heat_refresh_rollups') IS NOT NULL"

SIZE = """
SELECT pg_size_pretty(sum(pg_total_relation_size(relid))), count(*) FILTER (WHERE level > 0)
FROM pg_partition_tree('task_runs')
"""

VIEWS = """
SELECT table_name FROM information_schema.views
WHERE table_schema = current_schema() ORDER BY table_name
"""


async def generate(
    dsn: str, rows: int, sql_dir: Path | None, *, rollups: bool = True, chunks: int = 2
) -> None:
    """Fill the tables; the runs in `chunks` concurrent INSERTs (one per core)."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, load_migrations(sql_dir))
        await conn.execute(GENERATE_PULL_REQUESTS)
        await conn.execute(GENERATE_INSTALLATIONS)
    finally:
        await conn.close()
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await conn.fetch(TABLE_INDEXES)
        for index in indexes:
            if index["constraint_name"]:
                name = index["constraint_name"]
                await conn.execute(f'ALTER TABLE task_runs DROP CONSTRAINT "{name}"')
            else:
                await conn.execute(f"DROP INDEX {index['name']}")
    finally:
        await conn.close()
    step = -(-rows // (chunks * 8))
    ranges = [(lo, min(rows, lo + step - 1)) for lo in range(1, rows + 1, step)]
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for r in ranges:
        queue.put_nowait(r)

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            while not queue.empty():
                lo, hi = queue.get_nowait()
                await conn.execute(GENERATE, lo, hi)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(chunks)))
    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval(HAS_UPKEEP):
            # What the service's upkeep does: months loaded before their partition existed
            # move from the default partition into their own.
            async with conn.transaction():
                await conn.fetch("SELECT heatmeter_task_runs_maintain(2, NULL)")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            if index["constraint_name"]:
                await conn.execute(
                    f'ALTER TABLE task_runs ADD CONSTRAINT "{index["constraint_name"]}" '
                    + index["constraint_definition"]
                )
            else:
                # A partitioned table's index reads "ON ONLY task_runs": built that way it
                # would cover no partition.
                await conn.execute(index["definition"].replace(" ON ONLY ", " ON "))
        await conn.execute("VACUUM (ANALYZE) task_runs")
        await conn.execute("ANALYZE")
        if rollups and await conn.fetchval(HAS_ROLLUPS):
            # What the service does every HEATMETER_ROLLUP_INTERVAL seconds (sql/007).
            started = time.perf_counter()
            await conn.execute("SELECT heat_refresh_rollups(rebuild => true)")
            print(f"built the daily roll-ups in {time.perf_counter() - started:.0f} s")
        if await conn.fetchval(HAS_SNAPSHOT):
            await conn.execute("SELECT heatmeter_refresh_task_health()")
    finally:
        await conn.close()


async def explain(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    return "\n".join("    " + row[0] for row in rows)


async def copy_time(conn: asyncpg.Connection, sql: str, *args: object) -> float:
    """Milliseconds to receive every row as text, as psql or a dashboard would: the
    query and the transfer, without decoding rows into Python objects."""
    for n, value in enumerate(args, start=1):  # COPY takes no parameters
        sql = sql.replace(f"${n}", "'" + str(value).replace("'", "''") + "'")
    started = time.perf_counter()
    await conn.copy_from_query(sql, output=io.BytesIO())
    return (time.perf_counter() - started) * 1000


async def timed(conn: asyncpg.Connection, sql: str, repeat: int, *args: object) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await conn.fetch(sql, *args)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(dsn: str, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(dsn)
    results: list[tuple[str, str, str]] = []
    explains: list[tuple[str, str]] = []
    try:
        count = await conn.fetchval("SELECT count(*) FROM task_runs")
        size, partitions = await conn.fetchrow(SIZE)
        partitions = f"{partitions} partitions" if partitions > 0 else "not partitioned"
        print(f"task_runs: {count} rows, {size} with indexes, {partitions}")
        samples = [tuple(r) for r in await conn.fetch(SAMPLE_PRS, args.samples)]
        # The comment's data: all of load_summaries, as the worker runs it.
        await pull_request_runs.load_summaries(
            conn, *samples[0], web_url="https://github.com"
        )  # warm
        per_pr = []
        for repository, pr in samples:
            started = time.perf_counter()
            await pull_request_runs.load_summaries(
                conn, repository, pr, web_url="https://github.com"
            )
            per_pr.append((time.perf_counter() - started) * 1000)
        per_pr.sort()
        p95 = per_pr[max(0, int(len(per_pr) * 0.95) - 1)]
        results.append(
            (
                f"PR comment data (load_summaries), {len(per_pr)} PRs",
                f"p50 {statistics.median(per_pr):.1f} / p95 {p95:.1f}",
                f"max {per_pr[-1]:.1f}",
            )
        )
        repository, pr = samples[len(samples) // 2]
        pr_runs = await conn.fetch(pull_request_runs.SELECT_PR_RUNS, repository, pr)
        plan = await explain(conn, pull_request_runs.SELECT_PR_RUNS, repository, pr)
        explains.append(("load_summaries: SELECT_PR_RUNS", plan))
        pairs = sorted({(r["task"], r["runner_os"]) for r in pr_runs})
        plan = await explain(
            conn,
            pull_request_runs.SELECT_BASELINE,
            repository,
            "refs/heads/main",
            [task for task, _ in pairs],
            [runner_os for _, runner_os in pairs],
            pull_request_runs.BASELINE_DAYS,
            pull_request_runs.BASELINE_RUNS_PER_TASK,
        )
        explains.append(("load_summaries: SELECT_BASELINE", plan))
        queries = [
            (f"SELECT * FROM {v}", f"SELECT * FROM {v}", ())
            for v in [r[0] for r in await conn.fetch(VIEWS)]
        ]
        queries.append(
            ("task_health for one repository",
             "SELECT * FROM task_health WHERE repository = $1", (repository,))
        )  # fmt: skip
        for name, sql, params in queries:
            times = await timed(conn, sql, args.repeat + 1, *params)
            first, rest = times[0], sorted(times[1:])
            plan = await explain(conn, sql, *params)
            server = float(plan.rsplit("Execution Time: ", 1)[1].split()[0])
            copied = await copy_time(conn, sql, *params)
            results.append(
                (
                    name,
                    f"{statistics.median(rest):.1f}",
                    f"first {first:.1f}, as text (psql) {copied:.1f}, server {server:.1f}",
                )
            )
            if args.explain:
                explains.append((name, plan))
        if await conn.fetchval(HAS_SNAPSHOT):
            # What the service does in the background every HEATMETER_VIEWS_REFRESH seconds.
            times = await timed(conn, "SELECT heatmeter_refresh_task_health()", 2)
            results.append(("refresh task_health's snapshot (background)", f"{min(times):.1f}", ""))
    finally:
        await conn.close()
    if args.explain:
        for name, plan in explains:
            print(f"\n-- EXPLAIN (ANALYZE, BUFFERS): {name}\n{plan}")
        print()
    return results


def main(args: argparse.Namespace) -> None:
    with postgres() as dsn:
        started = time.perf_counter()
        asyncio.run(generate(dsn, args.rows, args.sql_dir, rollups=args.rollups))
        print(f"generated {args.rows} task runs in SQL in {time.perf_counter() - started:.0f} s")
        results = asyncio.run(measure(dsn, args))
    print(
        f"\n{'query':52} {'ms (median of ' + str(args.repeat) + ')':>22}  then: the first run, "
        "every row received as text (COPY, as psql does), and the server's own Execution Time "
        "(EXPLAIN ANALYZE); the median includes asyncpg decoding every row into Python"
    )
    for name, ms, note in results:
        print(f"{name:52} {ms:>22}  {note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="task runs to generate")
    parser.add_argument(
        "--sql-dir", type=Path, help="migrations to apply instead of sql/ (e.g. main's, to compare)"
    )
    parser.add_argument(
        "--rollups",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="build the scorecard's daily roll-ups before timing its views (slow at 10M)",
    )
    parser.add_argument("--samples", type=int, default=60, help="pull requests to time")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each view")
    parser.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print EXPLAIN (ANALYZE, BUFFERS) of each query",
    )
    main(parser.parse_args())
