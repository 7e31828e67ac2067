"""The hub's tables (SQLAlchemy Core): records, conflicts, dead letters, stations, downlink documents.

The same schema runs on SQLite (the default, one file) and PostgreSQL (``postgresql://…``).
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, Index, Integer, LargeBinary, MetaData, String, Table,
                        Text)

metadata = MetaData()

#: One row per journal record, keyed by (station, the record id the kiosk gave it): redelivery never
#: duplicates, and no station can take a key another station will use.
records = Table(
    "hub_records", metadata,
    Column("station", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("batch_id", String(64)),
    Column("hub", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("hub_records_station_seq", "station", "seq"),
    Index("hub_records_kind_ts", "kind", "ts"),
)

#: A record that arrived under a (station, id) already stored with different content: kept aside,
#: reported (``yizhan hub conflicts``), never acknowledged as stored.
conflicts = Table(
    "hub_conflicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("station", String(64), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("batch_id", String(64)),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("stored_digest", String(64), nullable=False),
    Column("hub", String(64)),
    Index("hub_conflicts_station_record", "station", "record_id"),
)

#: Everything the hub could not accept, with the reason; nothing is silently dropped. The payload
#: is kept only when it is small and carries no ID number (else b"": the SHA-256 digest remains);
#: repeats of the same message add to ``count``; sizes are capped per station and in total and
#: old rows expire (:mod:`hub.deadletters`).
dead_letters = Table(
    "hub_dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(512), nullable=False),
    Column("station", String(64)),
    Column("record_id", String(64)),
    Column("reason", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("digest", String(64)),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("last_at", DateTime(timezone=True)),
    Column("replayed_at", DateTime(timezone=True)),
    Index("hub_dead_letters_station_digest", "station", "digest"),
    Index("hub_dead_letters_received", "received_at"),
)

#: The last known state of every station.
stations = Table(
    "hub_stations", metadata,
    Column("station", String(64), primary_key=True),
    Column("state", String(16), nullable=False, default="unknown"),
    Column("last_seen", DateTime(timezone=True)),
    Column("status_ts", String(40)),
    Column("app", String(40)),
    Column("queue_depth", Integer),
    Column("oldest_unsynced", String(40)),
    Column("last_ack", String(40)),
    Column("warn", Boolean),
    Column("documents", Text),
    Column("last_batch_at", DateTime(timezone=True)),
)

#: Each station's latest ``yizhan doctor`` summary and the clock offset seen with its status message
#: (hub clock at arrival minus the station's timestamp; broker latency is milliseconds).
station_health = Table(
    "hub_station_health", metadata,
    Column("station", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status_ts", String(40), nullable=False),
    Column("clock_offset_s", Float, nullable=False),
    Column("healthy", Boolean),
    Column("health", Text),
)

#: The downlink documents as published (latest version per type and scope).
documents = Table(
    "hub_documents", metadata,
    Column("doc_type", String(16), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("issued", String(40), nullable=False),
    Column("body", Text, nullable=False),
)
