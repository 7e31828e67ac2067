"""A resident found by person key through ``hub_person_records``: by prefix, once per record, not
through erased records, and by an index search whatever the history (SQLite's own query plan)."""
from __future__ import annotations

import json

from sqlalchemy import event, func, select

from hub import models as m
from hub import residents
from hub.store import HubStore
from sync.messages import WireRecord, encode_batch
from tests.support.payloads import complete

TS = "2026-11-22T08:00:00.000+00:00"
ANNA, BO = "a1" * 32, "a2" * 32


def record(i: int, kind: str, **payload) -> WireRecord:
    return WireRecord(f"st-a-{i}", "st-a", i, kind, TS, json.dumps(complete(kind, **payload)))


def test_find_history_and_withdrawal_go_through_the_person_index(tmp_path):
    store = HubStore(str(tmp_path / "hub.sqlite3"))
    try:
        batch = [record(1, "bp_measurement", person_key=ANNA, systolic=120, diastolic=80),
                 record(2, "service_confirmation", resident_key=ANNA, rating=5),
                 record(3, "visit", person_key=BO, role="resident", source="qr"),
                 record(4, "volunteer_check_in", person_key=ANNA)]          # not a kind of the resident pages
        store.handle_records("yizhan/v1/st-a/records", "st-a", encode_batch("st-a", "b1", batch))
        statements: list[tuple[str, tuple]] = []
        event.listen(store.engine, "before_cursor_execute",
                     lambda conn, cursor, sql, params, context, many: statements.append((sql, params)))
        found = residents.find(store.engine, "a1a1a1a1", None)
        assert [(e["person_key"], e["records"]) for e in found] == [(ANNA, 2)]     # each record once
        assert {e["person_key"] for e in residents.find(store.engine, "a1a1a1a1", None)} == {ANNA}
        assert [h["id"] for h in residents.history(store.engine, BO, None)] == ["st-a-3"]
        assert residents.find(store.engine, "a1a1a1a1", ("st-b",)) == []               # another station's staff
        with store.engine.connect() as conn:
            reads = [(sql, params) for sql, params in statements if "hub_person_records" in sql]
            assert len(reads) == 4
            for sql, params in reads:
                plan = " ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
                assert "SEARCH hub_person_records USING" in plan and "SCAN hub_records" not in plan, plan
        assert residents.withdraw_consent(store.engine, ANNA, None, actor="zhang") == 1
        with store.engine.connect() as conn:
            kinds = [k for (k,) in conn.execute(select(m.person_records.c.kind)
                                                .where(m.person_records.c.person_key == ANNA))]
            erased = conn.execute(select(func.count()).select_from(m.records)
                                  .where(~m.LIVE)).scalar_one()
        assert kinds == ["service_confirmation"] and erased == 1      # nothing links her to the erased record
        assert [h["kind"] for h in residents.history(store.engine, ANNA, None)] == ["service_confirmation"]
    finally:
        store.close()
