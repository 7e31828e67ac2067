"""The store-and-forward loop: outbox batches up, the hub's acks down.

A worker thread takes the batch in flight (or a new one) from the outbox, publishes it at QoS 1
and waits for the hub's ack on ``<base>/<station>/ack``. Only the ack marks the rows synced. The
same batch is resent after the ack timeout, after every reconnect, and, after a restart, the rows
that were in flight are made ready again. The retained status message says ``online`` with the
queue depth and applied document versions on every connect; the broker publishes the last will
``offline`` when the link dies.

The kiosk app runs :class:`Publisher` in-process and polls :meth:`Publisher.status`;
``yizhan sync`` runs it alone.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kiosk.i18n import N_, Translator
from kiosk.settings import Settings
from kiosk.outbox import Outbox, OutboxBatch
from sync.downlink import DownlinkStore
from sync.messages import (ALL_STATIONS, DOCUMENT_TYPES, MAX_BATCH_BYTES, STATION_ONLY_DOCUMENTS, SUFFIX_ACK,
                           SUFFIX_RECORDS, SUFFIX_STATUS, Ack, MessageError, decode_ack, encode_batch)
from sync.status import Status, encode_status
from sync.mqtt import MqttLink, NotConnected

log = logging.getLogger(__name__)

try:
    from importlib.metadata import version as _pkg_version
    APP_VERSION = _pkg_version("yizhan")
except Exception:
    APP_VERSION = "0"

#: The header's sync line in each state (``{count}``: records waiting), as message ids.
LINE_ONLINE = N_("Online")
LINE_ONLINE_QUEUED = N_("Online, {count} records to upload")
LINE_OFFLINE = N_("Offline, {count} records queued")
LINE_DISABLED = N_("Sync is off")
LINE_REJECTED = N_("The hub refused {count} records; call the administrator")
LINE_EXPIRED = N_("The hub's documents are out of date; call the administrator")


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds") if ts else None


@dataclass(frozen=True)
class SyncStatus:
    """A snapshot for the header and the admin screen."""

    enabled: bool
    connected: bool
    queue_depth: int
    inflight: int
    oldest_unsynced: datetime | None
    last_ack: datetime | None
    applied_versions: dict[str, int] = field(default_factory=dict)
    queue_warn: bool = False
    last_error: str = ""
    resends: int = 0
    #: Records the hub refused (kept at the kiosk, offered again at the next start).
    rejected: int = 0
    #: Document types whose applied document is past its expiry (still in use).
    expired: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        """The message id of the header line (format it with ``count=queue_depth``)."""
        if not self.enabled:
            return LINE_DISABLED
        if not self.connected:
            return LINE_OFFLINE
        if self.rejected:
            return LINE_REJECTED
        if self.expired:
            return LINE_EXPIRED
        return LINE_ONLINE_QUEUED if self.queue_depth else LINE_ONLINE


def status_text(status: SyncStatus, translator: Translator | None = None) -> str:
    """The header line, e.g. "已联网" or "离线，12 条待上传"."""
    tr = translator or Translator()
    return tr._(status.line, count=status.rejected if status.line == LINE_REJECTED else status.queue_depth)


@dataclass
class _Flight:
    """A batch in the send window: when and on which connection it was last published."""

    batch: OutboxBatch
    payload: bytes
    generation: int = -1
    sent_at: float = 0.0


#: What a kiosk subscribes to, as (suffix, station): its acks, each document type for itself, and the
#: district-wide (``_all``) ones but :data:`STATION_ONLY_DOCUMENTS`. The broker must grant each
#: (``yizhan-broker add-station``; ``yizhan doctor`` checks it).
KIOSK_SUBSCRIPTIONS: tuple[tuple[str, str | None], ...] = ((SUFFIX_ACK, None),) + tuple(
    (doc_type, station) for doc_type in DOCUMENT_TYPES for station in (None, ALL_STATIONS)
    if not (station == ALL_STATIONS and doc_type in STATION_ONLY_DOCUMENTS))


class Publisher:
    """Moves the outbox of one journal file to the hub.

    Args:
        settings: the station settings (``station.id``, ``[sync]``, ``secrets.mqtt_password``).
        journal_path: the journal file (default ``<data_dir>/journal.sqlite3``).
        data_dir: where downlink documents are applied (default the settings' data directory).
        batch_size: override ``sync.batch_size``.
        reconnect_min_s, reconnect_max_s: backoff bounds of the MQTT link.
        status_interval_s: how often at most the retained status is refreshed while the queue moves.
        poll_s: how often an idle loop looks for new outbox rows (``wake()`` skips the wait).
        window: batches in flight at once. Batches are formed and published in priority/seq order
            on one connection, so a single hub commits them in order; 1 keeps strict
            one-at-a-time order even across several hub processes.

    Raises:
        OutboxError: the journal file cannot be opened.
    """

    def __init__(self, settings: Settings, journal_path: Path | str | None = None, *,
                 data_dir: Path | str | None = None, batch_size: int | None = None,
                 reconnect_min_s: float = 1, reconnect_max_s: float = 30, status_interval_s: float = 5.0,
                 poll_s: float = 0.5, window: int = 4) -> None:
        self.settings = settings
        self.sync = settings.sync
        self.station = settings.station.id
        self.station_name = settings.station.name
        self.data_dir = Path(data_dir) if data_dir else settings.data_dir
        self.journal_path = Path(journal_path) if journal_path else self.data_dir / "journal.sqlite3"
        self.batch_size = batch_size or self.sync.batch_size
        self.status_interval_s = status_interval_s
        self.poll_s = poll_s
        self.window = max(1, window)
        self.outbox = Outbox(self.journal_path)
        self.downlink = DownlinkStore(self.data_dir, self.station, self.sync.document_public_key)
        self._versions = self.downlink.versions()
        self._acks: queue.SimpleQueue[Ack] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._status_due = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._resends = 0
        self.batches_acked = 0
        self._health: dict | None = None
        #: Called on every turn of the worker loop (the kiosk's systemd watchdog listens to it).
        self.heartbeat: Callable[[], None] = lambda: None
        self._snapshot = self._make_snapshot()
        offline = encode_status(Status(self.station, "offline", _iso(datetime.now(timezone.utc)), APP_VERSION))
        self.link = MqttLink(host=self.sync.host, port=self.sync.port, client_id=f"kiosk-{self.station}",
                             base_topic=self.sync.base_topic, station=self.station, tls=self.sync.tls,
                             ca_file=self.sync.ca_file, username=self.sync.username,
                             password=settings.secrets.mqtt_password, keepalive=self.sync.keepalive_s,
                             will=(SUFFIX_STATUS, offline), on_connect=self._on_connect,
                             reconnect_min_s=reconnect_min_s, reconnect_max_s=reconnect_max_s)
        for suffix, station in KIOSK_SUBSCRIPTIONS:
            self.link.subscribe(suffix, self._on_ack if suffix == SUFFIX_ACK else self._on_document, station=station)

    # --- public API ---------------------------------------------------------------------------

    def start(self) -> None:
        """Requeue rows left in flight by a previous run, connect, and start the worker thread."""
        if self._thread:
            return
        again = self.outbox.requeue_stale(0)
        if again:
            log.info("%d records were in flight when the publisher last stopped; they will be resent", again)
        retry = self.outbox.requeue_rejected()
        if retry:
            log.warning("%d records the hub refused before are offered to it again", retry)
        self._stop.clear()
        self.link.start()
        self._thread = threading.Thread(target=self._run, name="sync-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker, publish ``offline`` (retained) and disconnect. Unacked rows stay queued."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        offline = Status(self.station, "offline", _iso(datetime.now(timezone.utc)), APP_VERSION)
        self.link.stop(final=(SUFFIX_STATUS, encode_status(offline)))
        self.outbox.close()

    def wake(self) -> None:
        """New rows were journaled: look at the outbox now instead of at the next poll."""
        self._wake.set()

    def set_health(self, summary: dict | None) -> None:
        """The station's ``yizhan doctor`` summary, sent in the retained status (at once if it changed)."""
        if summary != self._health:
            self._health = summary
            self._status_due.set()
            self._wake.set()

    def status(self) -> SyncStatus:
        """A thread-safe snapshot (never touches the database: the worker refreshes it)."""
        with self._lock:
            snap = self._snapshot
        return SyncStatus(self.sync.enabled, self.link.connected, snap.queue_depth, snap.inflight,
                          snap.oldest_unsynced, snap.last_ack, dict(snap.applied_versions), snap.queue_warn,
                          "" if self.link.connected else self.link.last_error, self._resends, snap.rejected)

    def rejected_records(self, limit: int = 50):
        """The records the hub refused, newest first (:class:`kiosk.outbox.RejectedRow`)."""
        return self.outbox.rejected_rows(limit)

    # --- callbacks (paho's thread) ----------------------------------------------------------

    def _on_connect(self) -> None:
        self._status_due.set()
        self._wake.set()

    def _on_ack(self, station: str, suffix: str, payload: bytes, retained: bool) -> None:
        if retained:
            return
        try:
            ack = decode_ack(payload)
        except MessageError as exc:
            log.warning("ignored a malformed ack: %s", exc)
            return
        self._acks.put(ack)
        self._wake.set()

    def _on_document(self, station: str, suffix: str, payload: bytes, retained: bool) -> None:
        result = self.downlink.apply(suffix, station, payload)
        if result.applied:
            self._versions = self.downlink.versions()
            self._status_due.set()
            self._wake.set()

    # --- worker -------------------------------------------------------------------------------

    def _make_snapshot(self) -> SyncStatus:
        stats = self.outbox.stats()
        return SyncStatus(self.sync.enabled, False, stats.depth, stats.inflight, stats.oldest_unsynced,
                          stats.last_ack, dict(self._versions), stats.depth > self.sync.queue_warn,
                          rejected=stats.rejected, expired=tuple(self.downlink.expired()))

    def _refresh(self) -> SyncStatus:
        snap = self._make_snapshot()
        with self._lock:
            self._snapshot = snap
        return snap

    def _publish_status(self) -> None:
        snap = self._refresh()
        status = Status(self.station, "online", _iso(datetime.now(timezone.utc)), APP_VERSION, snap.queue_depth,
                        _iso(snap.oldest_unsynced), _iso(snap.last_ack), snap.queue_warn or bool(snap.expired),
                        snap.applied_versions,
                        self._health, self.station_name)
        try:
            self.link.publish(SUFFIX_STATUS, encode_status(status), retain=True)
            if snap.queue_warn:
                log.warning("%d records wait for upload (warning threshold %d)", snap.queue_depth,
                            self.sync.queue_warn)
            if snap.expired:
                log.warning("documents past their expiry (still in use): %s", ", ".join(snap.expired))
        except NotConnected:
            self._status_due.set()

    def _flight(self, batch: OutboxBatch) -> _Flight | None:
        """Encode a claimed batch once (resends reuse the bytes); a batch that cannot be encoded
        is set aside as rejected (visible, offered again at the next start) instead of blocking."""
        try:
            return _Flight(batch, encode_batch(self.station, batch.batch_id, batch.records))
        except MessageError as exc:
            log.error("batch %s cannot be encoded (%s); its %d records are set aside", batch.batch_id, exc, len(batch))
            self.outbox.settle(batch.batch_id, {i: "invalid" for i in range(len(batch))})
            return None

    def _run(self) -> None:
        window: dict[str, _Flight] = {}
        last_status = 0.0
        last_prune = 0.0
        last_offline_refresh = 0.0
        ack_timeout = self.sync.ack_timeout_s
        while not self._stop.is_set():
            self.heartbeat()
            try:
                # Cleared before looking at the acks: an ack arriving from here on sets it again and
                # ends the wait below at once (clearing after the wait could lose it).
                self._wake.clear()
                now = time.monotonic()
                if now - last_prune > 3600:
                    pruned = self.outbox.prune(self.sync.retention_days)
                    if pruned:
                        log.info("pruned %d acknowledged outbox rows older than %d days", pruned,
                                 self.sync.retention_days)
                    last_prune = now
                acked = False
                while True:
                    try:
                        ack = self._acks.get_nowait()
                    except queue.Empty:
                        break
                    stored, refused = self.outbox.settle(ack.batch_id, dict(ack.refused))
                    if stored or refused:
                        self.batches_acked += 1
                    if refused:
                        log.warning("the hub refused %d records of batch %s (%s); they stay at the kiosk", refused,
                                    ack.batch_id, ", ".join(sorted({code for _, code in ack.refused})))
                    acked = window.pop(ack.batch_id, None) is not None or acked
                if acked:
                    snap = self._refresh()
                    if not window and snap.queue_depth == 0:
                        self._status_due.set()      # drained: the hub must not keep showing the old depth
                if not self.link.connected:
                    # Offline the queue still grows: keep the header's count current (once a second).
                    if now - last_offline_refresh >= 1.0:
                        self._refresh()
                        last_offline_refresh = now
                    self._wake.wait(0.2)
                    continue
                if self._status_due.is_set() or (now - last_status > self.status_interval_s and window):
                    self._status_due.clear()
                    self._publish_status()
                    last_status = now
                while len(window) < self.window:
                    batch = self.outbox.claim_batch(self.batch_size, MAX_BATCH_BYTES)
                    if batch is None:
                        break
                    flight = self._flight(batch)
                    if flight is not None:
                        window[batch.batch_id] = flight
                if not window:
                    self._refresh()
                    self._wake.wait(self.poll_s)
                    continue
                generation = self.link.generation
                for flight in window.values():
                    if flight.generation == generation and now - flight.sent_at < ack_timeout:
                        continue
                    if flight.generation != -1:
                        self._resends += 1
                        log.info("resending batch %s (%d records): %s", flight.batch.batch_id, len(flight.batch),
                                 "reconnected" if flight.generation != generation else "no ack in time")
                    self.link.publish(SUFFIX_RECORDS, flight.payload)
                    flight.generation, flight.sent_at = generation, time.monotonic()
                due = min(f.sent_at for f in window.values()) + ack_timeout - time.monotonic()
                self._wake.wait(min(0.25, max(0.005, due)))
            except NotConnected:
                continue
            except Exception:
                log.exception("sync worker error; retrying in 1 s")
                self._stop.wait(1)
