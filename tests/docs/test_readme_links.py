"""Every relative link and image of the README (which the site does not build) resolves."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markdown
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


class Addresses(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in {("a", "href"), ("img", "src")} and value:
                self.addresses.append(value)


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    found, fenced = set(), False
    for line in document.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            found.add(github_anchor(match[1]))
    return found


def relative_addresses() -> list[str]:
    # Rendered first, so that code blocks and code spans never count as links.
    parser = Addresses()
    parser.feed(markdown.markdown(README.read_text(encoding="utf-8"), extensions=["fenced_code"]))
    return [a for a in parser.addresses if not urlsplit(a).scheme and not a.startswith("//")]


def test_the_readme_links_into_the_docs() -> None:
    assert any(address.startswith("docs/") for address in relative_addresses())


@pytest.mark.parametrize("address", relative_addresses())
def test_a_relative_link_of_the_readme_resolves(address: str) -> None:
    parts = urlsplit(address)
    target = (README.parent / unquote(parts.path)).resolve() if parts.path else README
    assert target.exists(), f"README.md links to {address}: {target} does not exist"
    if parts.fragment:
        assert target.suffix == ".md", f"README.md links to an anchor of {target.name}"
        assert parts.fragment in anchors(target), (
            f"README.md links to {address}: {target.name} has no heading #{parts.fragment}"
        )


def test_github_anchors_are_computed_as_github_does() -> None:
    assert github_anchor("What survives what") == "what-survives-what"
    assert github_anchor("`heatmeter report`") == "heatmeter-report"
    assert github_anchor("Adoption: the platform's action") == "adoption-the-platforms-action"
    assert github_anchor("Steps: `phase: start` / `finish`") == "steps-phase-start--finish"
