"""The outbox: journal records waiting for the hub's acknowledgement.

Three verbs drive it: :meth:`next_batch` (the same batch comes back until it is acknowledged),
:meth:`mark_acked` (only after the hub's ack) and :meth:`requeue_stale` (in-flight rows become
ready again on startup or after a timeout). :meth:`claim_batch` lets the publisher keep a small
window of batches in flight. Urgent rows (higher ``priority``) leave first, then
sequence order. Acknowledged rows stay for ``retention_days`` and are then pruned; unacknowledged
rows are never dropped.

:class:`SqliteOutbox` works on the journal file that ``kiosk.journal.Journal.append`` fills (record
and outbox row in one transaction); :class:`MemoryOutbox` keeps the same contract in memory for
tests and tools.
"""
from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kiosk.i18n import N_
from kiosk.journal import connect, migrate
from kiosk.records import Record, payload_to_json
from sync.messages import WireRecord

_META_LAST_ACK = "sync.last_ack"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class OutboxError(Exception):
    """The outbox cannot be read or written (the journal file is unusable)."""

    user_key = "sync_outbox_error"
    user_message = N_("The upload queue cannot be read; call the administrator")


@dataclass(frozen=True)
class OutboxBatch:
    """Records leaving together under one batch id."""

    batch_id: str
    records: tuple[WireRecord, ...]
    attempts: int = 1

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class OutboxStats:
    """What the admin screen and the status message show."""

    depth: int
    inflight: int
    oldest_unsynced: datetime | None
    last_ack: datetime | None
    acked_kept: int = 0


class Outbox:
    """The contract both implementations keep."""

    def next_batch(self, n: int) -> OutboxBatch | None:
        """The batch in flight, or a new one of up to ``n`` ready rows (urgent first, then seq).

        Returns the same batch (same id, same records) on every call until it is acknowledged or
        requeued; None when nothing waits.
        """
        raise NotImplementedError

    def claim_batch(self, n: int) -> OutboxBatch | None:
        """A new batch of up to ``n`` ready rows even while others are in flight (a send window)."""
        raise NotImplementedError

    def mark_acked(self, batch_id: str) -> int:
        """Mark the rows of ``batch_id`` acknowledged; returns how many rows changed (0 for an unknown or
        already acknowledged batch)."""
        raise NotImplementedError

    def requeue_stale(self, older_than_s: float = 0.0) -> int:
        """Make rows in flight for longer than ``older_than_s`` ready again; returns how many.

        ``requeue_stale(0)`` on startup returns every in-flight row to the queue.
        """
        raise NotImplementedError

    def prune(self, retention_days: float, now: datetime | None = None) -> int:
        """Delete acknowledged rows acknowledged more than ``retention_days`` ago; returns how many."""
        raise NotImplementedError

    def stats(self) -> OutboxStats:
        """Queue depth (unacknowledged rows), rows in flight, oldest unsynced record, last ack."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources."""


class SqliteOutbox(Outbox):
    """The outbox table of a journal file.

    Args:
        path: the journal file (``<data_dir>/journal.sqlite3``); created and migrated if new.

    Raises:
        OutboxError: the file cannot be opened (wraps the journal's error).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self._db = connect(self.path)
            migrate(self._db, self.path)
        except Exception as exc:
            raise OutboxError(str(exc)) from exc
        self._lock = threading.Lock()

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _rows(self, db: sqlite3.Connection, batch_id: str) -> tuple[WireRecord, ...]:
        rows = db.execute(
            "SELECT r.id, r.station_id, r.seq, r.kind, r.created_at, r.payload FROM outbox o "
            "JOIN records r ON r.id = o.record_id WHERE o.batch_id = ? AND o.state = 'inflight' "
            "ORDER BY o.priority DESC, o.seq", (batch_id,)).fetchall()
        return tuple(WireRecord(*row) for row in rows)

    def next_batch(self, n: int) -> OutboxBatch | None:
        if n < 1:
            raise ValueError("batch size must be at least 1")
        with self._lock, self._txn() as db:
            row = db.execute("SELECT batch_id, max(attempts) FROM outbox WHERE state = 'inflight' "
                             "GROUP BY batch_id ORDER BY max(priority) DESC, min(seq) LIMIT 1").fetchone()
            if row:
                db.execute("UPDATE outbox SET attempts = attempts + 1, sent_at = ? WHERE batch_id = ? "
                           "AND state = 'inflight'", (_stamp(_now()), row[0]))
                return OutboxBatch(row[0], self._rows(db, row[0]), row[1] + 1)
            return self._claim(db, n)

    def claim_batch(self, n: int) -> OutboxBatch | None:
        """A new batch of up to ``n`` ready rows even while others are in flight (for a send window);
        None when no row is ready."""
        if n < 1:
            raise ValueError("batch size must be at least 1")
        with self._lock, self._txn() as db:
            return self._claim(db, n)

    def _claim(self, db: sqlite3.Connection, n: int) -> OutboxBatch | None:
        batch_id = uuid.uuid4().hex
        claimed = db.execute(
                "UPDATE outbox SET state = 'inflight', batch_id = ?, attempts = attempts + 1, sent_at = ? "
                "WHERE record_id IN (SELECT record_id FROM outbox WHERE state = 'ready' "
                "ORDER BY priority DESC, seq LIMIT ?)", (batch_id, _stamp(_now()), n)).rowcount
        if not claimed:
            return None
        return OutboxBatch(batch_id, self._rows(db, batch_id), 1)

    def mark_acked(self, batch_id: str) -> int:
        stamp = _stamp(_now())
        with self._lock, self._txn() as db:
            changed = db.execute("UPDATE outbox SET state = 'acked', acked_at = ? WHERE batch_id = ? "
                                 "AND state = 'inflight'", (stamp, batch_id)).rowcount
            if changed:
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", (_META_LAST_ACK, stamp))
        return changed

    def requeue_stale(self, older_than_s: float = 0.0) -> int:
        cutoff = _stamp(_now() - timedelta(seconds=older_than_s))
        with self._lock, self._txn() as db:
            return db.execute("UPDATE outbox SET state = 'ready', batch_id = NULL WHERE state = 'inflight' "
                              "AND (sent_at IS NULL OR sent_at <= ?)", (cutoff,)).rowcount

    def prune(self, retention_days: float, now: datetime | None = None) -> int:
        cutoff = _stamp((now or _now()) - timedelta(days=retention_days))
        with self._lock, self._txn() as db:
            return db.execute("DELETE FROM outbox WHERE state = 'acked' AND acked_at < ?", (cutoff,)).rowcount

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, inflight, oldest = self._db.execute(
                "SELECT count(*), coalesce(sum(state = 'inflight'), 0), min(enqueued_at) FROM outbox "
                "WHERE state IN ('ready', 'inflight')").fetchone()
            kept = self._db.execute("SELECT count(*) FROM outbox WHERE state = 'acked'").fetchone()[0]
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_META_LAST_ACK,)).fetchone()
        return OutboxStats(depth, inflight, datetime.fromisoformat(oldest) if oldest else None,
                           datetime.fromisoformat(row[0]) if row else None, kept)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class _MemRow:
    record: WireRecord
    priority: int
    enqueued_at: datetime
    state: str = "ready"
    batch_id: str | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    acked_at: datetime | None = None


@dataclass
class MemoryOutbox(Outbox):
    """The same contract in memory (tests, benchmarks of the loop without disk)."""

    rows: dict[str, _MemRow] = field(default_factory=dict)
    last_ack: datetime | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def put(self, record: Record, priority: int = 0) -> bool:
        """Queue a record; returns False if its id is already queued."""
        with self._lock:
            if record.id in self.rows:
                return False
            wire = WireRecord(record.id, record.station_id, record.seq, record.kind,
                              _stamp(record.created_at), payload_to_json(record.payload))
            self.rows[record.id] = _MemRow(wire, priority, record.created_at)
            return True

    @staticmethod
    def _order(row: _MemRow) -> tuple[int, int]:
        return (-row.priority, row.record.seq)

    def next_batch(self, n: int) -> OutboxBatch | None:
        if n < 1:
            raise ValueError("batch size must be at least 1")
        with self._lock:
            inflight = [r for r in self.rows.values() if r.state == "inflight"]
            if inflight:
                first = min(inflight, key=self._order)
                rows = sorted((r for r in inflight if r.batch_id == first.batch_id), key=self._order)
                for r in rows:
                    r.attempts += 1
                    r.sent_at = _now()
                return OutboxBatch(first.batch_id, tuple(r.record for r in rows), max(r.attempts for r in rows))
            return self._claim(n)

    def claim_batch(self, n: int) -> OutboxBatch | None:
        if n < 1:
            raise ValueError("batch size must be at least 1")
        with self._lock:
            return self._claim(n)

    def _claim(self, n: int) -> OutboxBatch | None:
        ready = sorted((r for r in self.rows.values() if r.state == "ready"), key=self._order)[:n]
        if not ready:
            return None
        batch_id = uuid.uuid4().hex
        for r in ready:
            r.state, r.batch_id, r.sent_at = "inflight", batch_id, _now()
            r.attempts += 1
        return OutboxBatch(batch_id, tuple(r.record for r in ready), 1)

    def mark_acked(self, batch_id: str) -> int:
        with self._lock:
            now = _now()
            changed = 0
            for r in self.rows.values():
                if r.batch_id == batch_id and r.state == "inflight":
                    r.state, r.acked_at = "acked", now
                    changed += 1
            if changed:
                self.last_ack = now
            return changed

    def requeue_stale(self, older_than_s: float = 0.0) -> int:
        with self._lock:
            cutoff = _now() - timedelta(seconds=older_than_s)
            changed = 0
            for r in self.rows.values():
                if r.state == "inflight" and (r.sent_at is None or r.sent_at <= cutoff):
                    r.state, r.batch_id = "ready", None
                    changed += 1
            return changed

    def prune(self, retention_days: float, now: datetime | None = None) -> int:
        with self._lock:
            cutoff = (now or _now()) - timedelta(days=retention_days)
            old = [k for k, r in self.rows.items() if r.state == "acked" and r.acked_at < cutoff]
            for k in old:
                del self.rows[k]
            return len(old)

    def stats(self) -> OutboxStats:
        with self._lock:
            waiting = [r for r in self.rows.values() if r.state != "acked"]
            return OutboxStats(len(waiting), sum(r.state == "inflight" for r in waiting),
                               min((r.enqueued_at for r in waiting), default=None), self.last_ack,
                               len(self.rows) - len(waiting))
