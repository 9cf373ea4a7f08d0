"""The scorecard in a real headless Chromium: no console errors, the figures on screen.

Run by `make browser-test` (and so by .ci/run, which installs Chromium first); the
normal test run deselects the `browser` mark. A missing browser fails here, never skips.
Set HEATMETER_SCREENSHOTS to a folder to keep the screenshots (docs/ holds one).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter import clock
from heatmeter.app import create_app
from heatmeter.demo.history import generate
from heatmeter.demo.store import write_demo
from heatmeter.settings import Settings

from .cdp import chromium, chromium_binary

pytestmark = pytest.mark.browser

# (name, path, viewport width, height, dark mode)
VIEWS = [
    ("scorecard", "/", 1280, 900, False),
    ("task-deploy", "/tasks/deploy", 1280, 900, False),
    ("scorecard-phone-dark", "/", 390, 844, True),
    ("task-deploy-phone-dark", "/tasks/deploy", 390, 844, True),
]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
async def demo_service(
    aiohttp_client: Callable[..., TestClient], settings: Settings, db: asyncpg.Connection
) -> str:
    await write_demo(db, generate(clock.now()), force=False)
    client = await aiohttp_client(create_app(settings))
    return str(client.make_url("")).rstrip("/")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HEATMETER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_pages_render_without_console_errors(demo_service: str, screenshots: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (see .ci/run)")
    async with chromium(binary) as browser:
        for name, path, width, height, dark in VIEWS:
            page = await browser.new_page(width=width, height=height, dark=dark)
            await page.open(demo_service + path)
            assert page.problems == [], (path, page.problems)
            classes = await page.evaluate("document.body.className")
            text = await page.evaluate("document.body.innerText")
            if path == "/":
                assert "scorecard" in classes.split()
                for task in ("deploy", "lint-workflows", "provision-database", "scaffold-service"):
                    assert task in text
                assert "demo data" in text
            else:
                assert "task-deploy" in classes.split()
                assert "Weekly trends" in text
                assert await page.evaluate("document.querySelectorAll('svg.chart').length") == 4
                assert "v3" in text
            # Nothing wider than the viewport: the page reads on a phone without sideways
            # scrolling (wide tables scroll inside their own box).
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (name, overflow)
            if dark:
                background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert background == "rgb(21, 24, 28)", background
            shot = await page.screenshot()
            # The viewport's width, less a scrollbar where one shows.
            assert width - 20 <= png_size(shot)[0] <= width
            assert len(shot) > 10_000  # a rendered page, not a blank one
            (screenshots / f"{name}.png").write_bytes(shot)
