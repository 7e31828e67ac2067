"""The district hub: validate every message, store records by (station, id), ack after commit.

:class:`HubStore` is the storage and validation core (no MQTT): ``handle_records`` turns one
batch message into database rows plus the ack to send, and sets everything it cannot accept aside
with the reason: invalid records as dead letters (:mod:`hub.deadletters`), a record whose
(station, id) is already stored with other content as a conflict. The ack names every record not
stored, so the station keeps exactly those. :class:`hub.service.Hub` connects it to the broker
with an MQTT 5 shared subscription (``$share/hub/<base>/+/records``) so that several hub processes
split the load.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import authority
from hub import deadletters
from hub import care
from hub import ledger
from hub import models as m
from hub import people
from hub import person_links
from hub import quotas
from hub.people import HEALTH_KINDS
from hub import requests
from hub import station_status
from hub.database import HubError, insert_records, open_engine
from sync.documents import MAX_DOCUMENT_VERSION, Document, expiry_of, make_document, sign_document
from sync.messages import (ALL_STATIONS, SUFFIX_ACK, Ack, Batch, MessageError,
                           SchemaError, decode_batch, encode_ack, valid_station_id)
from sync.screening import redact

log = logging.getLogger(__name__)

#: An explicit ``--version`` may jump at most this far past the published one (a typo such as
#: 2^62 would otherwise leave no room for any later document).
MAX_VERSION_STEP = 1000


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _insert(conn: Connection, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


@dataclass(frozen=True)
class Reply:
    """A message the hub sends after handling one (an ack)."""

    station: str
    suffix: str
    payload: bytes


class HubStore:
    """Storage and validation of everything stations send.

    Args:
        db: a SQLAlchemy URL or a SQLite file path.
        name: this hub process's name, stored with each record it commits.
        migrate: bring the schema to the newest revision when safe (:func:`hub.schema.upgrade`);
            False opens only a database already at the newest revision and changes no schema.

    Raises:
        HubError: the database cannot be reached, or its schema cannot be used (the text says why).
    """

    def __init__(self, db: str, name: str = "hub", migrate: bool = True) -> None:
        self.name = name[:64]
        self.engine = open_engine(db, migrate=migrate)
        self.handled = 0
        self.dead = 0
        #: Batches set aside whole because storing them raised (see :meth:`_set_aside`).
        self.failed_batches = 0
        #: Records refused beyond a station's daily quota (:mod:`hub.quotas`), and the quotas.
        self.quota_refused = 0
        self.quotas = dict(quotas.DAILY)
        self._limits_checked = 0.0
        #: Set when stored records changed a service request (the ``requests`` document is due).
        self.requests_changed = threading.Event()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # --- incoming ------------------------------------------------------------------------------

    def _dead_letter(self, conn: Connection, topic: str, station: str | None, reason: str, raw: bytes,
                     record_id: str | None = None, keep: bool = True) -> None:
        """Set a message or record aside in ``conn``'s transaction; the caller counts it in
        :attr:`dead` once that transaction has committed (a retried one is not counted twice)."""
        deadletters.add(conn, topic, station, reason, raw, record_id=record_id, keep=keep)
        now = time.monotonic()
        if now - self._limits_checked >= deadletters.ENFORCE_EVERY_S:
            self._limits_checked = now
            deadletters.enforce_limits(conn)

    def reject(self, topic: str, station: str | None, reason: str, raw: bytes) -> None:
        """Store a whole message as a dead letter (its own transaction); ID numbers never reach the
        log or the table."""
        log.warning("dead letter from %s: %s", redact(topic[:200]), redact(reason[:300]))
        with self.engine.begin() as conn:
            self._dead_letter(conn, topic, station, reason, raw)
        self.dead += 1

    def with_retry(self, fn, attempts: int = 3):
        """``fn()``, tried again (up to ``attempts`` times) when the database is busy."""
        for attempt in range(attempts):
            try:
                return fn()
            except OperationalError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def handle_records(self, topic: str, station: str, raw: bytes) -> Reply | None:
        """Validate and store one batch message; return the ack to publish after the commit.

        Invalid messages become dead letters and get no ack (None). Never raises for bad input;
        a database failure raises :class:`HubError` (no ack is sent, so the station resends).
        """
        batch = self.validate_records(topic, station, raw)
        return None if batch is None else self.store_batch(topic, batch)

    def validate_records(self, topic: str, station: str, raw: bytes) -> Batch | None:
        """Decode a batch message; a message that cannot be accepted becomes a dead letter (None)."""
        self.handled += 1
        if not valid_station_id(station):
            self.reject(topic, None, f"topic station {redact(station[:70])!r} is not a valid station id", raw)
            return None
        try:
            return decode_batch(raw, station)
        except MessageError as exc:
            self.reject(topic, station, f"{type(exc).__name__}: {exc}", raw)
            return None

    def store_batch(self, topic: str, batch: Batch) -> Reply:
        """Commit a validated batch (records by id, rejected records as dead letters); return its ack.

        Raises:
            HubError: the database failed after retries; nothing was acknowledged.
        """
        result = self.store_batches([(topic, batch)])[0]
        if isinstance(result, HubError):
            raise result
        return result

    def store_batches(self, items: Sequence[tuple[str, Batch]]) -> list[Reply | HubError]:
        """Commit several validated batches in one transaction (group commit) and return each one's
        ack, in order, to be published after that commit.

        Every batch is stored exactly as :meth:`store_batch` would store it alone, one after the
        other; only the commit (the disk sync) is shared. When the shared transaction fails, each
        batch is stored in its own, so that a batch the database refuses holds back no other: its
        place in the result is then the :class:`HubError` saying why (nothing of it acknowledged).
        """
        if not items:
            return []
        try:
            acks = self.with_retry(lambda: self._store_all(items))
        except Exception as exc:       # noqa: BLE001 - whatever a batch raises, the writer goes on
            if len(items) > 1:
                return [result for item in items for result in self.store_batches([item])]
            topic, batch = items[0]
            if isinstance(exc, (SQLAlchemyError, HubError)):    # the database refused: no ack, resent later
                return [exc if isinstance(exc, HubError)
                        else HubError(f"cannot store batch {batch.batch_id} of {batch.station}: {exc}")]
            return [self._set_aside(topic, batch, exc)]
        return [Reply(batch.station, SUFFIX_ACK, encode_ack(ack)) for (_, batch), ack in zip(items, acks)]

    def _set_aside(self, topic: str, batch: Batch, exc: Exception) -> Reply | HubError:
        """A batch whose storing raised something other than a database error (a payload no check
        foresaw): every record of it becomes a dead letter, the ack refuses them all as ``invalid``,
        :attr:`failed_batches` counts it and the log names it. Nothing of it reaches a fold."""
        log.error("batch %s of %s set aside: storing it raised %s: %s", batch.batch_id, batch.station,
                  type(exc).__name__, redact(str(exc)[:300]))
        self.failed_batches += 1
        reason = f"the hub could not apply this batch ({type(exc).__name__}); set aside whole"
        try:
            with self.engine.begin() as conn:
                for index, r in zip(batch.indices, batch.records):
                    self._dead_letter(conn, topic, batch.station, f"record {index}: {reason}",
                                      r.to_json().encode("utf-8"), r.id)
                for (index, rid, why, text), code in zip(batch.rejected, batch.codes):
                    self._dead_letter(conn, topic, batch.station, f"record {index}: {why}", text.encode("utf-8"),
                                      rid, keep=code != "privacy")
        except SQLAlchemyError as db_exc:
            return HubError(f"cannot set batch {batch.batch_id} of {batch.station} aside: {db_exc}")
        self.dead += len(batch.records) + len(batch.rejected)
        refused = sorted([(i, "invalid") for i in batch.indices] + [(i, c) for (i, *_), c in zip(batch.rejected,
                                                                                                batch.codes)])
        ack = Ack(batch.batch_id, 0, 0, len(refused), tuple(refused))
        return Reply(batch.station, SUFFIX_ACK, encode_ack(ack))

    def _store_all(self, items: Sequence[tuple[str, Batch]]) -> list[Ack]:
        now = _now()
        with self.engine.begin() as conn:
            stored = [self._store(conn, topic, batch, now) for topic, batch in items]
            for station in sorted({batch.station for _, batch in items}):
                ins = _insert(conn, m.stations).values(station=station, state="online", last_seen=now,
                                                       last_batch_at=now)
                conn.execute(ins.on_conflict_do_update(index_elements=["station"],
                                                       set_={"last_seen": now, "last_batch_at": now}))
        self.dead += sum(set_aside for _, set_aside in stored)
        self.quota_refused += sum(code == "quota" for ack, _ in stored for _, code in ack.refused)
        return [ack for ack, _ in stored]

    def _store(self, conn: Connection, topic: str, batch: Batch, now: datetime) -> tuple[Ack, int]:
        """Store one batch in ``conn``'s transaction: its ack and how many records it set aside as
        dead letters."""
        ph = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        refused: list[tuple[int, str]] = [(index, code) for (index, *_), code in zip(batch.rejected, batch.codes)]
        incoming: dict[str, tuple[int, Any]] = {}
        repeats: list[tuple[int, Any]] = []
        for index, r in zip(batch.indices, batch.records):
            if r.id in incoming:
                repeats.append((index, r))
            else:
                incoming[r.id] = (index, r)
        # Insert first and read back only what was not added: a resent batch is the exception, so
        # the common batch costs no lookup of its ids. RETURNING names exactly the rows this
        # transaction added (their time-bank facts are kept once).
        added = insert_records(conn, [(r.station, r.id, r.seq, r.kind, r.ts, r.payload_json, batch.batch_id,
                                       self.name, now) for _, r in incoming.values()])
        held = {rid: (r.seq, r.kind, r.ts, r.payload_json) for rid, (_, r) in incoming.items() if rid in added}
        held.update(self._held(conn, batch.station, [rid for rid in incoming if rid not in added], ph))
        fresh, dups, conflicts = [r for _, r in incoming.values() if r.id in added], 0, []
        incoming_by_index = {index: r for index, r in incoming.values()}
        for index, r in [item for item in incoming.values() if item[1].id not in added] + repeats:
            stored = held.get(r.id)
            if stored is None:            # cannot happen while (station, id) is the primary key
                raise HubError(f"record {r.id} of {batch.station} was neither stored nor found")
            if stored == (r.seq, r.kind, r.ts, r.payload_json) or (r.kind in HEALTH_KINDS and (
                    r.payload_json.startswith(m.ERASED_PREFIX) or str(stored[3]).startswith(m.ERASED_PREFIX))
                    and stored[:3] == (r.seq, r.kind, r.ts)) or (
                    stored[:3] == (r.seq, r.kind, r.ts) and person_links.same_link(r.kind, r.payload_json, stored[3])):
                dups += 1            # the same record; or one erased (at the kiosk or here) after it was sent
            else:
                conflicts.append((index, r, stored))
        denied = authority.check(conn, batch.station, [(incoming[r.id][0], r) for r in fresh])
        over = quotas.take(conn, batch.station, [(incoming[r.id][0], r) for r in fresh
                                                 if incoming[r.id][0] not in denied], now, self.quotas)
        codes = {**{i: "authority" for i in denied}, **{i: "quota" for i in over}}
        denied = {**denied, **over}
        if denied:
            fresh = [r for r in fresh if incoming[r.id][0] not in denied]
            for index, why in sorted(denied.items()):
                r = incoming_by_index[index]
                self._dead_letter(conn, topic, batch.station, f"record {index}: refused ({codes[index]}): {why}",
                                  r.to_json().encode("utf-8"), r.id)
                refused.append((index, codes[index]))
                log.warning("record %s of %s refused: %s", r.id, batch.station, why)
        named = ledger.apply(conn, [(r.id, r.station, r.seq, r.kind, r.ts, r.payload_json) for r in fresh])
        if requests.apply_records(conn, fresh, arrived=now):
            self.requests_changed.set()
        people.apply_withdrawals(conn, named)
        person_links.relabel_links(conn, fresh)        # the old key of a link is kept nowhere here
        care.apply_named(conn, named)
        for index, r, stored in conflicts:
            digest, c = _digest(r.seq, r.kind, r.ts, r.payload_json), m.conflicts.c
            if conn.execute(select(c.record_id).where((c.station == r.station) & (c.record_id == r.id)
                                                      & (c.digest == digest))).first() is None:
                conn.execute(m.conflicts.insert().values(      # the same conflict resent is kept once
                    received_at=now, station=r.station, record_id=r.id, batch_id=batch.batch_id, seq=r.seq,
                    kind=r.kind, ts=r.ts, payload=r.payload_json, digest=digest,
                    stored_digest=_digest(*stored), hub=self.name))
                deadletters.cap_conflicts(conn, r.station)
            refused.append((index, "conflict"))
            log.warning("conflict: %s already holds record %s with other content; the new one is kept aside",
                        r.station, r.id)
        settled = self._already_stored(conn, batch.foreign)
        dups += len(settled)
        refused = [r for r in refused if r[0] not in settled]
        set_aside = len(denied)
        for (index, rid, reason, text), code in zip(batch.rejected, batch.codes):
            if index not in settled:
                self._dead_letter(conn, topic, batch.station, f"record {index}: {reason}", text.encode("utf-8"),
                                  rid, keep=code != "privacy")
                set_aside += 1
        named = tuple((index, f) for (index, *_), f in zip(batch.rejected, batch.fields) if f and index not in settled)
        return Ack(batch.batch_id, len(fresh), dups, len(refused), tuple(sorted(refused)), named), set_aside

    @staticmethod
    def _held(conn: Connection, station: str, ids: list[str], ph: str) -> dict[str, tuple]:
        """The stored (seq, kind, ts, payload) of those of ``ids`` the station's records hold."""
        held = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            sql = (f"SELECT id, seq, kind, ts, payload FROM hub_records WHERE station = {ph} "
                   f"AND id IN ({', '.join([ph] * len(chunk))})")
            held.update((rid, tuple(content)) for rid, *content in conn.exec_driver_sql(sql, (station, *chunk)))
        return held

    @staticmethod
    def _already_stored(conn: Connection, foreign: tuple) -> set[int]:
        """Indices of records naming another station that are stored there exactly as sent."""
        settled = set()
        for index, r in foreign:
            row = conn.execute(select(m.records.c.seq, m.records.c.kind, m.records.c.ts, m.records.c.payload)
                               .where((m.records.c.station == r.station) & (m.records.c.id == r.id))).first()
            if row is not None and tuple(row) == (r.seq, r.kind, r.ts, r.payload_json):
                settled.add(index)
        return settled

    def handle_status(self, topic: str, station: str, raw: bytes, retained: bool = False) -> None:
        """Record a station's status message (invalid ones become dead letters). A live (not
        retained) ``online`` status also records the doctor summary and the station's clock offset
        (:mod:`hub.station_status`)."""
        station_status.handle_status(self, topic, station, raw, retained)

    # --- queries and documents ----------------------------------------------------------------

    def count_records(self, station: str | None = None) -> int:
        """How many records the hub holds (for one station)."""
        q = select(func.count()).select_from(m.records)
        if station:
            q = q.where(m.records.c.station == station)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar_one()

    def dead_letters(self, station: str | None = None) -> list[dict]:
        """Dead letters, oldest first (see :func:`hub.deadletters.listing`)."""
        with self.engine.connect() as conn:
            return deadletters.listing(conn, station)

    def conflicts(self, station: str | None = None) -> list[dict]:
        """Records kept aside because their (station, id) was already stored with other content."""
        with self.engine.connect() as conn:
            return deadletters.conflict_listing(conn, station)

    def replay(self, dead_letter_id: int) -> str:
        """Run a dead letter through the door again (:func:`hub.deadletters.replay`)."""
        return deadletters.replay(self, dead_letter_id)

    def stations(self) -> list[dict]:
        """Every known station with status, last seen, queue depth, applied documents, records held."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.stations).order_by(m.stations.c.station)).mappings().all()
            counts = dict(conn.execute(select(m.station_counts.c.station, m.station_counts.c.records)).all())
        out = []
        for r in rows:
            d = dict(r)
            d["documents"] = json.loads(d["documents"]) if d.get("documents") else {}
            d["records"] = int(counts.get(d["station"], 0))
            out.append(d)
        return out

    def station_health(self) -> dict[str, dict]:
        """Per station: the last doctor summary it sent, whether it was healthy, and its clock offset."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.station_health)).mappings().all()
        return {r["station"]: {**dict(r), "health": json.loads(r["health"]) if r["health"] else None} for r in rows}

    def published_body(self, doc_type: str, scope: str = ALL_STATIONS) -> Any:
        """The body of the latest published document of ``doc_type`` for ``scope``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(m.documents.c.body).where(
                (m.documents.c.doc_type == doc_type) & (m.documents.c.scope == scope))).first()
        return json.loads(row[0]) if row else None

    def prepare_document(self, doc_type: str, body: Any, scope: str = ALL_STATIONS, version: int | None = None,
                         signing_key: Ed25519PrivateKey | None = None) -> Document:
        """Validate a document, give it the next version for its type and scope, sign it, and store it.

        Args:
            version: an explicit version: higher than the stored one, at most
                :data:`MAX_VERSION_STEP` past it; default stored + 1.
            signing_key: the hub's document key (kiosks refuse unsigned documents).

        Raises:
            MessageError: the document would be rejected by kiosks (nothing is stored).
        """
        with self.engine.begin() as conn:
            row = conn.execute(select(m.documents.c.version).where(
                (m.documents.c.doc_type == doc_type) & (m.documents.c.scope == scope))).first()
            current = row[0] if row else 0
            if version is not None and version <= current:
                raise SchemaError(f"{doc_type} version {version} is not newer than the published {current}")
            if version is not None and version > current + MAX_VERSION_STEP:
                raise SchemaError(f"{doc_type} version {version} jumps more than {MAX_VERSION_STEP} past the "
                                  f"published {current}; versions run out at {MAX_DOCUMENT_VERSION}")
            issued = _now().isoformat(timespec="milliseconds")
            doc = make_document(doc_type, version or current + 1, scope, issued, body, expiry_of(doc_type, issued))
            if signing_key is not None:
                doc = sign_document(doc, signing_key)
            values = {"version": doc.version, "issued": issued, "body": json.dumps(body, ensure_ascii=False)}
            if row:
                conn.execute(update(m.documents).where((m.documents.c.doc_type == doc_type) &
                                                       (m.documents.c.scope == scope)).values(**values))
            else:
                conn.execute(m.documents.insert().values(doc_type=doc_type, scope=scope, **values))
        return doc


def _digest(seq: int, kind: str, ts: str, payload: str) -> str:
    return hashlib.sha256(f"{seq}\n{kind}\n{ts}\n{payload}".encode()).hexdigest()
