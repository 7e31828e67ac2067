"""The durable local journal: SQLite in WAL mode, ``synchronous=FULL``, one immutable row per
service event plus its outbox row, written in the same transaction.

A call to :meth:`Journal.append` returns only after the commit, so a record the screen called
saved survives a power cut. Records are never updated (a trigger refuses it); the outbox row is
what the sync layer moves through ready → inflight → acked or rejected, through the API of
``kiosk/outbox.py`` (the journal owns the table; nothing else writes SQL on it).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kiosk.journal_seal import take_seal, write_seal
from kiosk.key_links import TRIGGER_V5
from kiosk.privacy import contains_id_number
from kiosk.records import MAX_PAYLOAD_BYTES, PayloadError, Record, payload_from_dict, payload_to_json
from kiosk.schema import check_payload


class JournalError(Exception):
    """The journal cannot be used; the message says what to do."""


class JournalTooNew(JournalError):
    """The database was written by a newer Yizhan version."""


class JournalCorrupt(JournalError):
    """The database file is damaged or is not a Yizhan journal."""


class JournalEmpty(JournalCorrupt):
    """The journal file exists but holds zero bytes (truncated, or written on a full disk)."""


class StorageFull(JournalError):
    """The disk under the data directory is full: nothing more can be journaled until space is freed."""


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` says the disk is full (SQLite's SQLITE_FULL or the OS's ENOSPC / EDQUOT)."""
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, OSError) and exc.errno in (28, 122):
        return True
    return isinstance(exc, sqlite3.Error) and ("disk is full" in str(exc) or getattr(exc, "sqlite_errorcode", 0) == 13)


class PrivacyViolation(JournalError):
    """A payload carries a full ID number; it is refused, never stored."""


class RecordRefused(JournalError):
    """A payload can never be sent (over :data:`~kiosk.records.MAX_PAYLOAD_BYTES`, or NaN or
    Infinity inside); it is refused when written, so it can never block the outbox later."""


#: meta keys: "1" after a clean close, "0" while open; the UTC day of the last integrity check.
_META_CLEAN = "journal.clean_shutdown"
_META_CHECKED = "journal.checked_on"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


_V1 = """
CREATE TABLE records (
    id          TEXT PRIMARY KEY,
    station_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    UNIQUE (station_id, seq)
);
CREATE INDEX records_kind ON records (kind, seq);
CREATE TRIGGER records_immutable BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'journal records are immutable'); END;

CREATE TABLE outbox (
    record_id    TEXT PRIMARY KEY REFERENCES records (id),
    seq          INTEGER NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'inflight', 'acked')),
    batch_id     TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    enqueued_at  TEXT NOT NULL,
    sent_at      TEXT,
    acked_at     TEXT
);
CREATE INDEX outbox_next ON outbox (state, priority DESC, seq);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: Record kinds whose payload a consent withdrawal erases (health data, PIPL sensitive information).
ERASABLE_KINDS = ("bp_measurement", "glucose_measurement", "health_alert")

# V2: a health record's payload may be replaced, once, by an erasure tombstone {"erased": <the
# withdrawal record's id>}; nothing else about any record can ever change.
_V2 = f"""
DROP TRIGGER records_immutable;
CREATE TRIGGER records_immutable BEFORE UPDATE ON records
WHEN NOT (NEW.id = OLD.id AND NEW.station_id = OLD.station_id AND NEW.seq = OLD.seq
          AND NEW.kind = OLD.kind AND NEW.created_at = OLD.created_at
          AND OLD.kind IN ({", ".join(f"'{k}'" for k in ERASABLE_KINDS)})
          AND json_extract(OLD.payload, '$.erased') IS NULL
          AND json_extract(NEW.payload, '$.erased') IS NOT NULL
          AND NEW.payload = json_object('erased', json_extract(NEW.payload, '$.erased')))
BEGIN SELECT RAISE(ABORT, 'journal records are immutable (only a health record can be erased)'); END;
"""

# V3: the outbox learns the state 'rejected' (the hub refused the record) and keeps the reason.
_V3 = """
CREATE TABLE outbox_v2 (
    record_id    TEXT PRIMARY KEY REFERENCES records (id),
    seq          INTEGER NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'inflight', 'acked', 'rejected')),
    batch_id     TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    enqueued_at  TEXT NOT NULL,
    sent_at      TEXT,
    acked_at     TEXT,
    reason       TEXT
);
INSERT INTO outbox_v2 (record_id, seq, priority, state, batch_id, attempts, enqueued_at, sent_at, acked_at)
    SELECT record_id, seq, priority, state, batch_id, attempts, enqueued_at, sent_at, acked_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_next ON outbox (state, priority DESC, seq);
"""
#: Mode of a new journal file (and so of its -wal and -shm files): the kiosk user only.
FILE_MODE = 0o600

#: Payload fields looked up by equality (``Journal.records(where=…)``): each gets an index on
#: ``(kind, json_extract(payload, '$.field'), seq)``, so a lookup costs the same on a journal of a
#: thousand records or a million. The query text must match the indexed expression exactly.
INDEXED_FIELDS = ("person_key", "volunteer_id", "shift_id", "service_id", "session_id", "debit", "credit")

_V4 = "\n".join(
    f"CREATE INDEX records_{f} ON records (kind, json_extract(payload, '$.{f}'), seq) "
    f"WHERE json_extract(payload, '$.{f}') IS NOT NULL;" for f in INDEXED_FIELDS)

# V5: an earlier person key is erased once the hub acknowledged its link (``kiosk.key_links``).
_V5 = TRIGGER_V5.format(erasable=", ".join(f"'{k}'" for k in ERASABLE_KINDS))

#: MIGRATIONS[i] is the SQL script taking a database from schema version i to i + 1.
#: Append, never edit.
MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path | str) -> sqlite3.Connection:
    """Open a journal database with the durability settings every user of the file must share.

    Raises:
        JournalError / JournalCorrupt: with the file name and what to do.
    """
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size == 0:
            raise JournalEmpty(f"the journal {path} is empty (0 bytes) although it should hold this station's "
                               "records: the file was truncated or written on a full disk. It was left untouched: "
                               "restore a backup; if this station never ran, delete the empty file.")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc):
            raise StorageFull(f"cannot create the journal {path}: the disk is full. Free space in the data "
                              "directory's file system.") from exc
        raise JournalError(f"cannot open the journal {path}: {exc}. Check that the data directory "
                           "exists and is writable by this user.") from exc
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("PRAGMA secure_delete=ON")      # erased health data is overwritten, not left in free pages
    except sqlite3.DatabaseError as exc:
        db.close()
        if "readonly" in str(exc) or "unable to open" in str(exc):
            raise JournalError(f"the journal {path} is not writable: {exc}. Fix the permissions of "
                               "the data directory.") from exc
        raise JournalCorrupt(f"{path} is not a readable Yizhan journal ({exc}). It was left untouched: "
                             "move it aside and restore a backup, or start with a new data directory.") from exc
    if mode != "wal":
        db.close()
        raise JournalError(f"the journal {path} could not switch to WAL mode (got {mode!r}); "
                           "put the data directory on a local file system.")
    return db


def _create(path: Path) -> None:
    """Create a new journal atomically: schema and WAL mode in a temporary file (mode 0600, which
    SQLite gives its -wal and -shm files too), then linked into place. A crash or a full disk
    during creation leaves no journal, never a zero-length one, so an empty journal always means
    lost data."""
    for stale in path.parent.glob(f".{path.name}.*.new*"):      # left by a creation that was killed
        try:
            if time.time() - stale.stat().st_mtime > 60:
                stale.unlink()
        except OSError:
            pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db, path)
        finally:
            db.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass                                   # another process created it first: use theirs
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def migrate(db: sqlite3.Connection, path: Path | str) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; returns the version found before.

    Raises:
        JournalTooNew: the file was made by a newer version (nothing is changed).
        JournalCorrupt: the file holds tables but no Yizhan schema version.
    """
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise JournalTooNew(f"the journal {path} has schema version {found}, newer than this Yizhan "
                            f"understands ({SCHEMA_VERSION}). Install the newer Yizhan version again; "
                            "the file was not changed.")
    if found == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if tables:
            raise JournalCorrupt(f"{path} holds tables but is not a Yizhan journal; it was left untouched. "
                                 "Point data_dir at an empty directory.")
    for version in range(found, SCHEMA_VERSION):
        script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\nPRAGMA user_version={version + 1};\nCOMMIT;"
        try:
            db.executescript(script)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return found


def verify_journal(path: Path | str) -> None:
    """Check an existing journal the way the kiosk does at start, without writing a byte to it:
    for tools that open a journal another process wrote (``yizhan sync``, ``yizhan bench fill``).

    Raises:
        JournalEmpty: the file has zero bytes.
        JournalCorrupt: damaged, or not a Yizhan journal.
        JournalTooNew: written by a newer Yizhan.
        JournalError: missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise JournalError(f"there is no journal at {path}; check --data-dir")
    if path.stat().st_size == 0:
        raise JournalEmpty(f"the journal {path} is empty (0 bytes) although it should hold this station's "
                           "records: the file was truncated or written on a full disk. It was left untouched: "
                           "restore a backup; if this station never ran, delete the empty file.")
    # Without a WAL beside it the file is opened immutable: no lock, no -shm or -wal file is created.
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    try:
        row = db.execute("PRAGMA quick_check").fetchone()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise JournalCorrupt(f"{path} is damaged ({exc}); it was left untouched. Move it aside and restore "
                             "a backup.") from exc
    finally:
        db.close()
    if row[0] != "ok":
        raise JournalCorrupt(f"{path} failed its integrity check ({row[0]}); it was left untouched. Move it "
                             "aside and restore a backup.")
    if version > SCHEMA_VERSION:
        raise JournalTooNew(f"the journal {path} has schema version {version}, newer than this Yizhan "
                            f"understands ({SCHEMA_VERSION}). Install the newer Yizhan version again; the file "
                            "was not changed.")
    if version == 0 and tables:
        raise JournalCorrupt(f"{path} holds tables but is not a Yizhan journal; it was left untouched.")


#: Records not erased (the read path skips erasure tombstones).
_LIVE = "json_extract(payload, '$.erased') IS NULL"


@dataclass(frozen=True)
class AppendResult:
    """What :meth:`Journal.append` stored: the record, and whether it was new."""

    record: Record
    created: bool


class Journal:
    """The station's journal file.

    Args:
        path: the SQLite file (``<data_dir>/journal.sqlite3``).
        station_id: the station every record is written for.

    Thread-safe: one connection guarded by a lock. Other processes (the sync publisher) open the
    same file with :func:`connect`.

    Opening runs ``PRAGMA quick_check`` (a read of the whole file) on the first open of a UTC day,
    when the last session did not :meth:`close` cleanly, or when the file differs from the seal the
    last clean close wrote (size and CRC-32, checked at every open); a damaged file is then
    refused untouched, as is a file of a newer version or one that is not a journal.
    """

    FILENAME = "journal.sqlite3"

    def __init__(self, path: Path | str, station_id: str) -> None:
        self.path = Path(path)
        self.station_id = station_id
        self._lock = threading.Lock()
        #: Called with each new record after its commit (the publisher wakes up on it).
        self.listeners: list = []
        #: Whether this open ran ``PRAGMA quick_check`` (first open of a UTC day, after an unclean
        #: shutdown, or when the file is not as its clean-shutdown seal says: ``kiosk.journal_seal``).
        self.integrity_checked = False
        #: Whether the seal was compared and the file was byte for byte as sealed at the last clean stop.
        self.seal_intact = False
        self._db = connect(self.path)             # opening writes nothing to an existing file
        try:
            due = self._integrity_due()
            self.seal_intact = take_seal(self.path, compare=not due)   # no hashing when the full check runs
            if due or not self.seal_intact:
                self._check_integrity()
            migrate(self._db, self.path)
            self._mark_open()
        except BaseException:
            self._db.close()
            raise

    def _integrity_due(self) -> bool:
        """Whether to run ``quick_check`` (which reads the whole file): the first open of a day, after
        an unclean shutdown, or when the file cannot tell (new, older, or unreadable meta)."""
        try:
            if self._db.execute("PRAGMA user_version").fetchone()[0] > SCHEMA_VERSION:
                return False                    # migrate() refuses it without touching the file
            rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                         (_META_CLEAN, _META_CHECKED)).fetchall())
        except sqlite3.DatabaseError:
            return True
        return rows.get(_META_CLEAN) != "1" or rows.get(_META_CHECKED) != _utcnow().date().isoformat()

    def _mark_open(self) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, '0') "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (_META_CLEAN,))
            if self.integrity_checked:
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", (_META_CHECKED, _utcnow().date().isoformat()))

    def _check_integrity(self) -> None:
        try:
            row = self._db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalCorrupt(f"{self.path} is damaged ({exc}); it was left untouched. Move it aside "
                                 "and restore a backup.") from exc
        if row[0] != "ok":
            raise JournalCorrupt(f"{self.path} failed its integrity check ({row[0]}); it was left "
                                 "untouched. Move it aside and restore a backup.")
        self.integrity_checked = True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:        # e.g. the disk filled up during the commit
                    self._db.execute("ROLLBACK")
                raise

    def append(self, payload: Any, *, record_id: str | None = None, priority: int | None = None,
               created_at: datetime | None = None) -> AppendResult:
        """Store one record and its outbox row in one transaction; return after the commit.

        Args:
            payload: a dataclass registered with ``@record_kind``.
            record_id: a deterministic id (e.g. uuid5 of a device reading) makes the append
                idempotent: a second append with the same id returns the stored record.
            priority: outbox priority, default the kind's ``PRIORITY``.
            created_at: wall-clock time, default now (UTC).

        Raises:
            PrivacyViolation: the payload contains a full ID number.
            RecordRefused: the payload is over the size limit or holds NaN or Infinity.
            StorageFull: the disk is full; nothing was stored.
        """
        kind = type(payload).KIND
        try:
            body = payload_to_json(payload)
        except ValueError:
            raise RecordRefused(f"a {kind} payload holds NaN or Infinity; refused") from None
        size = len(body.encode("utf-8"))
        if size > MAX_PAYLOAD_BYTES:
            raise RecordRefused(f"a {kind} payload of {size} bytes is over the limit of {MAX_PAYLOAD_BYTES} "
                                "bytes; refused")
        if contains_id_number(body):
            raise PrivacyViolation(f"a {kind} payload carries a full ID number; refused")
        try:
            check_payload(kind, json.loads(body))     # the hub's door applies the same schema
        except PayloadError as exc:
            raise RecordRefused(f"a {kind} payload does not fit its schema ({exc}); refused") from None
        rid = record_id or str(uuid.uuid4())
        ts = (created_at or _utcnow()).astimezone(timezone.utc)
        ts = ts.replace(microsecond=ts.microsecond // 1000 * 1000)   # stored with millisecond precision
        prio = type(payload).PRIORITY if priority is None else priority
        try:
            result = self._insert(rid, kind, ts, body, prio, payload)
        except sqlite3.OperationalError as exc:
            if is_disk_full(exc):
                raise StorageFull(f"the disk under {self.path.parent} is full; the {kind} record was not "
                                  "saved") from exc
            raise
        if result.created:
            for listener in list(self.listeners):
                listener(result.record)
        return result

    def _insert(self, rid: str, kind: str, ts: datetime, body: str, prio: int, payload: Any) -> AppendResult:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM records WHERE id = ?", (rid,)).fetchone()
            if row:
                return AppendResult(self._row_to_record(row), created=False)
            seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM records WHERE station_id = ?",
                             (self.station_id,)).fetchone()[0]
            stamp = ts.isoformat(timespec="milliseconds")
            db.execute("INSERT INTO records (id, station_id, seq, kind, created_at, payload) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (rid, self.station_id, seq, kind, stamp, body))
            db.execute("INSERT INTO outbox (record_id, seq, priority, enqueued_at) VALUES (?, ?, ?, ?)",
                       (rid, seq, prio, stamp))
        return AppendResult(Record(rid, self.station_id, seq, kind, ts, payload), created=True)

    def erase_person(self, person_key: str, by_record: str) -> int:
        """Erase the health payloads of one person (after their consent withdrawal ``by_record``).

        Each erased record keeps its id, sequence number, kind and time; its payload becomes
        ``{"erased": by_record}``, which the read methods skip. Outbox rows not yet sent are settled
        (a tombstone is never sent: the withdrawal record tells the hub to delete by person key).
        The write-ahead log is checkpointed so the old payloads leave it too. Idempotent; returns
        how many records were erased now.
        """
        kinds = ", ".join("?" * len(ERASABLE_KINDS))
        stamp = _utcnow().isoformat(timespec="milliseconds")
        with self._transaction() as db:
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM records WHERE kind IN ({kinds}) AND json_extract(payload, '$.person_key') = ?",
                (*ERASABLE_KINDS, person_key))]
            for rid in ids:
                db.execute("UPDATE records SET payload = json_object('erased', ?) WHERE id = ?", (by_record, rid))
                db.execute("UPDATE outbox SET state = 'acked', acked_at = ? WHERE record_id = ? AND state = 'ready'",
                           (stamp, rid))
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(ids)

    @staticmethod
    def _row_to_record(row: tuple) -> Record:
        rid, station, seq, kind, created_at, payload = row
        return Record(rid, station, seq, kind, datetime.fromisoformat(created_at),
                      payload_from_dict(kind, json.loads(payload)))

    def get(self, record_id: str) -> Record | None:
        """The record with that id, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT * FROM records WHERE id = ? AND {_LIVE}", (record_id,)).fetchone()
        return self._row_to_record(row) if row else None

    def records(self, kind: str | None = None, *, after_seq: int = 0, limit: int = 1000,
                newest_first: bool = False, where: dict[str, Any] | None = None) -> list[Record]:
        """Records in sequence order (or newest first), optionally of one kind.

        Args:
            where: equality filters on top-level payload fields, e.g. ``{"person_key": k}``.
        """
        sql = f"SELECT * FROM records WHERE seq > ? AND {_LIVE}"
        args: list[Any] = [after_seq]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        for key, value in (where or {}).items():
            if not key.isidentifier():
                raise ValueError(f"bad payload field name {key!r}")
            sql += f" AND json_extract(payload, '$.{key}') = ?"
            args.append(value)
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._row_to_record(r) for r in rows]

    def count(self, kind: str | None = None) -> int:
        """How many records (of one kind) the journal holds."""
        with self._lock:
            if kind:
                return self._db.execute(f"SELECT count(*) FROM records WHERE kind = ? AND {_LIVE}",
                                        (kind,)).fetchone()[0]
            return self._db.execute(f"SELECT count(*) FROM records WHERE {_LIVE}").fetchone()[0]

    def pending_count(self) -> int:
        """Outbox rows not synced: waiting, in flight, or refused by the hub (an indexed count of those rows only)."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox WHERE state IN ('ready', 'inflight', 'rejected')"
                                    ).fetchone()[0]

    def last_seq(self, kinds: tuple[str, ...]) -> int:
        """The highest seq of a record of these kinds (0 if none): a cheap change marker."""
        marks = ", ".join("?" * len(kinds))
        with self._lock:
            return self._db.execute(f"SELECT coalesce(max(seq), 0) FROM records WHERE kind IN ({marks})",
                                    kinds).fetchone()[0]

    def each(self, kind: str, *, after_seq: int = 0, where: dict[str, Any] | None = None,
             page: int = 500) -> Iterator[Record]:
        """Every record of a kind after a seq, in seq order, read a page at a time."""
        while True:
            rows = self.records(kind, after_seq=after_seq, where=where, limit=page)
            yield from rows
            if len(rows) < page:
                return
            after_seq = rows[-1].seq

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A value from the journal's key/value table."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the journal's key/value table (committed before returning)."""
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def close(self) -> None:
        """Record a clean shutdown (the next open skips the day's integrity check), close, and seal
        the file (``kiosk.journal_seal``: the next open checks it is unchanged, or runs the full check)."""
        try:
            self.set_meta(_META_CLEAN, "1")
            clean = True
        except sqlite3.Error:
            clean = False                       # then the next open checks the file, which is right
        with self._lock:
            if clean:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    pass                        # a reader elsewhere: the seal covers the log as it is
            self._db.close()
        if clean:
            try:
                write_seal(self.path)
            except OSError:
                pass                            # no seal: the next open runs the full check

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
