"""Wire formats: round trips, a table of bad messages and their typed errors, hypothesis fuzzing."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.privacy import id_check_char
from sync import documents as docs
from sync import messages as msg
from sync import screening
from sync import status as status_msg
from sync.messages import (Ack, MalformedMessage, MessageError, MessageTooLarge, PrivacyRejected, SchemaError,
                           StationMismatch, UnsupportedVersion, WireRecord)
from sync.status import Status
from tests.support.signing import HUB_KEY, signed

TS = "2026-11-22T08:00:00.000+00:00"


def rec(i: int, station: str = "st-a", payload: str = '{"person_key":"k","role":"resident","source":"qr"}',
        kind: str = "visit"):
    return WireRecord(f"r-{i}", station, i, kind, TS, payload)


def full_id() -> str:
    first = "11010519491231002"
    return first + id_check_char(first)


def test_batch_round_trip_keeps_payload_text_and_chinese():
    records = [rec(1), rec(2, payload='{"detail":"血压 135/85","action":"x"}', kind="admin_event")]
    raw = msg.encode_batch("st-a", "b1", records)
    assert raw.startswith(b'{"v":1,"station":"st-a","batch":"b1","records":[{"id":"r-1"')
    assert "血压".encode() in raw
    batch = msg.decode_batch(raw, "st-a")
    assert batch.batch_id == "b1" and batch.records == tuple(records) and batch.rejected == ()


def test_bad_records_are_set_aside_one_by_one():
    good = json.loads(rec(1).to_json())
    bad_seq = dict(good, id="r-2", seq=0)
    other = dict(good, id="r-3", station="st-b")
    leak = dict(good, id="r-4", payload={"note": f"id {full_id()}"})
    raw = json.dumps({"v": 1, "station": "st-a", "batch": "b", "records": [good, bad_seq, other, leak, 7]})
    batch = msg.decode_batch(raw.encode(), "st-a")
    assert [r.id for r in batch.records] == ["r-1"]
    reasons = {index: reason for index, _rid, reason, _text in batch.rejected}
    assert set(reasons) == {1, 2, 3, 4}
    assert "seq" in reasons[1] and "names station" in reasons[2] and "ID number" in reasons[3]
    assert all(full_id() not in reason for reason in reasons.values())


@pytest.mark.parametrize("raw, error", [
    (b"\xff\xfe", MalformedMessage),
    (b"{not json", MalformedMessage),
    (b"[1,2]", MalformedMessage),
    (b'{"v":2,"station":"st-a","batch":"b","records":[]}', UnsupportedVersion),
    (b'{"station":"st-a","batch":"b","records":[]}', SchemaError),
    (b'{"v":1,"station":"st-a","batch":"b"}', SchemaError),
    (b'{"v":1,"station":"st-a","batch":"b","records":{}}', SchemaError),
    (b'{"v":1,"station":"st/#","batch":"b","records":[]}', SchemaError),
    (b'{"v":1,"station":"st-a","batch":"a b","records":[]}', SchemaError),
    (b'{"v":1,"station":"st-a","batch":"b","records":[],"x":1}', SchemaError),
    (b'{"v":1,"station":"st-b","batch":"b","records":[]}', StationMismatch),
    (b'{"v":true,"station":"st-a","batch":"b","records":[]}', SchemaError),
])
def test_bad_batches_raise_typed_errors(raw, error):
    with pytest.raises(error):
        msg.decode_batch(raw, "st-a")


def test_oversized_batch_is_refused_before_parsing():
    raw = b'{"v":1,' + b" " * msg.MAX_BATCH_BYTES + b"}"
    with pytest.raises(MessageTooLarge):
        msg.decode_batch(raw, "st-a")
    with pytest.raises(MessageTooLarge):
        msg.encode_batch("st-a", "b", [rec(i, payload='{"x":"' + "y" * 60000 + '"}') for i in range(1, 80)])


def test_ack_and_status_round_trip():
    ack = Ack("b1", 3, 2, 1, ((4, "conflict"),))
    assert msg.decode_ack(msg.encode_ack(ack)) == ack
    status = Status("st-a", "online", TS, "0.1.0", 12, TS, TS, True, {"config": 3})
    assert status_msg.decode_status(status_msg.encode_status(status), "st-a") == status
    offline = Status("st-a", "offline", TS)
    assert status_msg.decode_status(status_msg.encode_status(offline)) == offline
    with pytest.raises(StationMismatch):
        status_msg.decode_status(status_msg.encode_status(status), "st-b")
    with pytest.raises(SchemaError):
        msg.decode_ack(b'{"v":1,"batch":"b","stored":-1,"dup":0,"rejected":0}')


ROSTER = {"volunteers": [{"id": "v1", "name": "王*明", "card_uid": "04A1B2C3", "teams": ["red"]},
                         {"id": "v2", "name": "李*", "person_key": "a" * 64}],
          "teams": [{"id": "red", "name": "党旗红"}]}


def test_documents_validate_their_body():
    doc = docs.sign_document(docs.make_document("roster", 3, "st-a", TS, ROSTER), HUB_KEY)
    assert docs.decode_document(docs.encode_document(doc), "roster", "st-a", public_key=HUB_KEY.public_key()) == doc
    catalog = {"services": [{"id": "bp", "name": "血压"}], "announcements": [{"id": "a", "text": "义诊 周六"}]}
    assert docs.make_document("catalog", 1, msg.ALL_STATIONS, TS, catalog).body == catalog
    assert docs.make_document("config", 1, "st-a", TS, {"ui": {"idle_reset_s": 90}}).version == 1


@pytest.mark.parametrize("doc_type, body, error", [
    ("roster", {"volunteers": [{"id": "v1", "name": "x"}]}, SchemaError),                 # no card or key
    ("roster", {"volunteers": [{"id": "v1", "name": "x", "card_uid": "zz"}]}, SchemaError),
    ("roster", {"volunteers": [{"id": "v1", "name": "x", "person_key": "ab"}]}, SchemaError),
    ("roster", {"volunteers": [{"id": "v", "name": "x", "card_uid": "0401"}] * 2}, SchemaError),
    ("roster", {"volunteers": [{"id": "v1", "name": full_id(), "card_uid": "0401"}]}, PrivacyRejected),
    ("catalog", {"services": [{"id": "bp"}]}, SchemaError),
    ("catalog", {"menu": []}, SchemaError),
    ("config", {"ui": 5}, SchemaError),
    ("forms", {}, SchemaError),
])
def test_bad_documents_are_refused(doc_type, body, error):
    with pytest.raises(error):
        docs.make_document(doc_type, 1, "st-a", TS, body)


def test_document_for_another_station_or_type_is_refused():
    raw = signed(docs.make_document("roster", 1, "st-a", TS, ROSTER))
    with pytest.raises(StationMismatch):
        docs.decode_document(raw, "roster", "st-b", public_key=HUB_KEY.public_key())
    with pytest.raises(SchemaError):
        docs.decode_document(raw, "catalog", "st-a", public_key=HUB_KEY.public_key())


# --- fuzzing: only the module's own typed errors may escape -------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                             children, max_size=4),
                           max_leaves=20)
record_like = st.fixed_dictionaries({"id": st.text(max_size=10) | st.integers(), "station": st.sampled_from(["st-a", "x"]),
                                     "seq": st.integers(-2, 2**63) | st.text(max_size=3), "kind": st.text(max_size=10),
                                     "ts": st.sampled_from([TS, "2026-11-22", "nope", 5]), "payload": json_values},
                                    optional={"extra": json_values})
batch_like = st.fixed_dictionaries({"v": st.sampled_from([1, 1, 2, "1", None]), "station": st.sampled_from(["st-a", "st-b", "", 3]),
                                    "batch": st.text(max_size=12), "records": st.lists(record_like, max_size=4) | json_values})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_decoders_with_bytes(raw):
    for decode in (lambda r: msg.decode_batch(r, "st-a"), msg.decode_ack, status_msg.decode_status,
                   lambda r: docs.decode_document(r, "roster", "st-a", public_key=HUB_KEY.public_key())):
        try:
            decode(raw)
        except MessageError:
            pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch_like)
def test_fuzz_batch_structure(doc):
    raw = json.dumps(doc).encode()
    try:
        batch = msg.decode_batch(raw, "st-a")
    except MessageError:
        return
    assert len(batch.records) + len(batch.rejected) == len(doc["records"])
    for r in batch.records:
        assert r.station == "st-a" and isinstance(r.seq, int) and json.loads(r.payload_json) == \
            next(x["payload"] for x in doc["records"] if x["id"] == r.id)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789abcdefX -\"", max_size=80), st.integers(0, 80), st.booleans())
def test_fast_id_scan_agrees_with_the_exact_check(text, at, insert):
    from kiosk.privacy import contains_id_number
    if insert:
        text = text[:at] + full_id() + text[at:]
    assert screening._digit_runs_hold_id(text) == contains_id_number(text)
