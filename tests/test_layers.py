"""The floors of the code base, checked by parsing every import (practice 18).

Arrows run only downward: ``app`` → ``screens`` | ``hub`` → ``sync`` → ``kiosk`` → ``drivers``.
``screens`` and ``hub`` are siblings and never import each other. Module-level imports between
project modules form no cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: package -> floor; a package may import only packages on lower floors (or itself).
FLOORS = {"drivers": 0, "kiosk": 1, "sync": 2, "hub": 3, "screens": 3, "app": 4}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in FLOORS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported project module, at module level?, line) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, top, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for a in child.names:
                    full = f"{child.module}.{a.name}"
                    found.append((full if full in MODULES else child.module, top, child.lineno))
            visit(child, inner)

    visit(tree, True)
    return [(m, top, line) for m, top, line in found if m.split(".")[0] in FLOORS]


IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def test_every_package_has_a_floor():
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk <= set(FLOORS), f"packages without a floor: {sorted(on_disk - set(FLOORS))}"


def test_arrows_only_run_down():
    upward = []
    for name, imports in IMPORTS.items():
        here = name.split(".")[0]
        for target, _, line in imports:
            there = target.split(".")[0]
            if there != here and FLOORS[there] >= FLOORS[here]:
                upward.append(f"{MODULES[name].relative_to(ROOT)}:{line} {here} -> {target}")
    assert not upward, "imports that run up or sideways:\n" + "\n".join(upward)


def test_no_import_cycle():
    graph = {name: {t if t in MODULES else t.rsplit(".", 1)[0] for t, top, _ in imports if top}
             for name, imports in IMPORTS.items()}
    graph = {n: {t for t in ts if t in MODULES and t != n} for n, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_core_never_imports_kivy():
    offenders = [name for name, path in MODULES.items() if name.split(".")[0] in ("drivers", "kiosk", "sync", "hub")
                 and any(line.strip().startswith(("import kivy", "from kivy"))
                         for line in path.read_text(encoding="utf-8").splitlines())]
    assert not offenders, offenders


def test_no_function_level_import_of_a_project_module():
    """An import inside a function may only load a heavy optional third-party library, never a project
    module: a project module is imported at the top, and one that would pull a heavy library imports
    that library inside its own functions instead."""
    inside = sorted({f"{MODULES[name].relative_to(ROOT)}:{line} {target}"
                     for name, imports in IMPORTS.items() for target, top, line in imports if not top})
    assert not inside, "function-level imports of project modules:\n" + "\n".join(inside)
