"""The packages are rooms that say what they hold (shared/STYLE.md, habit 9): no import cycle
between top-level packages, runtime code never imports the development tools, the fakes or
the benchmarks, and the fakes import nothing of Mixtape.

Read from the source with `ast` (every import, including ones inside functions), so a lazy
import cannot hide an edge and nothing is imported to check it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ("bot", "workflows", "storage", "music", "voice", "mixtape", "spotify_access")
DEVELOPMENT = ("devtools", "fakes", "bench", "tests")
#: Modules the checks skip for now, each with why. Each must still exist and still be
#: imported by someone; once it is not, delete it (or its entry) here.
PENDING = {}

Edges = dict[str, dict[str, list[str]]]  # package -> package it imports -> files that do


def packages() -> list[str]:
    """The repository's top-level Python packages."""
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports stay in its own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def source_files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def package_edges() -> Edges:
    """Which package imports which, with the files that do (pending modules left out)."""
    ours = set(packages())
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for package in ours:
        for path in source_files(package):
            rel = path.relative_to(ROOT).as_posix()
            if rel in PENDING:
                continue
            for top in {name.split(".")[0] for name in imported_modules(path)}:
                if top in ours and top != package:
                    edges[package][top].append(rel)
    return edges


def find_cycle(edges: Edges) -> list[str]:
    """One cycle of packages (first package repeated at the end), or [] when there is none."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str]:
        if node in trail:
            return trail[trail.index(node) :] + [node]
        if node in done:
            return []
        for nxt in sorted(edges.get(node, {})):
            cycle = visit(nxt, [*trail, node])
            if cycle:
                return cycle
        done.add(node)
        return []

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return []


def test_no_import_cycle_between_packages() -> None:
    edges = package_edges()
    cycle = find_cycle(edges)
    where = [f"{a} -> {b} ({edges[a][b][0]})" for a, b in zip(cycle, cycle[1:], strict=False)]
    assert not cycle, "import cycle: " + "; ".join(where)


def test_runtime_never_imports_development_tools_fakes_or_bench() -> None:
    edges = package_edges()
    wrong = {
        f"{package} -> {dev}": files
        for package in RUNTIME
        for dev in DEVELOPMENT
        if (files := edges.get(package, {}).get(dev))
    }
    assert not wrong, wrong


def test_the_fakes_import_nothing_of_mixtape() -> None:
    """The fakes stand in for Discord and Spotify; what they know of Mixtape lives in devtools."""
    edges = package_edges()
    assert not dict(edges.get("fakes", {})), dict(edges["fakes"])


def test_pending_modules_still_exist_and_are_still_imported() -> None:
    importers: dict[str, list[str]] = defaultdict(list)
    for package in packages():
        for path in source_files(package):
            for name in imported_modules(path):
                importers[name].append(path.relative_to(ROOT).as_posix())
    for rel, why in PENDING.items():
        assert (ROOT / rel).is_file(), f"{rel} is gone: delete its PENDING entry ({why})"
        module = rel.removesuffix(".py").replace("/", ".")
        users = [f for f in importers[module] if f != rel]
        assert users, f"nothing imports {module} any more: delete {rel} and its entry ({why})"


def test_the_checks_see_a_cycle_and_the_packages() -> None:
    """The walk is not vacuous: it finds the packages and would report a cycle."""
    assert {*RUNTIME, *DEVELOPMENT} <= set(packages())
    assert find_cycle({"a": {"b": ["a/x.py"]}, "b": {"a": ["b/y.py"]}}) == ["a", "b", "a"]
    assert package_edges()["devtools"]["fakes"]
