"""A headless Chromium driven over the Chrome DevTools Protocol, for the browser tests.

Chromium picks a free debugging port itself (``--remote-debugging-port=0``) and says
where on stderr; one websocket then carries commands and the events we watch: console
calls, uncaught exceptions and the browser's own log (failed loads, CSP violations).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# The flags of a quiet, reproducible headless run: no GPU, no QUIC, no first-run UI, no
# background traffic (component updates, sync), a fresh empty profile each time.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
STARTUP_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 60


def chromium_binary() -> str | None:
    return os.environ.get("HEATMETER_CHROMIUM") or shutil.which("chromium")


@dataclass
class Page:
    """One tab: commands go to its session; what it reports is collected in ``problems``."""

    browser: Browser
    session_id: str
    problems: list[str] = field(default_factory=list)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, params, session_id=self.session_id)

    async def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.loaded.clear()
        answer = await self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise AssertionError(f"{url}: {answer['errorText']}")
        await asyncio.wait_for(self.loaded.wait(), COMMAND_TIMEOUT_S)
        # A round trip through the page, so events raised while loading have arrived.
        await self.evaluate("document.readyState")

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def screenshot(self) -> bytes:
        answer = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(answer["data"])

    def event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self.loaded.set()
        elif method == "Runtime.consoleAPICalled" and params["type"] in {"error", "assert"}:
            args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            self.problems.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            self.problems.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.problems.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())


class Browser:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.json()
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    if "error" in data:
                        future.set_exception(AssertionError(f"CDP error: {data['error']}"))
                    else:
                        future.set_result(data.get("result", {}))
            elif (page := self._pages.get(data.get("sessionId", ""))) is not None:
                page.event(data["method"], data.get("params", {}))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the browser went away"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future = asyncio.get_running_loop().create_future()
        self._waiting[message["id"]] = future
        await self._ws.send_json(message)
        return await asyncio.wait_for(future, COMMAND_TIMEOUT_S)

    async def new_page(self, *, width: int, height: int, dark: bool = False) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        self._pages[page.session_id] = page
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=width < 600)  # fmt: skip
        scheme = "dark" if dark else "light"
        await page.send(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": scheme}],
        )
        return page

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


@contextlib.asynccontextmanager
async def chromium(binary: str) -> AsyncIterator[Browser]:
    """Start a headless Chromium with an empty profile; yield it connected over CDP."""
    with tempfile.TemporaryDirectory(prefix="heatmeter-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            binary, *FLAGS, f"--user-data-dir={profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        drain: asyncio.Task[None] | None = None
        try:
            ws_url = await asyncio.wait_for(_listening(process), STARTUP_TIMEOUT_S)
            # Keep reading stderr so Chromium never blocks on a full pipe.
            assert process.stderr is not None
            drain = asyncio.create_task(_drain(process.stderr))
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(ws_url, max_msg_size=0) as ws,
            ):
                browser = Browser(ws)
                try:
                    yield browser
                finally:
                    await browser.close()
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
            if drain is not None:
                await drain


async def _listening(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    seen = []
    while line := await process.stderr.readline():
        seen.append(line)
        if match := _LISTENING.search(line):
            return match[1].decode()
    raise AssertionError(b"chromium exited before listening:\n" + b"".join(seen[-20:]))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
