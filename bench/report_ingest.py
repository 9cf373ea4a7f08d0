"""How fast the service takes reports, against its own /healthz measured in the same run.

    python bench/report_ingest.py [--reports 3000] [--concurrency 16]

Starts `heatmeter serve` as a real process (on DATABASE_URL's server in a fresh database,
else an embedded Postgres), then sends signed reports over loopback HTTP with N
concurrent clients. The baseline is GET /healthz through the same stack, so the ratio
is the cost of validating, authenticating and storing a report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))

from bench._service import postgres, service
from tests.reports import make_report, signed

SECRET = "bench-secret"


async def hammer(url: str, requests: list[tuple[str, bytes | None, dict]], concurrency: int):
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(requests)

    async def client(session: aiohttp.ClientSession) -> None:
        for method, body, headers in queue:
            started = time.perf_counter()
            async with session.request(method, url, data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "statuses": statuses,
    }


def report_requests(n: int, offset: int = 0, prs: int = 1) -> list[tuple[str, bytes, dict]]:
    out = []
    for i in range(n):
        report = make_report(run_id=10_000 + offset + i, pull_request=1 + i % prs)
        body, headers = signed(report, SECRET)
        out.append(("POST", body, headers))
    return out


async def main(reports: int, concurrency: int, prs: int) -> dict:
    with postgres() as dsn, service(dsn, HEATMETER_REPORT_SECRET=SECRET) as base:
        warm = report_requests(200, offset=10_000_000)
        await hammer(f"{base}/v1/reports", warm, concurrency)
        health = await hammer(f"{base}/healthz", [("GET", None, {})] * reports, concurrency)
        fresh = report_requests(reports, prs=prs)
        stored = await hammer(f"{base}/v1/reports", fresh, concurrency)
        replayed = await hammer(f"{base}/v1/reports", fresh, concurrency)
    return {"healthz (baseline)": health, "new reports": stored, "replayed reports": replayed}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--pull-requests", type=int, default=100, help="PRs the reports spread over"
    )
    args = parser.parse_args()
    results = asyncio.run(main(args.reports, args.concurrency, args.pull_requests))
    base = results["healthz (baseline)"]
    print(
        f"report ingest: {args.reports} requests each, {args.concurrency} concurrent clients, "
        f"reports spread over {args.pull_requests} pull requests"
    )
    print(f"{'':20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  ratio p50 vs healthz  statuses")
    for name, r in results.items():
        ratio = r["p50_ms"] / base["p50_ms"]
        print(
            f"{name:20} {r['per_s']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}  "
            f"{ratio:19.2f}x  {json.dumps(r['statuses'])}"
        )
