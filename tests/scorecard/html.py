"""Reading the scorecard's HTML in tests: the text of elements, found by class."""

from __future__ import annotations

from html.parser import HTMLParser

_SEPARATE = {"td", "th", "tr", "p", "li", "div", "h1", "h2", "h3", "section"}
_VOID = {"meta", "link", "input", "br", "img", "hr", "circle", "line", "polyline", "rect"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str], list[str]]] = []
        self.found: list[tuple[set[str], str]] = []
        self.body_classes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "body":
            self.body_classes = classes
        if tag in _VOID or tag.endswith("/"):
            return
        self.stack.append((tag, classes, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        return

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, classes, parts = self.stack.pop()
            text = " ".join("".join(parts).split())
            self.found.append((classes, text))
            if self.stack:
                # Block-ish elements and cells read as separate words, as on screen.
                gap = " " if name in _SEPARATE else ""
                self.stack[-1][2].append(gap + "".join(parts) + gap)
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def texts(html: str, *classes: str) -> list[str]:
    """The whitespace-normalised text of every element carrying all of ``classes``."""
    wanted = set(classes)
    return [text for found, text in parse(html).found if wanted <= found]


def body_classes(html: str) -> set[str]:
    return parse(html).body_classes
