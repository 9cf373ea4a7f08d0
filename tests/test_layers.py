"""Layers point one way: no module of service/heatmeter imports, however indirectly, itself.

The graph is read from the source with `ast`, not by importing it: every `import` of a
module counts, at its top or deferred into a function (a deferred import is how a circle
hides, not how it goes away), except those under `if TYPE_CHECKING:`, which exist only
for the type checker. `from . import x` is an edge to the module `x` where there is one,
else to the package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "service" / "heatmeter"

# Edges of circles that other engineers' areas still have, each with who removes it.
# Empty: add one here only with a comment naming its owner, and never in your own area.
KNOWN_EDGES: frozenset[tuple[str, str]] = frozenset()


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name → file, for every module and package of ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module → the modules of the package it imports."""
    names = modules(package)
    root = package.name

    def known(name: str) -> str | None:
        """``name`` or the nearest package holding it, if it is one of ours."""
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
                continue
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                targets.add(submodule if submodule in names else known(module))
        graph[name] = {t for t in targets if t and t.split(".")[0] == root and t != name}
    return graph


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_package_imports_in_one_direction() -> None:
    graph = import_graph()
    for source, target in KNOWN_EDGES:
        graph[source].discard(target)
    described = [
        "\n".join(
            f"  {source} -> {target}"
            for source in circle
            for target in sorted(graph[source])
            if target in circle
        )
        for circle in circles(graph)
    ]
    assert not described, "import circles:\n" + "\n\n".join(described)


def test_the_known_edges_still_exist() -> None:
    # An allowance outlives its edge only by mistake: once removed, it goes from the list.
    graph = import_graph()
    assert [edge for edge in KNOWN_EDGES if edge[1] not in graph.get(edge[0], ())] == []


def test_the_graph_sees_deferred_imports_and_skips_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"
    )
    (package / "d.py").write_text("import pkg.a\nfrom pkg.sub.b import f\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.c"] == set()
    assert graph["pkg.d"] == {"pkg.a", "pkg.sub.b"}
    assert circles(graph) == []
    graph["pkg.c"].add("pkg.a")
    assert circles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
