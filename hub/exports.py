"""Staff exports neutralise formulas (issue 22, OWASP "CSV injection"): a text cell beginning with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written as text, never as a formula.

Every CSV and XLSX writer of the hub and the workbench writes its rows through :func:`csv_row` and
:func:`xlsx_append`; numbers stay numbers.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: What makes a spreadsheet read a cell as a formula (or hide one behind a control character).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> Any:
    """A CSV cell: a text beginning like a formula gets a leading ``'``; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_row(row: Iterable[Any]) -> list[Any]:
    """A row for ``csv.writer`` with every formula-like text neutralised."""
    return [neutral(v) for v in row]


def xlsx_append(ws: Any, row: Iterable[Any]) -> None:
    """Append a row to an openpyxl worksheet; a text is stored as a text cell, never a formula
    (openpyxl would otherwise make ``=…`` a live formula)."""
    values = list(row)
    ws.append(values)
    for cell, value in zip(ws[ws.max_row], values):
        if isinstance(value, str) and value.startswith(FORMULA_START):
            cell.value = value
            cell.data_type = "s"
