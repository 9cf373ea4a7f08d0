"""How fast the scorecard answers over the demo history, against /healthz in the same run.

    python bench/scorecard_pages.py [--requests 300] [--concurrency 4]

Starts `heatmeter serve` as a real process (on DATABASE_URL's server in a fresh database,
else an embedded Postgres), fills it with `heatmeter demo`'s history (eight weeks, about
1,200 runs, rolled up), then requests each page over loopback HTTP. The baseline is GET
/healthz through the same stack, so each ratio is the cost of reading the roll-ups and
rendering the page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))

from bench._client import hammer
from bench._service import ROOT, postgres, service

PAGES = {
    "healthz (baseline)": "/healthz",
    "scorecard page /": "/",
    "scorecard JSON /.json": "/.json",
    "GET /v1/summary": "/v1/summary",
    "task page": "/tasks/deploy",
    "task JSON": "/tasks/deploy.json",
}


async def main(requests: int, concurrency: int) -> dict:
    with postgres() as dsn:
        demo = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "heatmeter", "demo",
            env={"DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", "HEATMETER_LOG_FORMAT": "json"},
            stdout=asyncio.subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        assert await demo.wait() == 0, "heatmeter demo failed"
        with service(dsn) as base:
            for path in PAGES.values():  # warm up: connections, templates, plans
                await hammer(f"{base}{path}", [("GET", None, {})] * 20, concurrency)
            return {
                name: await hammer(f"{base}{path}", [("GET", None, {})] * requests, concurrency)
                for name, path in PAGES.items()
            }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    results = asyncio.run(main(args.requests, args.concurrency))
    base = results["healthz (baseline)"]
    print(f"scorecard pages: {args.requests} requests each, {args.concurrency} concurrent clients")
    print(f"{'':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  ratio p50 vs healthz  statuses")
    for name, r in results.items():
        ratio = r["p50_ms"] / base["p50_ms"]
        print(
            f"{name:24} {r['per_s']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}  "
            f"{ratio:19.2f}x  {json.dumps(r['statuses'])}"
        )
