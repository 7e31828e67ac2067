"""The outbox (kiosk/outbox.py) on a real journal file: order, byte-split batches, acks that name
refused records, restarts, pruning, and the journal migration that taught it 'rejected'."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.journal import MIGRATIONS, Journal, RecordRefused
from kiosk.outbox import BATCH_OVERHEAD, RECORD_OVERHEAD, Outbox
from kiosk.records import MAX_PAYLOAD_BYTES, AdminEvent, Visit

BIG = 4 * 1024 * 1024


@dataclass
class Kiosk:
    journal: Journal
    outbox: Outbox

    def add(self, payload, priority=None) -> str:
        return self.journal.append(payload, priority=priority).record.id

    def reopen(self) -> Outbox:
        self.outbox.close()
        self.outbox = Outbox(self.journal.path)
        return self.outbox


@pytest.fixture()
def kiosk(tmp_path):
    path = tmp_path / "journal.sqlite3"
    k = Kiosk(Journal(path, "st-a"), Outbox(path))
    yield k
    k.outbox.close()
    k.journal.close()


def visit(i):
    return Visit(person_key=f"{i:064x}", source="idcard", role="resident")


def test_batches_leave_in_order_and_only_acks_mark_them_synced(kiosk):
    ids = [kiosk.add(visit(i)) for i in range(5)]
    ob = kiosk.outbox
    first, second = ob.claim_batch(3, BIG), ob.claim_batch(3, BIG)
    assert [r.id for r in first.records] == ids[:3] and [r.id for r in second.records] == ids[3:]
    assert ob.claim_batch(3, BIG) is None
    assert ob.stats().depth == 5 and ob.stats().inflight == 5
    assert ob.settle(first.batch_id) == (3, 0)
    assert ob.settle(first.batch_id) == (0, 0)                     # a second ack changes nothing
    assert ob.settle("no-such-batch") == (0, 0)
    assert ob.settle(second.batch_id) == (2, 0)
    stats = ob.stats()
    assert stats.depth == 0 and stats.last_ack is not None and stats.oldest_unsynced is None


def test_urgent_rows_jump_the_queue_then_seq_order(kiosk):
    normal = [kiosk.add(visit(i)) for i in range(3)]
    urgent = kiosk.add(AdminEvent(action="alert"), priority=10)
    batch = kiosk.outbox.claim_batch(2, BIG)
    assert [r.id for r in batch.records] == [urgent, normal[0]]


def test_refused_records_stay_rejected_and_visible_the_rest_is_acked(kiosk):
    ids = [kiosk.add(visit(i)) for i in range(4)]
    ob = kiosk.outbox
    batch = ob.claim_batch(10, BIG)
    assert ob.settle(batch.batch_id, {1: "conflict", 3: "invalid", 9: "invalid"}) == (2, 2)
    stats = ob.stats(count_kept=True)
    assert stats.depth == 0 and stats.rejected == 2 and stats.acked_kept == 2 and ob.stats().acked_kept == 0
    assert {(r.record_id, r.reason) for r in ob.rejected_rows()} == {(ids[1], "conflict"), (ids[3], "invalid")}
    assert kiosk.journal.pending_count() == 2                       # not synced
    assert ob.requeue_rejected() == 2                               # offered again at the next start
    again = ob.claim_batch(10, BIG)
    assert [r.id for r in again.records] == [ids[1], ids[3]]


def test_batches_are_split_by_bytes_and_never_exceed_the_limit(kiosk):
    ids = [kiosk.add(AdminEvent(action="note", detail="x" * 30_000)) for _ in range(10)]
    limit = BATCH_OVERHEAD + 3 * (30_050 + RECORD_OVERHEAD) + MAX_PAYLOAD_BYTES
    sizes = []
    while (batch := kiosk.outbox.claim_batch(200, limit)) is not None:
        sizes.append(len(batch))
    assert sum(sizes) == len(ids) and max(sizes) <= 5 and len(sizes) >= 2
    with pytest.raises(ValueError):
        kiosk.outbox.claim_batch(1, MAX_PAYLOAD_BYTES)              # could not hold one allowed record


def test_an_oversized_record_is_refused_when_journaled(kiosk):
    with pytest.raises(RecordRefused, match="over the limit"):
        kiosk.add(AdminEvent(action="note", detail="x" * (MAX_PAYLOAD_BYTES + 1)))
    assert kiosk.journal.count() == 0 and kiosk.outbox.stats().depth == 0


def test_a_legacy_oversized_row_is_set_aside_instead_of_blocking(kiosk):
    ids = [kiosk.add(visit(i)) for i in range(2)]
    con = sqlite3.connect(kiosk.journal.path)                        # written before the journal refused it
    con.execute("DROP TRIGGER records_immutable")
    con.execute("UPDATE records SET payload = ? WHERE id = ?", ('{"detail":"' + "x" * MAX_PAYLOAD_BYTES + '"}', ids[0]))
    con.commit()
    con.close()
    batch = kiosk.outbox.claim_batch(10, BIG)
    assert [r.id for r in batch.records] == [ids[1]]
    assert [(r.record_id, r.reason) for r in kiosk.outbox.rejected_rows()] == [(ids[0], "too_large")]
    assert kiosk.outbox.requeue_rejected() == 0                     # never offered again


def test_requeue_stale_makes_inflight_rows_ready_again(kiosk):
    ids = [kiosk.add(visit(i)) for i in range(3)]
    ob = kiosk.outbox
    batch = ob.claim_batch(10, BIG)
    assert ob.requeue_stale(3600) == 0                             # not stale yet
    assert ob.requeue_stale(0) == 3
    assert ob.stats().inflight == 0 and ob.stats().depth == 3
    assert ob.settle(batch.batch_id) == (0, 0)                     # a late ack for the old batch
    fresh = ob.claim_batch(10, BIG)
    assert fresh.batch_id != batch.batch_id and [r.id for r in fresh.records] == ids


def test_prune_removes_only_acked_rows_past_retention(kiosk):
    for i in range(4):
        kiosk.add(visit(i))
    ob = kiosk.outbox
    ob.settle(ob.claim_batch(2, BIG).batch_id)
    assert ob.prune(30) == 0
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert ob.prune(30, now=later) == 2
    stats = ob.stats(count_kept=True)
    assert stats.depth == 2 and stats.acked_kept == 0               # unacked rows are never pruned


def test_restart_resumes_unacked_rows(kiosk):
    ids = [kiosk.add(visit(i)) for i in range(6)]
    kiosk.outbox.settle(kiosk.outbox.claim_batch(4, BIG).batch_id)
    inflight = kiosk.outbox.claim_batch(4, BIG)
    assert len(inflight) == 2
    ob = kiosk.reopen()                                             # "power cut" while 2 rows were in flight
    assert ob.claim_batch(4, BIG) is None
    assert ob.requeue_stale(0) == 2
    resumed = ob.claim_batch(4, BIG)
    assert [r.id for r in resumed.records] == ids[4:]
    assert ob.stats().depth == 2 and ob.stats().last_ack is not None


def test_queued_record_carries_the_journal_payload_text(kiosk):
    rid = kiosk.add(AdminEvent(action="login", detail="管理员"))
    record = kiosk.outbox.claim_batch(1, BIG).records[0]
    stored = kiosk.journal.get(rid)
    assert record.id == rid and record.seq == stored.seq and record.kind == "admin_event"
    assert record.payload_json == '{"action":"login","detail":"管理员"}'
    assert datetime.fromisoformat(record.ts) == stored.created_at


def test_a_version_1_journal_keeps_its_outbox_across_the_migration(tmp_path):
    path = tmp_path / "journal.sqlite3"
    con = sqlite3.connect(path)
    con.executescript(MIGRATIONS[0] + "\nPRAGMA user_version=1;")
    con.execute("INSERT INTO records VALUES ('r1', 'st-a', 1, 'admin_event', '2026-11-22T08:00:00.000+00:00', "
                "'{\"action\":\"x\"}')")
    con.execute("INSERT INTO outbox (record_id, seq, state, batch_id, attempts, enqueued_at) "
                "VALUES ('r1', 1, 'inflight', 'b-old', 2, '2026-11-22T08:00:00.000+00:00')")
    con.commit()
    con.close()
    ob = Outbox(path)
    try:
        assert ob.stats().inflight == 1
        assert ob.settle("b-old", {0: "conflict"}) == (0, 1)
        assert [r.reason for r in ob.rejected_rows()] == ["conflict"]
    finally:
        ob.close()
