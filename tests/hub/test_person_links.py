"""Issue 27, item 1 (hub side): a ``person_key_linked`` record relabels what the hub holds under the
old person key and is kept without it; the same link resent by a kiosk is a duplicate, not a conflict.
On SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest

from hub.store import HubStore
from kiosk.records import ConsentDecision, PersonKeyLinked, Visit, payload_to_json
from sync.messages import WireRecord, decode_ack, encode_batch

TS = "2026-12-07T08:00:00.000+00:00"
TOPIC = "yizhan/v1/st-a/records"
OLD, NEW = "a1" * 32, "b2" * 32


def _rec(seq: int, payload) -> WireRecord:
    return WireRecord(f"st-a-r{seq}", "st-a", seq, type(payload).KIND, TS, payload_to_json(payload))


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_link_relabels_the_hubs_records_and_keeps_no_old_key(db, tmp_path, request):
    url = request.getfixturevalue("pg_schema_url") if db == "postgresql" else str(tmp_path / "hub.sqlite3")
    store = HubStore(url, name="hub-links")
    try:
        before = [_rec(1, ConsentDecision(person_key=OLD, granted=True)),
                  _rec(2, Visit(person_key=OLD, source="idcard", role="resident", age_band="70-79"))]
        assert decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b1", before)).payload).stored == 2
        link = [_rec(3, PersonKeyLinked(old_key=OLD, new_key=NEW))]
        assert decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b2", link)).payload).stored == 1
        again = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b3", link)).payload)
        assert (again.duplicates, again.refused) == (1, ())                  # resent after a lost ack
        with store.engine.connect() as conn:
            payloads = [p for (p,) in conn.exec_driver_sql("SELECT payload FROM hub_records")]
            people = {k for (k,) in conn.exec_driver_sql("SELECT person_key FROM hub_person_records")}
        assert not [p for p in payloads if OLD in p]
        assert sum(NEW in p for p in payloads) == 3 and OLD not in people and NEW in people
        assert store.conflicts("st-a") == []
    finally:
        store.close()
