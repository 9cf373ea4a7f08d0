"""A Python aiohttp client that drives one URL with N concurrent clients (read pages)."""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp


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
