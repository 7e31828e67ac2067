"""Finds every message id the code marks for translation (in .py and .kv files)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("drivers", "kiosk", "sync", "hub", "screens", "app")
#: Folders with a catalog of their own (the workbench's words are in ``hub/web/i18n.py``, checked by
#: ``tests/hub/web``).
OWN_CATALOG = ("hub/web",)
MARKERS = {"_", "N_"}
# kv: _("..."), tr._("...") with a literal first argument
_KV_CALL = re.compile(r"""(?<![A-Za-z0-9_])_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def _py_msgids(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0]
        if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value, node.lineno


def _kv_msgids(path: Path):
    text = path.read_text(encoding="utf-8")
    for match in _KV_CALL.finditer(text):
        yield ast.literal_eval(match.group(1)), text.count("\n", 0, match.start()) + 1


def marked_msgids() -> dict[str, str]:
    """msgid -> 'file:line' of its first use."""
    found: dict[str, str] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if "__pycache__" in path.parts or rel.startswith(OWN_CATALOG):
                continue
            extract = {".py": _py_msgids, ".kv": _kv_msgids}.get(path.suffix)
            if extract is None:
                continue
            for msgid, line in extract(path):
                found.setdefault(msgid, f"{path.relative_to(ROOT)}:{line}")
    return found
