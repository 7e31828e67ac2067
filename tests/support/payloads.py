"""Valid record payloads for tests: the fields a test names, the other required ones filled with
values the record kind's schema (``kiosk.schema``) accepts."""
from __future__ import annotations

import enum
import types
import typing
from datetime import date, datetime
from typing import Any

import sync.messages  # noqa: F401  (registers every record kind)
from kiosk.records import payload_class, payload_fields
from kiosk.schema import RULES, check_payload

TS = "2026-11-22T08:00:00.000+00:00"


def _value(kind: str, name: str, tp: Any) -> Any:
    rule = RULES.get(kind, {}).get(name)
    if rule is not None and rule.choices:
        return rule.choices[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return None
    if typing.get_origin(tp) in (list, tuple, frozenset, set):
        return []
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp)).value
    if tp is datetime:
        return TS
    if tp is date:
        return TS[:10]
    if tp is bool:
        return False
    if tp is int:
        return int(rule.lo) if rule is not None and rule.lo is not None else 1
    if tp is float:
        return 1.0
    return f"{name}-1"


def complete(record_kind: str, /, **given: Any) -> dict[str, Any]:
    """A payload of ``kind``: ``given`` plus every other required field (checked against the schema)."""
    out = {name: _value(record_kind, name, tp) for name, tp, required in payload_fields(payload_class(record_kind))
           if required and name not in given}
    out.update(given)
    check_payload(record_kind, out)
    return out
