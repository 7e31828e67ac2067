"""A hub process: :class:`hub.store.HubStore` behind the broker's shared subscription.

Several ``yizhan hub run`` processes of a district join ``$share/hub/<base>/+/records`` and the
broker splits the batches between them; each acks a batch only after its own commit.
"""
from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import scopes
from hub.database import HubError
from hub.store import HubStore
from hub.throttle import DEFAULT_INTERVAL_S, Coalescer
from sync.documents import Document, encode_document
from sync.messages import SUFFIX_RECORDS, SUFFIX_STATUS, Batch, MessageError, decode_ack
from sync.mqtt import MqttLink

log = logging.getLogger(__name__)

#: Most batches committed in one transaction: the writer takes every batch already waiting, up to
#: this many, and shares one commit (one disk sync) between them; each is acked after that commit.
GROUP_MAX = 8


class Hub:
    """A hub process: the store behind a shared MQTT subscription.

    Messages are validated on the MQTT thread and committed by a writer thread, so the next
    batch is parsed while the previous one is being written to disk; the batches that arrived
    meanwhile share the writer's next transaction (group commit). The ack is published only
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
        signing_key: the hub's document key, to publish the ``requests`` document after kiosk records
            changed a request (kiosks refuse unsigned documents; without a key it is not published).
        requests_interval: least seconds between two publishes of the ``requests`` document; changes
            in between are coalesced into one publish when the interval ends.
        clock: monotonic seconds for that interval (default :func:`time.monotonic`).
    """

    def __init__(self, store: HubStore, *, host: str, port: int, base_topic: str = "yizhan/v1", share: str = "hub",
                 tls: bool = False, ca_file: str = "", username: str = "", password: str = "",
                 client_id: str | None = None, keepalive: int = 30, reconnect_max_s: float = 30,
                 metrics: Any = None, heartbeat: Callable[[], None] | None = None,
                 signing_key: Ed25519PrivateKey | None = None, requests_interval: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.coalescer = Coalescer(requests_interval, clock)
        self.signing_key = signing_key
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
                self.publish_due()
                continue
            self.heartbeat()
            group, stopping = [], item is None
            while item is not None:
                group.append(item)
                if len(group) == GROUP_MAX:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = item is None
            try:
                results = self.store.store_batches([(topic, batch) for topic, batch, _ in group])
            except Exception:           # noqa: BLE001 - the writer never dies; the stations resend
                log.exception("writer: a group of %d batches failed; the stations will resend", len(group))
                results = [HubError("group failed")] * len(group)
            for (_, _, arrived), reply in zip(group, results):
                if isinstance(reply, HubError):
                    log.error("%s; the station will resend", reply)
                    continue
                try:
                    self.link.publish(reply.suffix, reply.payload, station=reply.station)
                    if self.metrics:
                        ack = decode_ack(reply.payload)
                        self.metrics.batch_acked(reply.station, ack.stored, ack.duplicates, arrived)
                except Exception as exc:
                    log.warning("ack to %s not sent (%s); the station will resend", reply.station, exc)
            try:
                self.publish_due()
            except Exception:           # noqa: BLE001
                log.exception("writer: publishing the requests document failed")
            if stopping:
                return

    def publish_due(self) -> list[str]:
        """Publish the ``requests`` document if stored records changed it and it was not published
        within ``requests_interval`` (a burst of changes becomes one publish, and the last change is
        published when the interval ends). Returns the document types published."""
        if self.store.requests_changed.is_set():
            self.store.requests_changed.clear()
            self.coalescer.changed("requests")
        done = []
        for doc_type in self.coalescer.due():
            if self.publish_requests():
                done.append(doc_type)
            else:
                self.coalescer.failed(doc_type)
        return done

    def publish_requests(self) -> bool:
        """Publish each station's own signed ``requests`` document now (after kiosk records or a
        staff action changed a request); a failure is logged and returns False."""
        if self.signing_key is None:
            log.warning("requests document not published: this hub has no document signing key (--signing-key)")
            return True                 # nothing to retry without a key
        try:
            for station, body in scopes.station_bodies(self.store.engine).items():
                self.publish_document(self.store.prepare_document("requests", body, station,
                                                                  signing_key=self.signing_key))
        except (HubError, MessageError) as exc:
            log.warning("requests document not published: %s", exc)
            return False
        return True

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

