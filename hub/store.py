"""The district hub: validate every message, upsert records by id, ack after commit.

:class:`HubStore` is the storage and validation core (no MQTT): ``handle_records`` turns one
batch message into database rows plus the ack to send, and sets everything it cannot accept aside
as dead letters with the reason. :class:`Hub` connects it to the broker with an MQTT 5 shared
subscription (``$share/hub/<base>/+/records``) so that several hub processes split the load.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from hub import models as m
from hub import requests
from hub.database import HubError, open_engine
from sync.messages import (ALL_STATIONS, DOCUMENT_TYPES, MAX_BATCH_BYTES, SUFFIX_ACK, SUFFIX_RECORDS, SUFFIX_STATUS,
                           Ack, Batch, Document, MessageError, SchemaError, decode_ack, decode_batch, decode_status, encode_ack, encode_document,
                           make_document, valid_station_id)
from sync.mqtt import MqttLink

log = logging.getLogger(__name__)

#: Dead letters keep at most this much of the offending message.
DEAD_LETTER_KEEP = MAX_BATCH_BYTES


#: A kiosk's consent withdrawal record, and the health record kinds it deletes by person key.
WITHDRAWAL_KIND = "consent_withdrawn"
HEALTH_KINDS = ("bp_measurement", "glucose_measurement", "health_alert")


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
        #: Set when stored records changed a service request (the ``requests`` document is due).
        self.requests_changed = threading.Event()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # --- incoming ------------------------------------------------------------------------------

    def _dead_letter(self, conn: Connection, topic: str, station: str | None, reason: str, raw: bytes,
                     record_id: str | None = None) -> None:
        conn.execute(m.dead_letters.insert().values(
            received_at=_now(), topic=topic[:512], station=(station or "")[:64] or None, record_id=record_id,
            reason=reason[:2000], size=len(raw), payload=raw[:DEAD_LETTER_KEEP]))
        self.dead += 1

    def reject(self, topic: str, station: str | None, reason: str, raw: bytes) -> None:
        """Store a whole message as a dead letter (its own transaction)."""
        log.warning("dead letter from %s: %s", topic[:200], reason[:300])
        with self.engine.begin() as conn:
            self._dead_letter(conn, topic, station, reason, raw)

    def _with_retry(self, fn, attempts: int = 3):
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
            self.reject(topic, None, f"topic station {station[:70]!r} is not a valid station id", raw)
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
        try:
            ack = self._with_retry(lambda: self._store(topic, batch))
        except SQLAlchemyError as exc:
            raise HubError(f"cannot store batch {batch.batch_id} of {batch.station}: {exc}") from exc
        return Reply(batch.station, SUFFIX_ACK, encode_ack(ack))

    def _store(self, topic: str, batch: Batch) -> Ack:
        now = _now()
        ph = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.begin() as conn:
            fresh: dict[str, Any] = {}
            for r in batch.records:
                fresh.setdefault(r.id, r)
            ids = list(fresh)
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                sql = f"SELECT id FROM hub_records WHERE id IN ({', '.join([ph] * len(chunk))})"
                for (rid,) in conn.exec_driver_sql(sql, tuple(chunk)).fetchall():
                    fresh.pop(rid, None)
            if fresh:
                # Plain driver SQL: compiling a 500-row executemany through the ORM layer costs more
                # than the insert itself. ON CONFLICT covers a concurrent hub storing the same id.
                conn.exec_driver_sql(
                    "INSERT INTO hub_records (id, station, seq, kind, ts, payload, batch_id, hub, received_at) "
                    f"VALUES ({', '.join([ph] * 9)}) ON CONFLICT (id) DO NOTHING",
                    [(r.id, r.station, r.seq, r.kind, r.ts, r.payload_json, batch.batch_id, self.name, now)
                     for r in fresh.values()])
                if requests.apply_records(conn, fresh.values()):
                    self.requests_changed.set()
            self._apply_withdrawals(conn, list(fresh.values()), ph)
            for index, rid, reason, text in batch.rejected:
                self._dead_letter(conn, topic, batch.station, f"record {index}: {reason}", text.encode("utf-8"), rid)
            ins = _insert(conn, m.stations).values(station=batch.station, state="online", last_seen=now,
                                                   last_batch_at=now)
            conn.execute(ins.on_conflict_do_update(index_elements=["station"],
                                                   set_={"last_seen": now, "last_batch_at": now}))
        return Ack(batch.batch_id, len(fresh), len(batch.records) - len(fresh), len(batch.rejected))

    def _apply_withdrawals(self, conn: Connection, records: list, ph: str) -> None:
        """A consent withdrawal deletes that person's health records from every station (by person
        key); a health record arriving after a withdrawal of the same person is deleted too."""
        def key(r) -> str:
            try:
                return str(json.loads(r.payload_json).get("person_key", ""))
            except (ValueError, AttributeError):
                return ""
        withdrawn = {key(r) for r in records if r.kind == WITHDRAWAL_KIND} - {""}
        health = {key(r) for r in records if r.kind in HEALTH_KINDS} - {""} - withdrawn
        if health:
            keys = sorted(health)
            sql = (f"SELECT payload FROM hub_records WHERE kind = {ph} AND "
                   f"{self._json_field('person_key')} IN ({', '.join([ph] * len(keys))})")
            withdrawn |= {json.loads(p).get("person_key") for (p,) in
                          conn.exec_driver_sql(sql, (WITHDRAWAL_KIND, *keys)).fetchall()}
        for person in sorted(withdrawn):
            conn.exec_driver_sql(
                f"DELETE FROM hub_records WHERE kind IN ({', '.join([ph] * len(HEALTH_KINDS))}) "
                f"AND {self._json_field('person_key')} = {ph}", (*HEALTH_KINDS, person))

    def _json_field(self, name: str) -> str:
        """SQL for a top-level text field of the stored payload, in this database's dialect."""
        if self.engine.dialect.name == "postgresql":
            return f"(payload::json ->> '{name}')"
        return f"json_extract(payload, '$.{name}')"

    def handle_status(self, topic: str, station: str, raw: bytes, retained: bool = False) -> None:
        """Record a station's status message (invalid ones become dead letters). A live (not
        retained) ``online`` status also records the doctor summary and the station's clock offset."""
        if not raw:
            return
        try:
            st = decode_status(raw, station if valid_station_id(station) else "\0")
        except MessageError as exc:
            self.reject(topic, station if valid_station_id(station) else None, f"{type(exc).__name__}: {exc}", raw)
            return
        values: dict[str, Any] = {"state": st.state, "status_ts": st.ts, "last_seen": _now()}
        if st.app:
            values["app"] = st.app
        if st.queue is not None:
            values.update(queue_depth=st.queue, oldest_unsynced=st.oldest, last_ack=st.last_ack, warn=st.warn,
                          documents=json.dumps(st.documents, sort_keys=True))

        arrived = _now()
        health = {"received_at": arrived, "status_ts": st.ts,
                  "clock_offset_s": (arrived - datetime.fromisoformat(st.ts)).total_seconds(),
                  "healthy": None if st.health is None else st.health["ok"],
                  "health": None if st.health is None else json.dumps(st.health, ensure_ascii=False)}

        def write():
            with self.engine.begin() as conn:
                row = conn.execute(select(m.stations.c.status_ts).where(m.stations.c.station == st.station)).first()
                if row and row[0] and row[0] > st.ts:
                    return
                ins = _insert(conn, m.stations).values(station=st.station, **values)
                conn.execute(ins.on_conflict_do_update(index_elements=["station"], set_=values))
                if st.state == "online" and not retained:
                    ins = _insert(conn, m.station_health).values(station=st.station, **health)
                    conn.execute(ins.on_conflict_do_update(index_elements=["station"], set_=health))
        try:
            self._with_retry(write)
        except SQLAlchemyError as exc:
            log.error("cannot store the status of %s: %s", st.station, exc)

    # --- queries and documents ----------------------------------------------------------------

    def count_records(self, station: str | None = None) -> int:
        """How many records the hub holds (for one station)."""
        q = select(func.count()).select_from(m.records)
        if station:
            q = q.where(m.records.c.station == station)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar_one()

    def dead_letters(self) -> list[dict]:
        """All dead letters, oldest first (reason, topic, station, size)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.dead_letters.c.id, m.dead_letters.c.topic, m.dead_letters.c.station,
                                       m.dead_letters.c.record_id, m.dead_letters.c.reason, m.dead_letters.c.size)
                                .order_by(m.dead_letters.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def stations(self) -> list[dict]:
        """Every known station with status, last seen, queue depth, applied documents."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.stations).order_by(m.stations.c.station)).mappings().all()
            counts = dict(conn.execute(select(m.records.c.station, func.count()).group_by(m.records.c.station)).all())
        out = []
        for r in rows:
            d = dict(r)
            d["documents"] = json.loads(d["documents"]) if d.get("documents") else {}
            d["records"] = counts.get(d["station"], 0)
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

    def prepare_document(self, doc_type: str, body: Any, scope: str = ALL_STATIONS,
                         version: int | None = None) -> Document:
        """Validate a document, give it the next version for its type and scope, and store it.

        Args:
            version: an explicit version (must be higher than the stored one); default stored + 1.

        Raises:
            MessageError: the document would be rejected by kiosks (nothing is stored).
        """
        with self.engine.begin() as conn:
            row = conn.execute(select(m.documents.c.version).where(
                (m.documents.c.doc_type == doc_type) & (m.documents.c.scope == scope))).first()
            current = row[0] if row else 0
            if version is not None and version <= current:
                raise SchemaError(f"{doc_type} version {version} is not newer than the published {current}")
            issued = _now().isoformat(timespec="milliseconds")
            doc = make_document(doc_type, version or current + 1, scope, issued, body)
            values = {"version": doc.version, "issued": issued, "body": json.dumps(body, ensure_ascii=False)}
            if row:
                conn.execute(update(m.documents).where((m.documents.c.doc_type == doc_type) &
                                                       (m.documents.c.scope == scope)).values(**values))
            else:
                conn.execute(m.documents.insert().values(doc_type=doc_type, scope=scope, **values))
        return doc


class Hub:
    """A hub process: the store behind a shared MQTT subscription.

    Messages are validated on the MQTT thread and committed by a writer thread, so the next
    batch is parsed while the previous one is being written to disk. The ack is published only
    after the commit; a batch the broker delivered but the hub did not commit (crash) is resent
    by its station after the ack timeout.

    Args:
        store: the database side.
        host, port, base_topic, tls, ca_file, username, password: the broker.
        share: the shared-subscription group; every hub process of a district uses the same.
        client_id: unique per process (default ``hub-<host>-<pid>``).
        reconnect_max_s: longest wait between reconnect attempts.
        metrics: a :class:`hub.metrics.HubMetrics` to count batches and ack latency (optional).
        heartbeat: called by the writer thread at least once a second (systemd watchdog).
    """

    def __init__(self, store: HubStore, *, host: str, port: int, base_topic: str = "yizhan/v1", share: str = "hub",
                 tls: bool = False, ca_file: str = "", username: str = "", password: str = "",
                 client_id: str | None = None, keepalive: int = 30, reconnect_max_s: float = 30,
                 metrics: Any = None, heartbeat: Callable[[], None] | None = None) -> None:
        self.store = store
        self.metrics = metrics
        self.heartbeat = heartbeat or (lambda: None)
        self.ready = threading.Event()
        self._queue: queue.Queue[tuple[str, Batch, float] | None] = queue.Queue(maxsize=8)
        self._writer: threading.Thread | None = None
        self.link = MqttLink(host=host, port=port, base_topic=base_topic,
                             client_id=client_id or f"hub-{socket.gethostname()}-{os.getpid()}",
                             tls=tls, ca_file=ca_file, username=username, password=password, keepalive=keepalive,
                             on_connect=self.ready.set, reconnect_max_s=reconnect_max_s)
        self.link.subscribe(SUFFIX_RECORDS, self._on_records, station="+", share=share)
        self.link.subscribe(SUFFIX_STATUS, self._on_status, station="+")

    def _on_records(self, station: str, suffix: str, payload: bytes, retained: bool) -> None:
        topic = f"{self.link.base_topic}/{station}/{suffix}"
        batch = self.store.validate_records(topic, station, payload)
        if batch is not None:
            arrived = self.metrics.batch_received(station, len(batch.records)) if self.metrics else time.monotonic()
            self._queue.put((topic, batch, arrived))

    def _write(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                self.heartbeat()
                continue
            self.heartbeat()
            if item is None:
                return
            topic, batch, arrived = item
            try:
                reply = self.store.store_batch(topic, batch)
            except HubError as exc:
                log.error("%s; the station will resend", exc)
                continue
            try:
                self.link.publish(reply.suffix, reply.payload, station=reply.station)
                if self.metrics:
                    ack = decode_ack(reply.payload)
                    self.metrics.batch_acked(reply.station, ack.stored, ack.duplicates, arrived)
            except Exception as exc:
                log.warning("ack to %s not sent (%s); the station will resend", reply.station, exc)
            if self.store.requests_changed.is_set():
                self.publish_requests()

    def publish_requests(self) -> None:
        """Publish the ``requests`` document for every station (after kiosk records or a staff action
        changed a request); a failure is logged and retried after the next change."""
        self.store.requests_changed.clear()
        try:
            self.publish_document(self.store.prepare_document("requests", requests.document_body(self.store.engine)))
        except (HubError, MessageError) as exc:
            self.store.requests_changed.set()
            log.warning("requests document not published: %s", exc)

    def _on_status(self, station: str, suffix: str, payload: bytes, retained: bool) -> None:
        self.store.handle_status(f"{self.link.base_topic}/{station}/{suffix}", station, payload, retained)

    def start(self) -> None:
        """Start the writer, connect and subscribe (in the background)."""
        if self._writer is None:
            self._writer = threading.Thread(target=self._write, name="hub-writer", daemon=True)
            self._writer.start()
        self.link.start()

    def stop(self) -> None:
        """Commit and acknowledge what was received, then disconnect."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(30)
            self._writer = None
        self.link.stop()

    def publish_document(self, doc: Document, timeout: float = 10.0) -> None:
        """Publish a prepared document retained at QoS 1 and wait for the broker's PUBACK.

        Raises:
            HubError: the broker could not be reached or did not confirm in time.
        """
        if not self.link.wait_connected(timeout):
            raise HubError(f"cannot reach the MQTT broker {self.link.host}:{self.link.port}: {self.link.last_error}")
        info = self.link.publish(doc.type, encode_document(doc), retain=True, station=doc.scope)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise HubError("the broker did not confirm the document in time")

