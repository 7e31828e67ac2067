"""One schema per record kind, shared by the kiosk (which builds records with it) and the hub (which
checks every payload at its door with it).

A kind's fields and types are its ``@record_kind`` dataclass (:mod:`kiosk.records`); this module adds
what a type alone does not say: lengths, ranges, enumerations, and which ids may not be empty
(:data:`RULES`). Every field has a bound: a text at most :data:`TEXT_MAX` characters unless a rule
says otherwise, a whole number within ±2^53 (exact in every JSON reader), a decimal finite and within ±10^6, a list at most
:data:`LIST_MAX` items. Extra fields, missing fields, wrong types (``true`` is not a number), NaN
and Infinity are refused.

:func:`check_payload` raises :class:`PayloadError` naming the field; :func:`json_schema` exports the
same rules as JSON Schema (draft 2020-12) for integrators.

Checks are compiled once per kind into plain closures: the hub runs them on every record it receives.
"""
from __future__ import annotations

import dataclasses
import json
import enum
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kiosk.records import MAX_PAYLOAD_BYTES, PayloadError, UnknownRecordKind, payload_class, payload_fields

TEXT_MAX = 200
LIST_MAX = 64
INT_MIN, INT_MAX = -(2 ** 53), 2 ** 53
FLOAT_MAX = 1e6
#: The most hours one record may move or credit: a day's possible work.
DAY_HOURS = 24.0


@dataclass(frozen=True)
class Rule:
    """Bounds of one field beyond its type: text length, numeric range, allowed values."""

    min_len: int = 0
    max_len: int | None = None
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] | None = None


_ID = Rule(min_len=1, max_len=64)
_KEY = Rule(min_len=1, max_len=128)
_HOURS = Rule(lo=0, hi=DAY_HOURS)
_COUNT = Rule(lo=0, hi=100_000)
_NOTE = Rule(max_len=1000)
#: The ids of :data:`kiosk.community.kinds.CANCEL_REASONS` and :data:`kiosk.timebank.kinds.MOVEMENT_KINDS`
#: (written out here: this module sits below the kind modules; a test keeps them equal).
CANCEL_REASONS = ("not_needed", "solved", "time", "staff", "no_volunteer")
MOVEMENT_KINDS = ("earn", "spend", "transfer", "adjust")
#: Ratings of :data:`kiosk.timebank.kinds.RATINGS` (好差评, 1-5).
_RATING = Rule(choices=(1, 2, 3, 4, 5))

#: kind -> field -> rule. A required field whose name ends in ``_id`` that no rule names must not be
#: empty and is at most 64 characters.
RULES: dict[str, dict[str, Rule]] = {
    "service_request": {"number": Rule(min_len=1, max_len=16), "person_key": _KEY, "note": _NOTE},
    "request_claimed": {},
    "request_done": {"hours": Rule(lo=0.25, hi=DAY_HOURS)},
    "request_cancelled": {"by": Rule(choices=("resident", "staff")),
                          "reason": Rule(choices=CANCEL_REASONS)},
    "activity_signup": {"person_key": _KEY},
    "activity_cancelled": {"person_key": _KEY},
    "activity_attended": {"person_key": _KEY},
    "activity_promotion_seen": {"person_key": _KEY},
    "family_linked": {"volunteer_key": _KEY, "family_key": _KEY},
    "family_unlinked": {"family_key": _KEY, "by": Rule(max_len=32)},
    "wish_posted": {"person_key": _KEY, "phrase": _NOTE},
    "volunteer_check_in": {"mono_s": Rule(lo=-1e12, hi=1e12)},
    "volunteer_check_out": {"hours": _HOURS, "proposed_hours": _HOURS, "raw_minutes": Rule(lo=0, hi=60 * 24 * 31),
                            "clock": Rule(choices=("monotonic", "wall", "default"))},
    "volunteer_service": {"hours": _HOURS, "minutes": Rule(lo=0, hi=60 * 24)},
    "service_confirmation": {"hours": _HOURS, "rating": _RATING},
    "service_follow_up": {"rating": _RATING},
    "ledger_movement": {"kind": Rule(choices=MOVEMENT_KINDS), "hours": Rule(lo=0.25, hi=DAY_HOURS), "debit": Rule(min_len=1, max_len=160),
                        "credit": Rule(min_len=1, max_len=160), "note": _NOTE,
                        "source": Rule(max_len=32)},
    "volunteer_registered": {"name": Rule(min_len=1, max_len=64)},
    "card_rebound": {},
    "consent_withdrawn": {"person_key": _KEY, "erased_count": _COUNT},
    "consent": {"person_key": _KEY},
    "care_consent": {"person_key": _KEY},
    "visit": {},
    "person_key_linked": {"old_key": _KEY, "new_key": _KEY},
    "token_used": {},
    # Staff actions at the station (settings, diagnostics): the detail is bounded by the payload limit.
    "admin_event": {"detail": Rule(max_len=MAX_PAYLOAD_BYTES)},
    "bp_measurement": {"systolic": Rule(lo=0, hi=400), "diastolic": Rule(lo=0, hi=400), "pulse": Rule(lo=0, hi=400),
                       "grade": Rule(lo=0, hi=10), "person_key": _KEY},
    "glucose_measurement": {"mmol_l": Rule(lo=0, hi=100), "device_value": Rule(lo=0, hi=2000), "person_key": _KEY},
    "health_alert": {"person_key": _KEY},
    "health_session_opened": {},
    "health_session_closed": {"residents_measured": _COUNT, "measurements": _COUNT, "abnormal": _COUNT,
                              "urgent": _COUNT},
}

Check = Callable[[Any, str], Any]


def _fail(where: str, text: str) -> PayloadError:
    err = PayloadError(f"{where}: {text}")
    err.field = where.split(".", 1)[1] if "." in where else where
    return err


def _bounded(check: Check, rule: Rule) -> Check:
    lo, hi, choices = rule.lo, rule.hi, rule.choices
    min_len, max_len = rule.min_len, rule.max_len

    def bounded(value: Any, where: str) -> Any:
        value = check(value, where)
        if value is None:
            return value
        if choices is not None and value not in choices:
            raise _fail(where, f"{str(value)[:40]!r} is not one of {', '.join(map(str, choices))}")
        if isinstance(value, str):
            if len(value) < min_len:
                raise _fail(where, "must not be empty")
            if max_len is not None and len(value) > max_len:
                raise _fail(where, f"longer than {max_len} characters")
        elif isinstance(value, (int, float)) and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            raise _fail(where, f"{value!r} is outside {lo}..{hi}")
        return value
    return bounded


def _text(value: Any, where: str) -> Any:
    if type(value) is not str:
        raise _fail(where, f"expected a text, got {type(value).__name__}")
    if len(value) > TEXT_MAX:
        raise _fail(where, f"longer than {TEXT_MAX} characters")
    return value


def _long_text(value: Any, where: str) -> Any:
    if type(value) is not str:
        raise _fail(where, f"expected a text, got {type(value).__name__}")
    return value


def _int(value: Any, where: str) -> Any:
    if type(value) is not int:
        raise _fail(where, f"expected a whole number, got {type(value).__name__}")
    if not INT_MIN <= value <= INT_MAX:
        raise _fail(where, "whole number out of range")
    return value


def _float(value: Any, where: str) -> Any:
    if type(value) is int:
        value = float(value)
    if type(value) is not float:
        raise _fail(where, f"expected a number, got {type(value).__name__}")
    if not (math.isfinite(value) and -FLOAT_MAX <= value <= FLOAT_MAX):
        raise _fail(where, "number not finite or out of range")
    return value


def _bool(value: Any, where: str) -> Any:
    if type(value) is not bool:
        raise _fail(where, f"expected true/false, got {type(value).__name__}")
    return value


def _iso(parse: Callable[[str], Any]) -> Check:
    def check(value: Any, where: str) -> Any:
        if type(value) is not str or len(value) > 40:
            raise _fail(where, "expected an ISO 8601 text")
        try:
            parse(value)
        except ValueError:
            raise _fail(where, f"{value[:40]!r} is not an ISO 8601 time") from None
        return value
    return check


def _enum(tp: type[enum.Enum]) -> Check:
    values = tuple(m.value for m in tp)

    def check(value: Any, where: str) -> Any:
        if type(value) not in (str, int) or value not in values:
            raise _fail(where, f"{str(value)[:40]!r} is not a {tp.__name__}")
        return value
    return check


def _optional(check: Check) -> Check:
    def opt(value: Any, where: str) -> Any:
        return None if value is None else check(value, where)
    return opt


def _list(item: Check) -> Check:
    def check(value: Any, where: str) -> Any:
        if type(value) is not list:
            raise _fail(where, f"expected a list, got {type(value).__name__}")
        if len(value) > LIST_MAX:
            raise _fail(where, f"more than {LIST_MAX} items")
        for v in value:
            item(v, where)
        return value
    return check


def _checker(tp: Any, long_text: bool) -> Check:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp}")
        return _optional(_checker(args[0], long_text))
    if origin in (list, tuple, frozenset, set):
        (item_tp, *_rest) = typing.get_args(tp)
        return _list(_checker(item_tp, False))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if tp is datetime:
        return _iso(datetime.fromisoformat)
    if tp is date:
        return _iso(date.fromisoformat)
    if tp is bool:
        return _bool
    if tp is int:
        return _int
    if tp is float:
        return _float
    if tp is str:
        return _long_text if long_text else _text
    raise TypeError(f"unsupported payload type {tp}")


@dataclasses.dataclass(frozen=True)
class _Compiled:
    fields: tuple[tuple[str, bool, Check], ...]
    names: frozenset[str]
    required: frozenset[str]
    build: bool
    cls: type


_COMPILED: dict[str, _Compiled] = {}


def _rule_for(kind: str, name: str, tp: Any, required: bool) -> Rule | None:
    rule = RULES.get(kind, {}).get(name)
    if rule is None and required and name.endswith("_id") and tp is str:
        rule = _ID
    return rule


def _compile(kind: str) -> _Compiled:
    cls = payload_class(kind)
    fields = []
    for name, tp, required in payload_fields(cls):
        rule = _rule_for(kind, name, tp, required)
        check = _checker(tp, rule is not None and (rule.max_len or 0) > TEXT_MAX)
        fields.append((name, required, _bounded(check, rule) if rule else check))
    return _Compiled(tuple(fields), frozenset(n for n, _, _ in fields),
                     frozenset(n for n, r, _ in fields if r), "__post_init__" in cls.__dict__, cls)


def check_payload(kind: str, data: Any) -> None:
    """Check a record payload (plain JSON values) against its kind's schema.

    Raises:
        UnknownRecordKind: no such kind.
        PayloadError: the payload does not fit; ``.field`` names the field.
    """
    compiled = _COMPILED.get(kind)
    if compiled is None:
        compiled = _COMPILED[kind] = _compile(kind)
    if type(data) is not dict:
        raise _fail(kind, "payload must be an object")
    keys = data.keys()
    if not compiled.names >= keys:
        extra = sorted(map(str, keys - compiled.names))
        err = PayloadError(f"{kind}: unknown field(s) {', '.join(extra)[:120]}")
        err.field = extra[0][:64]
        raise err
    if not compiled.required <= keys:
        missing = sorted(compiled.required - keys)
        err = PayloadError(f"{kind}: missing field {missing[0]!r}")
        err.field = missing[0]
        raise err
    for name, _, check in compiled.fields:
        if name in data:
            check(data[name], f"{kind}.{name}")
    if compiled.build:          # the kind's own cross-field checks (__post_init__), on the checked plain values
        try:
            compiled.cls(**data)
        except (TypeError, ValueError) as exc:
            err = PayloadError(f"{kind}: {exc}")
            err.field = kind
            raise err from None


def known_kind(kind: str) -> bool:
    """True when ``kind`` has a registered schema."""
    try:
        payload_class(kind)
    except UnknownRecordKind:
        return False
    return True


# --- JSON Schema export ----------------------------------------------------------------------------

def _json_type(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (arg,) = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _json_type(arg)
        return {"anyOf": [inner, {"type": "null"}]}
    if origin in (list, tuple, frozenset, set):
        (item_tp, *_rest) = typing.get_args(tp)
        return {"type": "array", "items": _json_type(item_tp), "maxItems": LIST_MAX}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if tp is datetime:
        return {"type": "string", "format": "date-time", "maxLength": 40}
    if tp is date:
        return {"type": "string", "format": "date", "maxLength": 40}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX}
    if tp is float:
        return {"type": "number", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX}
    return {"type": "string", "maxLength": TEXT_MAX}


def _with_rule(schema: dict[str, Any], rule: Rule) -> dict[str, Any]:
    target = schema["anyOf"][0] if "anyOf" in schema else schema
    if rule.choices is not None:
        target.clear()
        target["enum"] = list(rule.choices)
    elif target.get("type") == "string":
        target["maxLength"] = rule.max_len if rule.max_len is not None else TEXT_MAX
        if rule.min_len:
            target["minLength"] = rule.min_len
    elif target.get("type") in ("integer", "number"):
        if rule.lo is not None:
            target["minimum"] = rule.lo
        if rule.hi is not None:
            target["maximum"] = rule.hi
    return schema


def kind_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind's payload."""
    cls = payload_class(kind)
    props: dict[str, Any] = {}
    required = []
    for name, tp, req in payload_fields(cls):
        schema = _json_type(tp)
        rule = _rule_for(kind, name, tp, req)
        props[name] = _with_rule(schema, rule) if rule else schema
        if req:
            required.append(name)
    return {"type": "object", "title": kind, "description": (cls.__doc__ or "").strip().split("\n")[0],
            "properties": props, "required": required, "additionalProperties": False}


def json_schema(kinds: list[str] | None = None) -> dict[str, Any]:
    """Every kind's payload schema, by kind, as one JSON Schema document (``$defs``)."""
    names = sorted(kinds if kinds is not None else RULES)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://yizhan.example/schemas/record-payloads.json",
            "title": "Yizhan record payloads, by record kind",
            "$defs": {k: kind_schema(k) for k in names}}


def dump_json_schema() -> str:
    """The exported schema as the text of ``docs/schemas/record-payloads.schema.json``."""
    return json.dumps(json_schema(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

