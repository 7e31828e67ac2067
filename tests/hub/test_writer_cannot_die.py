"""Issue 22 item 2: the hub's writer cannot die. Thousands of generated payloads over every record
kind — wrong types, missing and extra fields, huge and non-finite numbers, deep nesting, long
strings, and well-typed but odd values that reach the folds — sent with one station's login to a
real hub process behind the shipped broker set-up: the hub stays up and keeps acknowledging a
well-behaved station throughout, and acknowledges every batch of the attacker too."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prometheus_client import generate_latest

from hub import requests as hub_requests
from hub.metrics import HubMetrics
from hub.store import HubStore
from kiosk.schema import RULES
from sync.messages import MAX_BATCH_BYTES, WireRecord, decode_ack, encode_batch
from tests.hub.test_door_attacks import acks, broker, db_rows, hub, raw_station, send  # noqa: F401
from tests.support.broker import tools_missing
from tests.support.payloads import complete
from tests.support.services import wait_for

KINDS = sorted(RULES)
TS = "2026-11-22T08:00:00.000+00:00"
BATCH = 25

_scalars = (st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=80)
            | st.sampled_from([1e30, -1e30, 2 ** 63, "", "x" * 5000, "三一〇一〇四一九五〇", "\u0000\ud7ff"]))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


_values = _json | st.integers(min_value=20, max_value=300).map(_nested)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, Any]:
    """A record kind and a payload for it: valid, oddly valid, or broken in one of many ways."""
    kind = draw(st.sampled_from(KINDS))
    base = complete(kind)
    how = draw(st.sampled_from(["odd", "drop", "extra", "replace", "empty", "not_object"]))
    if how == "odd":                 # the right types, values of the attacker's choosing
        for name, value in list(base.items()):
            if isinstance(value, str) and draw(st.booleans()):
                base[name] = draw(st.text(min_size=1, max_size=40))
            elif type(value) is float:
                base[name] = draw(st.sampled_from([0.25, 8.0, 24.0]))
    elif how == "drop" and base:
        del base[draw(st.sampled_from(sorted(base)))]
    elif how == "extra":
        base[draw(st.text(min_size=1, max_size=20))] = draw(_values)
    elif how == "replace" and base:
        base[draw(st.sampled_from(sorted(base)))] = draw(_values)
    elif how == "empty":
        base = {}
    elif how == "not_object":
        return kind, draw(_values)
    return kind, base


def _record(station: str, seq: int, kind: str, payload: Any) -> dict[str, Any]:
    return {"id": f"{station}-{uuid.uuid4().hex[:12]}", "station": station, "seq": seq, "kind": kind, "ts": TS,
            "payload": payload}


def _wait_ack(client, batch_id: str):
    found: list = []
    wait_for(lambda: found.extend(a for a in acks(client) if a.batch_id == batch_id) or found, 20)
    return found[0] if found else None


@pytest.mark.services
@pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "-")
def test_generated_payloads_of_every_kind_never_stop_the_hub(broker, hub):    # noqa: F811
    attacker, good = raw_station(broker, "st-a"), raw_station(broker, "st-b")
    rounds = {"n": 0, "seq_a": 0}
    try:
        @settings(max_examples=80, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.lists(payloads(), min_size=BATCH, max_size=BATCH))
        def attack(generated: list[tuple[str, Any]]) -> None:
            records = []
            for kind, payload in generated:
                rounds["seq_a"] += 1
                records.append(_record("st-a", rounds["seq_a"], kind, payload))
            batch_id = f"a-{uuid.uuid4().hex[:10]}"
            body = json.dumps({"v": 1, "station": "st-a", "batch": batch_id, "records": records},
                              allow_nan=True).encode()
            send(attacker, "st-a", batch_id, [], raw=body)
            rounds["n"] += 1
            good_id = f"b-{rounds['n']}"
            send(good, "st-b", good_id, [_record("st-b", rounds["n"], "admin_event",
                                                 {"action": "note", "detail": f"round {rounds['n']}"})])
            ack = _wait_ack(good, good_id)
            assert ack is not None and ack.stored == 1, f"the well-behaved station was not acknowledged in round {rounds['n']}"
            mine = _wait_ack(attacker, batch_id)
            if len(body) <= MAX_BATCH_BYTES:          # a bigger message is set aside whole, unacked
                assert mine is not None, f"the attacker's batch {batch_id} got no ack"
                assert mine.stored + mine.duplicates + mine.rejected == BATCH

        attack()
    finally:
        attacker.close()
        good.close()
    assert hub.proc.poll() is None
    assert rounds["n"] >= 80
    assert db_rows(hub.db, "SELECT count(*) FROM hub_records WHERE station = 'st-b'")[0][0] == rounds["n"]


def test_a_batch_whose_fold_raises_is_set_aside_counted_and_the_next_one_is_stored(tmp_path, monkeypatch):
    """Whatever a fold raises, that batch is refused whole (dead letters, every record ``invalid``),
    ``failed_batches`` counts it, and the store goes on with the next batch."""
    store = HubStore(str(tmp_path / "hub.sqlite3"))
    try:
        def boom(conn, records, arrived=None):
            if any(r.id == "poison" for r in records):
                raise KeyError("request_id")
            return set()
        monkeypatch.setattr(hub_requests, "apply_records", boom)
        note = '{"action":"note","detail":"x"}'
        bad = encode_batch("st-a", "b1", [WireRecord("poison", "st-a", 1, "admin_event", TS, note),
                                          WireRecord("ok-1", "st-a", 2, "admin_event", TS, note)])
        ack = decode_ack(store.handle_records("yizhan/v1/st-a/records", "st-a", bad).payload)
        assert (ack.stored, ack.refused) == (0, ((0, "invalid"), (1, "invalid")))
        assert store.failed_batches == 1 and store.count_records() == 0
        assert len(store.dead_letters("st-a")) == 2
        scraped = generate_latest(HubMetrics(store).registry).decode()
        assert "yizhan_hub_batches_failed_total 1.0" in scraped
        good = encode_batch("st-b", "b2", [WireRecord("ok-2", "st-b", 1, "admin_event", TS, note)])
        assert decode_ack(store.handle_records("yizhan/v1/st-b/records", "st-b", good).payload).stored == 1
    finally:
        store.close()
