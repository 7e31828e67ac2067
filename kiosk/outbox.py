"""The outbox: journal records waiting for the hub's acknowledgement.

The journal owns the table: :meth:`kiosk.journal.Journal.append` writes each record and its
outbox row in one transaction, and this module holds every other statement on it, so the table
has one owner and the sync layer uses only this API. A row moves

    ready → inflight (claimed into a batch) → acked (the hub stored it)
                                            ↘ rejected (the hub refused it, with the reason)

Batches are claimed urgent first, then in sequence order, and are split by bytes as well as by
count, so no batch exceeds the broker's packet limit and an urgent alert never waits behind an
oversized one. A rejected row stays visible (count, reasons) and is offered again when the
publisher next starts (:meth:`Outbox.requeue_rejected`): if the hub was fixed meanwhile (or the
record replayed there), it is then stored or acknowledged as a duplicate. Acknowledged rows are
kept for ``retention_days`` and then pruned; unacknowledged rows are never dropped.
"""
from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kiosk.i18n import N_
from kiosk.journal import connect, migrate
from kiosk.key_links import erase_acknowledged_links
from kiosk.records import MAX_PAYLOAD_BYTES

_META_LAST_ACK = "sync.last_ack"
#: Bytes a record adds to a batch besides its payload: the envelope fields (id, station and kind are
#: at most 64 characters of a plain alphabet each, the time 40, the sequence 19 digits) and quotes.
RECORD_OVERHEAD = 512
#: The batch envelope (version, station, batch id).
BATCH_OVERHEAD = 256
#: The reason kept for a row too big to ever send (written before the journal refused such rows).
TOO_LARGE = "too_large"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class OutboxError(Exception):
    """The outbox cannot be read or written (the journal file is unusable)."""

    user_key = "sync_outbox_error"
    user_message = N_("The upload queue cannot be read; call the administrator")


@dataclass(frozen=True)
class QueuedRecord:
    """One journal record as the outbox hands it out (``payload_json``: the journal's JSON text)."""

    id: str
    station: str
    seq: int
    kind: str
    ts: str
    payload_json: str


@dataclass(frozen=True)
class OutboxBatch:
    """Records leaving together under one batch id, in the order an ack's indices refer to."""

    batch_id: str
    records: tuple[QueuedRecord, ...]

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
    rejected: int = 0


@dataclass(frozen=True)
class RejectedRow:
    """A record the hub refused: which, when, and the hub's refusal code."""

    record_id: str
    kind: str
    reason: str
    at: str | None


def backlog(db: sqlite3.Connection) -> tuple[int, str | None, int]:
    """Read-only look at a journal's outbox (for ``yizhan doctor``, which must not change the file).

    Returns:
        (rows waiting for the hub, enqueue time of the oldest of them, rows the hub refused).
    """
    depth, oldest = db.execute("SELECT count(*), min(enqueued_at) FROM outbox "
                               "WHERE state IN ('ready', 'inflight')").fetchone()
    rejected = db.execute("SELECT count(*) FROM outbox WHERE state = 'rejected'").fetchone()[0]
    return depth, oldest, rejected


class Outbox:
    """The outbox table of a journal file (thread-safe; one connection).

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
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _batch_ids(db: sqlite3.Connection, batch_id: str) -> list[str]:
        return [r[0] for r in db.execute("SELECT record_id FROM outbox WHERE batch_id = ? AND state = 'inflight' "
                                         "ORDER BY priority DESC, seq", (batch_id,))]

    def claim_batch(self, n: int, max_bytes: int) -> OutboxBatch | None:
        """A new batch of up to ``n`` ready rows whose encoded size stays under ``max_bytes``.

        Rows leave urgent first, then in sequence order; the batch ends before the first row that
        would not fit. A row too large for any batch (journaled before the journal refused such
        rows) is set aside as rejected (``too_large``) instead of blocking the queue.

        Returns:
            the batch, or None when no row is ready.
        """
        if n < 1 or max_bytes < BATCH_OVERHEAD + RECORD_OVERHEAD + MAX_PAYLOAD_BYTES:
            raise ValueError("a batch must hold at least one record of the largest allowed size")
        batch_id = uuid.uuid4().hex
        stamp = _stamp(_now())
        with self._txn() as db:
            # Bytes: exact for long payloads; for short ones 4 per character bounds the UTF-8 size
            # without copying the text into a blob.
            rows = db.execute("SELECT o.record_id, CASE WHEN length(r.payload) > 1024 THEN "
                              "length(CAST(r.payload AS BLOB)) ELSE 4 * length(r.payload) END FROM outbox o "
                              "JOIN records r ON r.id = o.record_id WHERE o.state = 'ready' "
                              "ORDER BY o.priority DESC, o.seq LIMIT ?", (n,)).fetchall()
            take: list[str] = []
            total = BATCH_OVERHEAD
            for record_id, size in rows:
                if size > MAX_PAYLOAD_BYTES:
                    db.execute("UPDATE outbox SET state = 'rejected', reason = ?, acked_at = ? WHERE record_id = ?",
                               (TOO_LARGE, stamp, record_id))
                    continue
                if total + size + RECORD_OVERHEAD > max_bytes:
                    break
                take.append(record_id)
                total += size + RECORD_OVERHEAD
            if not take:
                return None
            # The same rows as selected: the first len(take) ready rows in this transaction's order.
            db.execute("UPDATE outbox SET state = 'inflight', batch_id = ?, attempts = attempts + 1, sent_at = ? "
                       "WHERE record_id IN (SELECT record_id FROM outbox WHERE state = 'ready' "
                       "ORDER BY priority DESC, seq LIMIT ?)", (batch_id, stamp, len(take)))
            records = db.execute(
                "SELECT r.id, r.station_id, r.seq, r.kind, r.created_at, r.payload FROM outbox o "
                "JOIN records r ON r.id = o.record_id WHERE o.batch_id = ? AND o.state = 'inflight' "
                "ORDER BY o.priority DESC, o.seq", (batch_id,)).fetchall()
        return OutboxBatch(batch_id, tuple(QueuedRecord(*row) for row in records))

    def settle(self, batch_id: str, refused: Mapping[int, str] | None = None) -> tuple[int, int]:
        """Apply the hub's ack: rows at the ``refused`` indices (in the batch's order) become
        rejected with their reason, every other row of the batch acknowledged. An acknowledged
        ``person_key_linked`` record erases its earlier person key here (``kiosk.key_links``).

        Returns:
            (rows acknowledged, rows rejected); (0, 0) for an unknown or already settled batch.
        """
        stamp = _stamp(_now())
        refused = refused or {}
        with self._txn() as db:
            ids = self._batch_ids(db, batch_id)
            bad = [(str(reason)[:40], stamp, ids[i]) for i, reason in refused.items() if 0 <= i < len(ids)]
            db.executemany("UPDATE outbox SET state = 'rejected', reason = ?, acked_at = ? WHERE record_id = ?", bad)
            acked = db.execute("UPDATE outbox SET state = 'acked', acked_at = ?, reason = NULL WHERE batch_id = ? "
                               "AND state = 'inflight'", (stamp, batch_id)).rowcount
            if acked or bad:
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", (_META_LAST_ACK, stamp))
            refused_ids = {row[2] for row in bad}
            erased = erase_acknowledged_links(db, [rid for rid in ids if rid not in refused_ids])
        if erased:          # the old key leaves the write-ahead log too (pages were overwritten: secure_delete)
            with self._lock:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return acked, len(bad)

    def requeue_stale(self, older_than_s: float = 0.0) -> int:
        """Make rows in flight for longer than ``older_than_s`` ready again; returns how many.

        ``requeue_stale(0)`` on startup returns every in-flight row to the queue.
        """
        cutoff = _stamp(_now() - timedelta(seconds=older_than_s))
        with self._txn() as db:
            return db.execute("UPDATE outbox SET state = 'ready', batch_id = NULL WHERE state = 'inflight' "
                              "AND (sent_at IS NULL OR sent_at <= ?)", (cutoff,)).rowcount

    def requeue_rejected(self) -> int:
        """Offer rows the hub refused once more (on publisher start); too-large rows stay rejected."""
        with self._txn() as db:
            return db.execute("UPDATE outbox SET state = 'ready', batch_id = NULL WHERE state = 'rejected' "
                              "AND coalesce(reason, '') != ?", (TOO_LARGE,)).rowcount

    def prune(self, retention_days: float, now: datetime | None = None) -> int:
        """Delete rows acknowledged more than ``retention_days`` ago; returns how many."""
        cutoff = _stamp((now or _now()) - timedelta(days=retention_days))
        with self._txn() as db:
            return db.execute("DELETE FROM outbox WHERE state = 'acked' AND acked_at < ?", (cutoff,)).rowcount

    def stats(self, count_kept: bool = False) -> OutboxStats:
        """Queue depth (ready and in flight), rows in flight, oldest unsynced record, last ack, rejected;
        with ``count_kept`` also the acknowledged rows still kept (a count that grows with history, so
        the publisher's status after every ack does not ask for it)."""
        with self._lock:
            depth, inflight, oldest = self._db.execute(
                "SELECT count(*), coalesce(sum(state = 'inflight'), 0), min(enqueued_at) FROM outbox "
                "WHERE state IN ('ready', 'inflight')").fetchone()
            kept = self._db.execute("SELECT count(*) FROM outbox WHERE state = 'acked'").fetchone()[0] \
                if count_kept else 0
            rejected = self._db.execute("SELECT count(*) FROM outbox WHERE state = 'rejected'").fetchone()[0]
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_META_LAST_ACK,)).fetchone()
        return OutboxStats(depth, inflight, datetime.fromisoformat(oldest) if oldest else None,
                           datetime.fromisoformat(row[0]) if row else None, kept, rejected)

    def rejected_rows(self, limit: int = 50) -> list[RejectedRow]:
        """The rows the hub refused, newest first (for the admin screen and ``yizhan sync``)."""
        with self._lock:
            rows = self._db.execute("SELECT o.record_id, r.kind, coalesce(o.reason, ''), o.acked_at FROM outbox o "
                                    "JOIN records r ON r.id = o.record_id WHERE o.state = 'rejected' "
                                    "ORDER BY o.acked_at DESC LIMIT ?", (limit,)).fetchall()
        return [RejectedRow(*r) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
