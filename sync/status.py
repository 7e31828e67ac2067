"""The station's retained status message (kiosk → hub and anyone allowed to read it).

``<base>/<station>/status`` holds ``online`` with the queue depth, oldest unsynced record, last ack
and applied document versions, refreshed while the queue moves; the broker publishes the last will
``offline`` when the link dies. Every time in it is bounded like every other time at the hub's door.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.messages import (DOCUMENT_TYPES, FORMAT_VERSION, MAX_STATUS_BYTES, PrivacyRejected, SchemaError,
                           StationMismatch, check_station, check_ts, dumps, extra_fields, field_of, load)
from sync.screening import holds_id_number


@dataclass(frozen=True)
class Status:
    """A station's retained status message."""

    station: str
    state: str
    ts: str
    app: str = ""
    queue: int | None = None
    oldest: str | None = None
    last_ack: str | None = None
    warn: bool = False
    documents: dict[str, int] = field(default_factory=dict)
    #: ``yizhan doctor``'s summary: {"ok": bool, "checks": {name: status}, "failing": {name: text}}.
    health: dict[str, Any] | None = None
    name: str = ""               # the station's name for people (its settings' [station] name)


#: Longest station name a status message carries.
MAX_STATION_NAME = 100


def encode_status(status: Status) -> bytes:
    """The retained status ``{"v":1,"station":…,"state":"online"|"offline",…}``."""
    doc: dict[str, Any] = {"v": FORMAT_VERSION, "station": status.station, "state": status.state, "ts": status.ts}
    if status.app:
        doc["app"] = status.app
    if status.queue is not None:
        doc.update(queue=status.queue, oldest=status.oldest, last_ack=status.last_ack, warn=status.warn,
                   documents=status.documents)
    if status.health is not None:
        doc["health"] = status.health
    if status.name:
        doc["name"] = status.name[:MAX_STATION_NAME]
    return dumps(doc)


def decode_status(raw: bytes, topic_station: str | None = None) -> Status:
    """Validate a status message.

    Raises:
        MessageError: malformed, oversized, wrong schema, or another station's name.
    """
    doc = load(raw, MAX_STATUS_BYTES, "status")
    extra_fields(doc, {"v", "station", "state", "ts", "app", "queue", "oldest", "last_ack", "warn", "documents",
                       "health", "name"}, "status")
    station = check_station(field_of(doc, "station", str, "status"), "status")
    if topic_station is not None and station != topic_station:
        raise StationMismatch(f"status from topic station {topic_station!r} names station {station!r}")
    state = field_of(doc, "state", str, "status")
    if state not in ("online", "offline"):
        raise SchemaError(f"status: state must be online or offline (got {state[:20]!r})")
    ts = check_ts(doc.get("ts"), "status")
    app = field_of(doc, "app", str, "status", optional=True) or ""
    queue = field_of(doc, "queue", int, "status", optional=True)
    if queue is not None and queue < 0:
        raise SchemaError("status: queue must not be negative")
    oldest = doc.get("oldest")
    if oldest is not None:
        check_ts(oldest, "status oldest")
    last_ack = doc.get("last_ack")
    if last_ack is not None:
        check_ts(last_ack, "status last_ack")
    warn = field_of(doc, "warn", bool, "status", optional=True) or False
    documents = field_of(doc, "documents", dict, "status", optional=True) or {}
    for k, v in documents.items():
        if k not in DOCUMENT_TYPES or isinstance(v, bool) or not isinstance(v, int):
            raise SchemaError(f"status: documents entry {str(k)[:20]!r} is not a document version")
    health = field_of(doc, "health", dict, "status", optional=True)
    if health is not None and not isinstance(health.get("ok"), bool):
        raise SchemaError("status: health must carry ok = true or false")
    if health is not None and holds_id_number(health):
        raise PrivacyRejected("status: the health summary carries a full ID number")
    name = field_of(doc, "name", str, "status", optional=True) or ""
    if len(name) > MAX_STATION_NAME:
        raise SchemaError(f"status: name longer than {MAX_STATION_NAME} characters")
    if holds_id_number(doc):            # every field a person can read (name, app …), and across fields
        raise PrivacyRejected("status: the message carries a full ID number")
    return Status(station, state, ts, app[:40], queue, oldest, last_ack, warn, dict(documents), health, name)
