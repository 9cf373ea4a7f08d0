"""The docs site builds with MkDocs' strict link checks; its pages load nothing from elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Tags whose address the browser fetches on its own (links a reader follows are fine).
FETCHED = {"link": "href", "script": "src", "img": "src", "iframe": "src", "source": "src"}


class FetchedAddresses(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = FETCHED.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.addresses.append(value)


def test_the_site_builds_strictly_and_fetches_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    # mkdocs.yml's validation turns every broken link, missing anchor and page left out
    # of the nav into a warning; --strict turns a warning into a failed build.
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr}"

    elsewhere = {}
    for page in site.glob("*.html"):
        parser = FetchedAddresses()
        parser.feed(page.read_text(encoding="utf-8"))
        remote = [a for a in parser.addresses if a.startswith(("http:", "https:", "//"))]
        if remote:
            elsewhere[page.name] = remote
    assert not elsewhere, f"pages that would fetch from elsewhere: {elsewhere}"
