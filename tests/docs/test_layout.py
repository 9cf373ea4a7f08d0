"""The Layout page names every package and top-level module of the service, and nothing gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service" / "heatmeter"
LAYOUT = ROOT / "docs" / "layout.md"

CODE_SPAN = re.compile(r"`([^`\n]+)`")
# A code span that is a path: no spaces, not a URL path, a folder or a file of these kinds.
PATH = re.compile(r"^(?!/)[\w.\-/]+(/|\.(py|sql|yml|yaml|json|mjs|md|toml))$")


def named_in_layout() -> set[str]:
    return set(CODE_SPAN.findall(LAYOUT.read_text(encoding="utf-8")))


def service_parts() -> list[str]:
    parts = []
    for entry in sorted(SERVICE.iterdir()):
        if entry.is_dir() and (entry / "__init__.py").exists():
            parts.append(f"{entry.name}/")
        elif entry.suffix == ".py" and not entry.name.startswith("__"):
            parts.append(entry.name)
    return parts


def test_every_package_and_module_of_the_service_is_on_the_layout_page() -> None:
    named = named_in_layout()
    missing = [
        part
        for part in service_parts()
        if part not in named and f"service/heatmeter/{part}" not in named
    ]
    assert not missing, f"docs/layout.md does not say what these hold: {missing}"


def test_every_path_on_the_layout_page_exists() -> None:
    paths = [span for span in named_in_layout() if PATH.match(span)]
    assert len(paths) > 20
    gone = [p for p in paths if not (ROOT / p).exists() and not (SERVICE / p).exists()]
    assert not gone, f"docs/layout.md names paths that no longer exist: {sorted(gone)}"
