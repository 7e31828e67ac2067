"""Issue 22 item 1: the exported JSON Schema of record payloads agrees with the code that checks them.

The file integrators get (``docs/schemas/record-payloads.schema.json``) is exactly what the code
exports, names every record kind the hub accepts with the fields of its dataclass, and decides like
:func:`kiosk.schema.check_payload` on thousands of generated payloads (read by a small interpreter of
the JSON Schema keywords the export uses)."""
from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sync.messages  # noqa: F401  (registers every record kind)
from kiosk.records import PayloadError, payload_class, payload_fields
from kiosk.schema import RULES, check_payload, dump_json_schema
from tests.support.payloads import complete

ROOT = Path(__file__).resolve().parents[2]
EXPORTED = ROOT / "docs" / "schemas" / "record-payloads.schema.json"
SCHEMA = json.loads(EXPORTED.read_text(encoding="utf-8"))
#: Kinds with cross-field checks JSON Schema cannot say (``__post_init__``): the schema may accept
#: more of them than the code does, never less.
CROSS_FIELD = {k for k in RULES if "__post_init__" in payload_class(k).__dict__}


def test_the_exported_file_is_what_the_code_exports():
    assert EXPORTED.read_text(encoding="utf-8") == dump_json_schema(), \
        "regenerate it: python -m sync.record_schema > docs/schemas/record-payloads.schema.json"


def test_every_kind_has_its_dataclass_fields():
    assert sorted(SCHEMA["$defs"]) == sorted(RULES)
    for kind, schema in SCHEMA["$defs"].items():
        fields = payload_fields(payload_class(kind))
        assert sorted(schema["properties"]) == sorted(n for n, _, _ in fields), kind
        assert sorted(schema["required"]) == sorted(n for n, _, r in fields if r), kind
        assert schema["additionalProperties"] is False


def _valid(schema: dict[str, Any], value: Any) -> bool:
    """The JSON Schema keywords the export uses, applied to ``value``."""
    if "anyOf" in schema:
        return any(_valid(s, value) for s in schema["anyOf"])
    if "enum" in schema:
        return type(value) in (str, int) and value in schema["enum"]
    kind = schema.get("type")
    if kind == "null":
        return value is None
    if kind == "boolean":
        return type(value) is bool
    if kind == "string":
        return type(value) is str and schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", math.inf)
    if kind in ("integer", "number"):
        if type(value) is not int and not (kind == "number" and type(value) is float):
            return False
        return math.isfinite(value) and schema.get("minimum", -math.inf) <= value <= schema.get("maximum", math.inf)
    if kind == "array":
        return (type(value) is list and len(value) <= schema.get("maxItems", math.inf)
                and all(_valid(schema["items"], v) for v in value))
    if kind == "object":
        return (type(value) is dict and set(schema["required"]) <= value.keys()
                and (schema.get("additionalProperties", True) or value.keys() <= schema["properties"].keys())
                and all(_valid(schema["properties"][k], v) for k, v in value.items() if k in schema["properties"]))
    raise AssertionError(f"keyword not interpreted: {schema}")


def _format_ok(schema: dict[str, Any], payload: Any) -> bool:
    """``format`` (date-time, date) is an annotation in JSON Schema: the code checks it; so does this."""
    if type(payload) is not dict:
        return True
    for name, value in payload.items():
        prop = schema["properties"].get(name, {})
        prop = prop["anyOf"][0] if "anyOf" in prop else prop
        parse = {"date-time": datetime.fromisoformat, "date": date.fromisoformat}.get(prop.get("format", ""))
        if parse and isinstance(value, str):
            try:
                parse(value)
            except ValueError:
                return False
    return True


_values = (st.none() | st.booleans() | st.integers(-10, 10 ** 6) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=80) | st.sampled_from(["", "x" * 300, 25.0, 0.25, -1, 1e7, "2026-11-22T08:00:00+00:00"])
           | st.lists(st.text(max_size=5), max_size=3))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(sorted(RULES)))
    payload = complete(kind)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["set", "drop", "extra"]))
        if how == "set":
            payload[draw(st.sampled_from(sorted(payload) or ["x"]))] = draw(_values)
        elif how == "drop" and payload:
            del payload[draw(st.sampled_from(sorted(payload)))]
        elif how == "extra":
            payload[draw(st.text(min_size=1, max_size=8))] = draw(_values)
    return kind, payload


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(_cases())
def test_the_schema_and_the_code_decide_alike(case):
    kind, payload = case
    schema = SCHEMA["$defs"][kind]
    by_schema = _valid(schema, payload) and _format_ok(schema, payload)
    try:
        check_payload(kind, payload)
        by_code = True
    except PayloadError:
        by_code = False
    if kind in CROSS_FIELD:
        assert by_schema or not by_code, (kind, payload)
    else:
        assert by_schema == by_code, (kind, payload, by_schema, by_code)


@pytest.mark.parametrize("kind, payload, field", [
    ("request_done", {"request_id": "r", "volunteer_id": "v", "service_id": "s", "hours": 1e30}, "hours"),
    ("ledger_movement", {"movement_id": "m", "kind": "earn", "debit": "a", "credit": "b", "hours": float("nan"),
                         "reference": "x"}, "hours"),
    ("service_request", {"request_id": "r"}, "display_name"),
    ("family_linked", {"volunteer_id": "v", "volunteer_key": "k", "family_key": "f", "display_name": "d",
                       "extra": 1}, "extra"),
    ("request_claimed", {"request_id": "", "volunteer_id": "v"}, "request_id"),
    ("activity_signup", {"activity_id": "a", "person_key": "p", "display_name": "x" * 201}, "display_name"),
])
def test_a_refusal_names_the_field(kind, payload, field):
    with pytest.raises(PayloadError) as err:
        check_payload(kind, payload)
    assert err.value.field == field


def test_the_enumerations_written_out_in_the_schema_are_the_kind_modules_own():
    from kiosk import schema
    from kiosk.community.kinds import CANCEL_REASONS
    from kiosk.timebank.kinds import MOVEMENT_KINDS, RATINGS
    assert schema.CANCEL_REASONS == tuple(CANCEL_REASONS)
    assert schema.MOVEMENT_KINDS == MOVEMENT_KINDS
    assert schema.RULES["service_confirmation"]["rating"].choices == tuple(sorted(RATINGS))
