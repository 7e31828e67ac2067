"""The outbox contract, run against the SQLite and the in-memory implementation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kiosk.journal import Journal
from kiosk.records import AdminEvent, Visit
from sync.outbox import MemoryOutbox, SqliteOutbox


class SqliteBackend:
    def __init__(self, tmp_path):
        self.path = tmp_path / "journal.sqlite3"
        self.journal = Journal(self.path, "st-a")
        self.outbox = SqliteOutbox(self.path)

    def add(self, payload, priority=None):
        return self.journal.append(payload, priority=priority).record.id

    def reopen(self):
        self.outbox.close()
        self.outbox = SqliteOutbox(self.path)
        return self.outbox

    def close(self):
        self.outbox.close()
        self.journal.close()


class MemoryBackend:
    def __init__(self, tmp_path):
        self.outbox = MemoryOutbox()
        self.seq = 0

    def add(self, payload, priority=None):
        from kiosk.records import Record
        self.seq += 1
        record = Record(f"m-{self.seq}", "st-a", self.seq, type(payload).KIND, datetime.now(timezone.utc), payload)
        self.outbox.put(record, type(payload).PRIORITY if priority is None else priority)
        return record.id

    def reopen(self):
        return self.outbox                       # memory survives only within the process

    def close(self):
        pass


@pytest.fixture(params=[SqliteBackend, MemoryBackend], ids=["sqlite", "memory"])
def backend(request, tmp_path):
    b = request.param(tmp_path)
    yield b
    b.close()


def visit(i):
    return Visit(person_key=f"{i:064x}", source="idcard", role="resident")


def test_next_batch_returns_the_same_batch_until_acked(backend):
    ids = [backend.add(visit(i)) for i in range(5)]
    ob = backend.outbox
    first = ob.next_batch(3)
    assert [r.id for r in first.records] == ids[:3]
    again = ob.next_batch(3)
    assert again.batch_id == first.batch_id and again.records == first.records and again.attempts == 2
    assert ob.stats().depth == 5 and ob.stats().inflight == 3
    assert ob.mark_acked(first.batch_id) == 3
    assert ob.mark_acked(first.batch_id) == 0                      # a second ack changes nothing
    second = ob.next_batch(3)
    assert [r.id for r in second.records] == ids[3:]
    assert ob.mark_acked(second.batch_id) == 2
    assert ob.next_batch(3) is None
    stats = ob.stats()
    assert stats.depth == 0 and stats.last_ack is not None and stats.oldest_unsynced is None


def test_urgent_rows_jump_the_queue_then_seq_order(backend):
    normal = [backend.add(visit(i)) for i in range(3)]
    urgent = backend.add(AdminEvent(action="alert"), priority=10)
    batch = backend.outbox.next_batch(2)
    assert [r.id for r in batch.records] == [urgent, normal[0]]


def test_claim_batch_opens_a_window_and_unknown_acks_are_ignored(backend):
    ids = [backend.add(visit(i)) for i in range(4)]
    ob = backend.outbox
    a, b = ob.claim_batch(2), ob.claim_batch(2)
    assert [r.id for r in a.records + b.records] == ids and ob.claim_batch(2) is None
    assert ob.mark_acked("no-such-batch") == 0
    assert ob.mark_acked(b.batch_id) == 2
    assert ob.next_batch(5).batch_id == a.batch_id                 # the unacked one comes back
    with pytest.raises(ValueError):
        ob.next_batch(0)


def test_requeue_stale_makes_inflight_rows_ready_again(backend):
    ids = [backend.add(visit(i)) for i in range(3)]
    ob = backend.outbox
    batch = ob.next_batch(10)
    assert ob.requeue_stale(3600) == 0                             # not stale yet
    assert ob.requeue_stale(0) == 3
    assert ob.stats().inflight == 0 and ob.stats().depth == 3
    assert ob.mark_acked(batch.batch_id) == 0                      # a late ack for the old batch
    fresh = ob.next_batch(10)
    assert fresh.batch_id != batch.batch_id and [r.id for r in fresh.records] == ids


def test_prune_removes_only_acked_rows_past_retention(backend):
    for i in range(4):
        backend.add(visit(i))
    ob = backend.outbox
    batch = ob.next_batch(2)
    ob.mark_acked(batch.batch_id)
    assert ob.prune(30) == 0
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert ob.prune(30, now=later) == 2
    stats = ob.stats()
    assert stats.depth == 2 and stats.acked_kept == 0               # unacked rows are never pruned


def test_restart_resumes_unacked_rows(tmp_path):
    backend = SqliteBackend(tmp_path)
    ids = [backend.add(visit(i)) for i in range(6)]
    first = backend.outbox.next_batch(4)
    backend.outbox.mark_acked(first.batch_id)
    inflight = backend.outbox.next_batch(4)
    assert len(inflight) == 2
    ob = backend.reopen()                                           # "power cut" while 2 rows were in flight
    assert ob.next_batch(4).batch_id == inflight.batch_id          # still the same batch until requeued
    assert ob.requeue_stale(0) == 2
    resumed = ob.next_batch(4)
    assert [r.id for r in resumed.records] == ids[4:]
    assert ob.stats().depth == 2 and ob.stats().last_ack is not None
    backend.close()


def test_wire_record_carries_the_journal_payload_text(tmp_path):
    backend = SqliteBackend(tmp_path)
    rid = backend.add(AdminEvent(action="login", detail="管理员"))
    record = backend.outbox.next_batch(1).records[0]
    stored = backend.journal.get(rid)
    assert record.id == rid and record.seq == stored.seq and record.kind == "admin_event"
    assert record.payload_json == '{"action":"login","detail":"管理员"}'
    assert datetime.fromisoformat(record.ts) == stored.created_at
    backend.close()
