"""The hub's Prometheus metrics, so a district's existing monitoring can alert.

Counted as they happen (per hub process): records received, stored and duplicate per station,
batches acknowledged, the time from a batch's arrival to its ack (sent only after the commit),
dead letters, and report timings. Read from the database at each scrape (one row per station, so
the cost follows the number of stations, not history): stations by state, each station's queue
depth, oldest unsynced record, last contact, doctor verdict and clock offset.

    yizhan hub run --metrics 127.0.0.1:9461 …      # then scrape http://127.0.0.1:9461/metrics

Metric names start with ``yizhan_``; see README "Hub metrics" for alert examples.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hub import models as m

#: Seconds from a batch's arrival to its ack: commits take milliseconds, a slow disk hundreds.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REPORT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` (loopback) for ``--metrics``.

    Raises:
        ValueError: with a message naming the expected form.
    """
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--metrics wants HOST:PORT or PORT (got {text!r})") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"--metrics port must be 0-65535 (got {number})")
    return (host.strip("[]") or "127.0.0.1"), number


class _StoreCollector(Collector):
    """Station gauges read from the hub database at scrape time."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self):
        dead = CounterMetricFamily("yizhan_hub_dead_letters", "messages or records this hub process set aside")
        dead.add_metric([], self.store.dead)
        yield dead
        failed = CounterMetricFamily("yizhan_hub_batches_failed",
                                     "batches set aside whole because storing them raised")
        failed.add_metric([], getattr(self.store, "failed_batches", 0))
        yield failed
        refused = CounterMetricFamily("yizhan_hub_quota_refused", "records refused beyond a station's daily quota")
        refused.add_metric([], getattr(self.store, "quota_refused", 0))
        yield refused
        states = GaugeMetricFamily("yizhan_stations", "stations by their last status", labels=["state"])
        queue = GaugeMetricFamily("yizhan_station_queue_depth", "records waiting at the station", labels=["station"])
        oldest = GaugeMetricFamily("yizhan_station_oldest_unsynced_age_seconds",
                                   "age of the station's oldest record not yet acknowledged", labels=["station"])
        seen = GaugeMetricFamily("yizhan_station_last_seen_age_seconds", "seconds since the hub last heard from the station",
                                 labels=["station"])
        healthy = GaugeMetricFamily("yizhan_station_healthy", "1 when the station's yizhan doctor found no failure",
                                    labels=["station"])
        offset = GaugeMetricFamily("yizhan_station_clock_offset_seconds",
                                   "hub clock minus station clock, seen with the last live status", labels=["station"])
        now = datetime.now(timezone.utc)
        try:
            with self.store.engine.connect() as conn:
                counts = dict(conn.execute(select(m.stations.c.state, func.count()).group_by(m.stations.c.state)).all())
                rows = conn.execute(select(m.stations.c.station, m.stations.c.queue_depth, m.stations.c.oldest_unsynced,
                                           m.stations.c.last_seen)).all()
                health = conn.execute(select(m.station_health.c.station, m.station_health.c.healthy,
                                             m.station_health.c.clock_offset_s)).all()
        except SQLAlchemyError:
            return
        for state in ("online", "offline"):
            states.add_metric([state], counts.pop(state, 0))
        for state, n in counts.items():
            states.add_metric([state], n)
        for station, depth, oldest_ts, last_seen in rows:
            if depth is not None:
                queue.add_metric([station], depth)
            oldest.add_metric([station], (now - datetime.fromisoformat(oldest_ts)).total_seconds() if oldest_ts else 0)
            if last_seen is not None:
                last = last_seen if last_seen.tzinfo else last_seen.replace(tzinfo=timezone.utc)
                seen.add_metric([station], (now - last).total_seconds())
        for station, ok, clock in health:
            if ok is not None:
                healthy.add_metric([station], 1 if ok else 0)
            offset.add_metric([station], clock)
        yield from (states, queue, oldest, seen, healthy, offset)


class HubMetrics:
    """The metrics of one hub process.

    Args:
        store: the :class:`~hub.store.HubStore` whose database the station gauges read (optional).
        registry: where to register (default: a new registry, so tests and processes never share).
    """

    def __init__(self, store: Any = None, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("yizhan_hub_records_received", "records received in valid batches", ["station"],
                                registry=r)
        self.stored = Counter("yizhan_hub_records_stored", "records newly stored", ["station"], registry=r)
        self.duplicates = Counter("yizhan_hub_records_duplicate", "records received again (already stored)",
                                  ["station"], registry=r)
        self.acked = Counter("yizhan_hub_batches_acked", "batches committed and acknowledged", ["station"], registry=r)
        self.ack_latency = Histogram("yizhan_hub_ack_latency_seconds", "batch arrival to ack sent (after the commit)",
                                     buckets=ACK_BUCKETS, registry=r)
        self.report_seconds = Histogram("yizhan_hub_report_seconds", "time to build a report", ["report"],
                                        buckets=REPORT_BUCKETS, registry=r)
        if store is not None:
            r.register(_StoreCollector(store))

    def batch_received(self, station: str, records: int) -> float:
        """Count a valid batch; returns the arrival time to hand to :meth:`batch_acked`."""
        self.received.labels(station).inc(records)
        return time.monotonic()

    def batch_acked(self, station: str, stored: int, duplicates: int, arrived: float) -> None:
        """Count a committed batch and observe its ack latency."""
        self.stored.labels(station).inc(stored)
        self.duplicates.labels(station).inc(duplicates)
        self.acked.labels(station).inc()
        self.ack_latency.observe(time.monotonic() - arrived)

    @contextmanager
    def time_report(self, name: str) -> Iterator[None]:
        """Time one report build: ``with metrics.time_report("volunteers"): …``."""
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.report_seconds.labels(name).observe(time.monotonic() - t0)

    def serve(self, host: str, port: int):
        """Serve ``/metrics`` over HTTP on a daemon thread; returns the server (``server_port``)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server
