"""The floor for report ingest: an aiohttp handler that reads the body and answers 202.

    python bench/noop_server.py PORT [asyncio]

Run by bench/ingest.py in its own process, in the same run as heatmeter, so the ratio
between the two is what heatmeter's own work costs on this machine today. It uses the
same event loop as `heatmeter serve` (uvloop when installed), so the loop is not
counted as heatmeter's cost or gain; with the argument `asyncio` it uses asyncio's own
loop instead (the floor as measured before heatmeter moved to uvloop).
"""

from __future__ import annotations

import sys

from aiohttp import web

ANSWER = b'{"id": 0, "duplicate": false}'


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=202, body=ANSWER, content_type="application/json")


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_post("/v1/reports", accept)
    app.router.add_get("/readyz", ready)
    loop_factory = None
    try:
        import uvloop

        if sys.argv[2:] != ["asyncio"]:
            loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    kwargs = {"loop": loop_factory()} if loop_factory else {}
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, **kwargs)


async def ready(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


if __name__ == "__main__":
    main()
