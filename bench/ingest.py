"""Report ingest as an outside load hits it: wrk against heatmeter and a do-nothing handler.

    python bench/ingest.py [--duration 10] [--connections 32] [--threads 1] [--repeat 1]

In one run, each in its own process: `heatmeter serve` (on a fresh database of
DATABASE_URL's server, else an embedded Postgres), a do-nothing aiohttp handler
(bench/noop_server.py: reads the body, answers 202), and wrk (bench/ingest.lua). The
reports are distinct, HMAC-signed, spread over 200 repositories and 500 pull requests,
signed here beforehand because wrk's Lua has no HMAC. After the run the rows in
task_runs are checked against the 202s: every acknowledged report stored exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "service"))

from bench._service import free_port, postgres, service, wait_ready  # noqa: E402
from heatmeter.reports.trust import sign  # noqa: E402

SECRET = "bench-secret"
REPOSITORIES = 200
PULL_REQUESTS = 500
LUA = ROOT / "bench" / "ingest.lua"
# run_ids of the measured reports start here; the warm-up uses another range.
RUN_ID_BASE = 1_000_000_000
WARM_RUN_ID_BASE = 2_000_000_000


def report_line(index: int, run_id_base: int, now: datetime) -> str:
    """One wrk request line: index, signature header and body of a distinct report."""
    pr = index % PULL_REQUESTS
    repository = f"bench-org/repo-{pr % REPOSITORIES:03d}"
    started = now - timedelta(minutes=5, seconds=index % 600)
    duration_ms = 20_000 + (index * 7919) % 200_000
    outcome = "failure" if index % 10 == 0 else "success"
    report = {
        "repository": repository,
        "workflow": "CI",
        "run_id": run_id_base + index,
        "run_attempt": 1,
        "job": "deploy",
        "task": ("deploy", "provision", "scaffold", "lint-infra")[index % 4],
        "kind": ("deploy", "provisioning", "scaffolding", "other")[index % 4],
        "step": "__heatmeter",
        "phase": "finish",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(milliseconds=duration_ms)).isoformat(),
        "duration_ms": duration_ms,
        "outcome": outcome,
        "exit_code": 0 if outcome == "success" else 1,
        "sha": f"{index:040x}",
        "ref": f"refs/pull/{pr + 1}/merge",
        "pull_request": pr + 1,
        "event_name": "pull_request",
        "runner_os": "Linux",
        "runner_name": f"runner-{index % 64}",
        "actor": "octocat",
    }
    body = json.dumps(report, separators=(",", ":"))
    return f"{index}\t{sign(SECRET, body.encode())}\t{body}\n"


def write_requests(path: Path, count: int, run_id_base: int) -> None:
    now = datetime.now(UTC)
    with path.open("w") as out:
        out.writelines(report_line(i, run_id_base, now) for i in range(count))


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit(
            "bench/ingest.py needs wrk: `apt-get install wrk` on Debian/Ubuntu (as root), "
            "`brew install wrk` on macOS, or `make bench`, which installs it when it can"
        )
    return wrk


def run_wrk(url: str, requests_file: Path, args: argparse.Namespace, duration: float) -> dict:
    command = [
        find_wrk(),
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{round(duration)}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line.removeprefix("BENCH "))
    raise RuntimeError(f"wrk printed no BENCH line:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def noop_server(loop: str) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, str(ROOT / "bench" / "noop_server.py"), str(port)]
    if loop == "asyncio":
        command.append("asyncio")
    process = subprocess.Popen(command, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def stored_run_ids(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT run_id FROM task_runs WHERE run_id >= $1 AND run_id < $2",
            RUN_ID_BASE,
            WARM_RUN_ID_BASE,
        )
        return [row["run_id"] for row in rows]
    finally:
        await conn.close()


def check_stored(dsn: str, result: dict, connections: int) -> dict:
    """Every 202 (not a duplicate) has its row, once; rows beyond the 202s are in flight."""
    import asyncio

    run_ids = asyncio.run(stored_run_ids(dsn))
    stored = set(run_ids)
    acked = {RUN_ID_BASE + int(index) for index in result["acked"]}
    missing = acked - stored
    return {
        "rows": len(run_ids),
        "distinct_rows": len(stored),
        "acked": len(acked),
        "acked_missing": len(missing),
        # Requests cut off when wrk stops: stored, never answered (at most one per connection).
        "stored_unanswered": len(stored - acked),
        "ok": not missing and len(run_ids) == len(stored) and len(stored - acked) <= connections,
    }


def line(name: str, r: dict, floor: dict | None) -> str:
    ratio = f"{r['per_s'] / floor['per_s']:7.1%}" if floor else "      —"
    others = {k: v for k, v in r["statuses"].items() if k != "202"}
    return (
        f"{name:28} {r['per_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['max_ms']:8.1f} "
        f"{ratio}  {r['requests']:7d}  {others or ''}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="measure each side N times")
    parser.add_argument(
        "--reports", type=int, default=100_000, help="distinct reports prepared (wrk wraps)"
    )
    parser.add_argument(
        "--floor-loop",
        choices=["same", "asyncio"],
        default="same",
        help="the do-nothing handler's event loop: the service's (uvloop), or asyncio's",
    )
    args = parser.parse_args()
    find_wrk()
    env = {"HEATMETER_REPORT_SECRET": SECRET}

    with tempfile.TemporaryDirectory(prefix="heatmeter-ingest-") as tmp:
        fresh, warm = Path(tmp) / "reports.tsv", Path(tmp) / "warm.tsv"
        started = time.perf_counter()
        write_requests(fresh, args.reports, RUN_ID_BASE)
        write_requests(warm, 5_000, WARM_RUN_ID_BASE)
        print(f"signed {args.reports} + 5000 reports in {time.perf_counter() - started:.1f} s")
        floors, heat, checks = [], [], []
        with postgres() as dsn, noop_server(args.floor_loop) as noop, service(dsn, **env) as base:
            for _ in range(args.repeat):
                run_wrk(f"{noop}/v1/reports", warm, args, 2)
                floors.append(run_wrk(f"{noop}/v1/reports", fresh, args, args.duration))
                run_wrk(f"{base}/v1/reports", warm, args, 2)
                result = run_wrk(f"{base}/v1/reports", fresh, args, args.duration)
                heat.append(result)
                checks.append(check_stored(dsn, result, args.connections))
                if args.repeat > 1:
                    _truncate(dsn)

    print(
        f"wrk: {args.threads} thread, {args.connections} connections, {args.duration:g} s; "
        f"distinct HMAC-signed reports over {REPOSITORIES} repositories and "
        f"{PULL_REQUESTS} pull requests; Postgres: "
        + ("DATABASE_URL's server" if os.environ.get("DATABASE_URL") else "embedded")
        + "; do-nothing handler on "
        + ("asyncio" if args.floor_loop == "asyncio" else "the service's loop")
    )
    print(f"{'':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'vs floor':>7}  "
          f"{'answers':>7}  non-202")  # fmt: skip
    for i, (floor, result, check) in enumerate(zip(floors, heat, checks, strict=True)):
        suffix = f" #{i + 1}" if args.repeat > 1 else ""
        print(line(f"do-nothing aiohttp{suffix}", floor, None))
        print(line(f"heatmeter POST /v1/reports{suffix}", result, floor))
        print(
            f"  stored: {check['rows']} rows for {check['acked']} fresh 202s "
            f"(+{result['duplicates']} duplicate 202s); acknowledged but missing: "
            f"{check['acked_missing']}; stored but cut off unanswered by wrk's stop: "
            f"{check['stored_unanswered']} -> {'OK' if check['ok'] else 'FAILED'}"
        )
    return 0 if all(check["ok"] for check in checks) else 1


def _truncate(dsn: str) -> None:
    import asyncio

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("TRUNCATE task_runs, outbox")
        finally:
            await conn.close()

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
