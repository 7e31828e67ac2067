"""The one MQTT wrapper: the only module that imports paho (paho-mqtt 2.x, callback API v2, MQTT 5).

It owns the connection, the topic namespace (``<base_topic>/<station>/<suffix>``, wildcards
rejected), availability (a retained QoS-1 last will, a birth callback on every connect) and
reconnection with exponential backoff. It never relies on paho's in-memory queue for durability:
:meth:`MqttLink.publish` refuses while disconnected, and the outbox resends.

It logs once when the broker becomes unreachable and once when it is back.
"""
from __future__ import annotations

import argparse
import logging
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from typing import TYPE_CHECKING

from sync.messages import ALL_STATIONS, valid_station_id

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

_SEGMENT_RE = re.compile(r"[a-z0-9_]{1,32}")
_BASE_SEGMENT_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SHARE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: handler(station, suffix, payload, retained)
Handler = Callable[[str, str, bytes, bool], None]


class MqttError(Exception):
    """Base of the wrapper's errors."""


class TopicError(MqttError, ValueError):
    """A topic segment is empty, contains a wildcard or a separator, or a station id is invalid."""


class NotConnected(MqttError):
    """A publish was attempted while the broker is unreachable; the caller keeps the data."""


@dataclass(frozen=True)
class Subscription:
    """One topic filter the link (re)subscribes on every connect."""

    suffix: str
    station: str
    share: str | None
    qos: int
    handler: Handler


def _check_base(base_topic: str) -> str:
    parts = base_topic.split("/")
    if not base_topic or not all(_BASE_SEGMENT_RE.fullmatch(p) for p in parts):
        raise TopicError(f"base topic {base_topic!r}: segments of letters, digits, . _ - only, no wildcards")
    return base_topic


def _check_suffix(suffix: str) -> str:
    parts = suffix.split("/")
    if not suffix or not all(_SEGMENT_RE.fullmatch(p) for p in parts):
        raise TopicError(f"topic suffix {suffix!r}: lower-case segments of letters, digits, _ only, no wildcards")
    return suffix


class MqttLink:
    """A paho client bound to one namespace.

    Args:
        host, port: the broker.
        client_id: unique per connection (kiosk: ``kiosk-<station>``; hub: ``hub-<name>``).
        base_topic: e.g. ``yizhan/v1``.
        station: default station segment for topics (None for the hub, which names it per call).
        tls, ca_file: TLS with the CA file (system CAs when empty).
        username, password: broker credentials ("" for anonymous).
        keepalive: seconds.
        will: ``(suffix, payload)`` published retained at QoS 1 by the broker if the link dies.
        on_connect: called (on paho's thread) after every successful (re)connect and resubscribe.
        on_disconnect: called (on paho's thread) when the connection is lost.
        reconnect_min_s, reconnect_max_s: exponential backoff bounds.
    """

    def __init__(self, *, host: str, port: int, client_id: str, base_topic: str, station: str | None = None,
                 tls: bool = False, ca_file: str = "", username: str = "", password: str = "",
                 keepalive: int = 30, will: tuple[str, bytes] | None = None,
                 on_connect: Callable[[], None] | None = None, on_disconnect: Callable[[], None] | None = None,
                 reconnect_min_s: float = 1, reconnect_max_s: float = 30) -> None:
        self.host, self.port = host, port
        self.base_topic = _check_base(base_topic)
        if station is not None and not valid_station_id(station):
            raise TopicError(f"station id {station!r} is not valid in a topic")
        self.station = station
        self.keepalive = keepalive
        self._on_connect_cb, self._on_disconnect_cb = on_connect, on_disconnect
        self._subs: list[Subscription] = []
        #: Topic filters the broker refused (filter -> its reason code): their messages never arrive.
        self.refused: dict[str, str] = {}
        self._pending: dict[int, str] = {}
        self._connected = threading.Event()
        self._down_logged = False
        self._ever_connected = False
        self._started = False
        self.generation = 0
        self.last_error = ""
        # paho (about 12 MB and 0.2 s to import) loads with the first link, after the kiosk's first frame.
        import paho.mqtt.client as mqtt

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if log.isEnabledFor(logging.DEBUG):
            # paho repeats "not connected" at ERROR level on every retry; this wrapper logs
            # availability once, so paho's own log is only wanted when debugging.
            self._client.enable_logger(logging.getLogger("sync.mqtt.paho"))
        if username:
            self._client.username_pw_set(username, password or None)
        if tls:
            self._client.tls_set(ca_certs=ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        if will:
            self._client.will_set(self.topic(will[0]), will[1], qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=max(1, int(reconnect_min_s)), max_delay=max(1, int(reconnect_max_s)))
        self._client.on_connect = self._handle_connect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_socket_open = self._handle_socket_open

    # --- topics ------------------------------------------------------------------------------

    def topic(self, suffix: str, station: str | None = None) -> str:
        """``<base>/<station>/<suffix>`` for publishing.

        Raises:
            TopicError: wildcard, separator or invalid station id.
        """
        station = self.station if station is None else station
        if station is None or not (station == ALL_STATIONS or valid_station_id(station)):
            raise TopicError(f"station id {station!r} is not valid in a topic")
        return f"{self.base_topic}/{station}/{_check_suffix(suffix)}"

    def topic_filter(self, suffix: str, station: str = "+", share: str | None = None) -> str:
        """A subscription filter; ``+`` is allowed only as the whole station segment."""
        if station != "+" and not (station == ALL_STATIONS or valid_station_id(station)):
            raise TopicError(f"station filter {station!r} must be '+' or a station id")
        flt = f"{self.base_topic}/{station}/{_check_suffix(suffix)}"
        if share is not None:
            if not _SHARE_RE.fullmatch(share):
                raise TopicError(f"share group {share!r}: letters, digits, - and _ only")
            flt = f"$share/{share}/{flt}"
        return flt

    def split_topic(self, topic: str) -> tuple[str, str] | None:
        """``(station, suffix)`` of a topic in this namespace, or None for a foreign topic."""
        prefix = self.base_topic + "/"
        if not topic.startswith(prefix):
            return None
        station, _, suffix = topic[len(prefix):].partition("/")
        return (station, suffix) if station and suffix else None

    # --- connection ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or ``timeout`` seconds pass."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Connect in the background (paho's network thread retries with backoff)."""
        if self._started:
            return
        self._started = True
        from paho.mqtt.client import PacketTypes, Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive, clean_start=True,
                                   properties=props)
        self._client.loop_start()

    def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 3.0) -> None:
        """Publish ``final`` (retained, QoS 1) if connected, disconnect cleanly and stop the thread."""
        if not self._started:
            return
        if final and self.connected:
            try:
                info = self.publish(final[0], final[1], retain=True)
                info.wait_for_publish(timeout)
            except (MqttError, RuntimeError, ValueError):
                pass
        self._started = False
        if self._connected.is_set():
            self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def subscribe(self, suffix: str, handler: Handler, *, station: str | None = None, share: str | None = None,
                  qos: int = 1) -> None:
        """Subscribe now (if connected) and after every reconnect.

        Args:
            suffix: topic suffix, e.g. ``records``.
            handler: ``handler(station, suffix, payload, retained)``, called on paho's thread.
            station: station segment, default this link's station; ``"+"`` for all.
            share: MQTT 5 shared-subscription group (``$share/<group>/…``).
        """
        sub = Subscription(suffix, station or self.station or "+", share, qos, handler)
        self.topic_filter(sub.suffix, sub.station, sub.share)
        self._subs.append(sub)
        if self.connected:
            self._subscribe(sub)

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the broker answered every subscription sent (see :attr:`refused`)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._pending

    def topic_filters(self) -> list[str]:
        """Every topic filter this link subscribes to on each connect."""
        return [self.topic_filter(s.suffix, s.station, s.share) for s in self._subs]

    def _subscribe(self, sub: Subscription) -> None:
        topic = self.topic_filter(sub.suffix, sub.station, sub.share)
        _rc, mid = self._client.subscribe(topic, qos=sub.qos)
        if mid is not None:                  # None: not sent (the connection dropped); resent on reconnect
            self._pending[mid] = topic

    def publish(self, suffix: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                station: str | None = None) -> mqtt.MQTTMessageInfo:
        """Publish under ``<base>/<station>/<suffix>``; the only publish in the code base.

        Returns:
            paho's message info (``wait_for_publish()`` waits for the broker's PUBACK).

        Raises:
            TopicError: invalid topic.
            NotConnected: the broker is unreachable; nothing was queued.
        """
        topic = self.topic(suffix, station)
        if not self.connected:
            raise NotConnected(f"not connected to {self.host}:{self.port}")
        import paho.mqtt.client as mqtt

        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise NotConnected(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        return info

    # --- paho callbacks (network thread) ----------------------------------------------------

    @staticmethod
    def _handle_socket_open(client, userdata, sock) -> None:
        # Acks and PUBACKs are tiny writes; with Nagle's algorithm each waits for the peer's
        # delayed ACK (tens of ms per batch round trip).
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass

    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note_down(f"broker refused the connection: {reason_code}")
            return
        for sub in self._subs:
            self._subscribe(sub)
        self.generation += 1
        self._connected.set()
        self.last_error = ""
        if self._down_logged:
            log.info("MQTT broker %s:%s is reachable again", self.host, self.port)
            self._down_logged = False
        elif not self._ever_connected:
            log.info("connected to MQTT broker %s:%s", self.host, self.port)
        self._ever_connected = True
        if self._on_connect_cb:
            self._guard(self._on_connect_cb)

    def _handle_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        topic = self._pending.pop(mid, None)
        if topic is None:
            return
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            if topic not in self.refused:
                log.warning("the MQTT broker %s:%s refused the subscription to %s (%s): nothing published there "
                            "reaches this station; check the broker's grants (yizhan-broker)", self.host, self.port,
                            topic, failed[0])
            self.refused[topic] = str(failed[0])
        else:
            self.refused.pop(topic, None)

    def _handle_connect_fail(self, client, userdata) -> None:
        self._note_down("connection failed")

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if self._started:
            self._note_down(f"disconnected: {reason_code}")
        if was and self._on_disconnect_cb:
            self._guard(self._on_disconnect_cb)

    def _note_down(self, why: str) -> None:
        self.last_error = why
        if not self._down_logged and self._started:
            log.info("MQTT broker %s:%s is unreachable (%s); retrying with backoff", self.host, self.port, why)
            self._down_logged = True

    def _handle_message(self, client, userdata, message) -> None:
        parts = self.split_topic(message.topic)
        if parts is None:
            return
        station, suffix = parts
        for sub in self._subs:
            if sub.suffix == suffix and sub.station in ("+", station):
                self._guard(sub.handler, station, suffix, bytes(message.payload), bool(message.retain))
                return

    @staticmethod
    def _guard(fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("MQTT handler %s failed", getattr(fn, "__qualname__", fn))


# --- raw paho QoS 1 throughput (the reference figure for `yizhan bench sync`) -------------------------

#: The raw reference's subscriber stops waiting after this long without a message.
RAW_QUIET_S = 10.0


def _raw_subscriber(host: str, port: int, topic: str, count: int) -> int:
    """Receive ``count`` distinct QoS-1 messages, printing 'ready' then 'done <unique> <total>'.

    It gives up after 120 s, or after :data:`RAW_QUIET_S` without a message: a broker that dropped
    what its queues could not hold sends nothing more, and the count received is the answer.
    """
    seen: set[bytes] = set()
    total = 0
    done = threading.Event()
    last = [time.monotonic()]

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(topic, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        print("ready", flush=True)

    def on_message(client, userdata, message):
        nonlocal total
        total += 1
        last[0] = time.monotonic()
        seen.add(bytes(message.payload[:16]))
        if len(seen) >= count:
            done.set()

    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-sub-{port}", protocol=mqtt.MQTTv5)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect(host, port)
    deadline = time.monotonic() + 120
    while not done.is_set() and time.monotonic() < deadline and time.monotonic() - last[0] < RAW_QUIET_S:
        client.loop(0.05)
    print(f"done {len(seen)} {total}", flush=True)
    client.disconnect()
    return 0


def raw_qos1_rate(host: str, port: int, count: int, size: int) -> dict:
    """Publish ``count`` QoS-1 messages of ``size`` bytes with plain paho (``loop_start``) to a
    subscriber in another process; time from the first publish to the subscriber holding all.

    Returns:
        ``{"msgs_per_s", "seconds", "received", "lost"}``.
    """
    topic = f"bench/raw/{port}"
    sub = subprocess.Popen([sys.executable, "-m", "sync.mqtt", "raw-sub", host, str(port), topic, str(count)],
                           stdout=subprocess.PIPE, text=True)
    try:
        if sub.stdout.readline().strip() != "ready":
            raise MqttError("the raw benchmark subscriber did not start")
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-pub-{port}", protocol=mqtt.MQTTv5)
        client.connect(host, port)
        client.loop_start()
        filler = b"x" * max(0, size - 16)
        t0 = time.perf_counter()
        for i in range(count):
            client.publish(topic, b"%016d" % i + filler, qos=1)
        line = sub.stdout.readline().split()
        seconds = time.perf_counter() - t0
        client.disconnect()
        client.loop_stop()
    finally:
        if sub.poll() is None:
            sub.wait(10)
    received = int(line[1]) if len(line) == 3 else 0
    return {"msgs_per_s": count / seconds, "seconds": seconds, "received": received, "lost": count - received}


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync.mqtt")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("raw-sub")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("topic")
    p.add_argument("count", type=int)
    args = parser.parse_args(argv)
    return _raw_subscriber(args.host, args.port, args.topic, args.count)


if __name__ == "__main__":
    sys.exit(_main())
