"""GitHub writes per report in a burst, and the time from the last report to the comment.

    python bench/comment_burst.py [--debounce 2.0] [--bursts 1,10,50,200]

Runs the service in-process against a real Postgres (DATABASE_URL's server in a fresh
database, else an embedded one) and the fake GitHub of the test suite, then sends
bursts of signed reports for one pull request. The baselines, measured in the same
run: one write per report (what a naive bot does) and the debounce window (the
shortest time to a comment that a debounced writer can promise).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "service")]

from bench._service import postgres  # noqa: E402
from heatmeter.app import create_app  # noqa: E402
from heatmeter.db.migrations import migrate  # noqa: E402
from heatmeter.logs import configure_logging  # noqa: E402
from heatmeter.settings import Settings  # noqa: E402
from tests.github.fake_github import serve_fake_github  # noqa: E402
from tests.reports import make_report, signed  # noqa: E402

SECRET = "bench-secret"
REPOSITORY = "octo-org/octo-repo"


async def burst(client: TestClient, fake, conn, pr: int, size: int, debounce: float) -> dict:
    writes_before = len(fake.writes)

    async def send(n: int) -> None:
        report = make_report(run_id=pr * 100_000 + n, pull_request=pr)
        body, headers = signed(report, SECRET)
        response = await client.post("/v1/reports", data=body, headers=headers)
        assert response.status == 202

    await asyncio.gather(*(send(n) for n in range(size)))
    last_report = time.monotonic()
    while await conn.fetchval("SELECT count(*) FROM comment_outbox"):
        await asyncio.sleep(0.01)
    done = max(r.at for r in fake.writes[writes_before:])
    writes = len(fake.writes) - writes_before
    return {
        "reports": size,
        "writes": writes,
        "writes_per_report": writes / size,
        "latency_s": done - last_report,
        "latency_vs_debounce": (done - last_report) / debounce,
    }


async def main(debounce: float, sizes: list[int]) -> list[dict]:
    configure_logging("json", level=40)
    with postgres() as dsn:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        async with serve_fake_github() as fake:
            fake.add_repository(REPOSITORY)
            fake.add_token("bench-token")
            settings = Settings(
                database_url=dsn,
                report_secret=SECRET,
                github_token="bench-token",
                github_api_url=fake.url,
                comment_debounce_s=debounce,
            )
            client = TestClient(TestServer(create_app(replace(settings))))
            await client.start_server()
            try:
                return [
                    await burst(client, fake, conn, pr, size, debounce)
                    for pr, size in enumerate(sizes, start=1)
                ]
            finally:
                await client.close()
                await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debounce", type=float, default=2.0)
    parser.add_argument("--bursts", default="1,10,50,200")
    args = parser.parse_args()
    sizes = [int(n) for n in args.bursts.split(",")]
    results = asyncio.run(main(args.debounce, sizes))
    print(f"comment bursts, debounce {args.debounce} s, one pull request per burst")
    print("baselines: a naive bot writes once per report; nothing debounced beats the window")
    print(f"{'reports':>8} {'writes':>7} {'writes/report':>14} {'last report → comment':>22} "
          f"{'vs window':>10}")  # fmt: skip
    for r in results:
        print(
            f"{r['reports']:8} {r['writes']:7} {r['writes_per_report']:14.3f} "
            f"{r['latency_s']:20.2f} s {r['latency_vs_debounce']:9.2f}x"
        )
