"""A station's status message at the hub: validated like records (invalid ones become dead
letters), then stored in ``hub_stations`` — never older over newer — and, for a live ``online``
status, the doctor summary and the clock offset in ``hub_station_health``."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from hub import models as m
from sync.messages import MessageError, valid_station_id
from sync.screening import TimeOutOfRange, parse_bounded
from sync.status import decode_status

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _insert(conn: Connection, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def status_time(stored: str) -> datetime:
    """A stored status time for comparison; one out of range (stored before the door checked it)
    counts as the distant past, so it can never freeze the row."""
    try:
        return parse_bounded(stored)
    except TimeOutOfRange:
        return datetime.min.replace(tzinfo=timezone.utc)


def handle_status(store: Any, topic: str, station: str, raw: bytes, retained: bool = False) -> None:
    """Record a station's status message for ``store`` (a :class:`hub.store.HubStore`)."""
    if not raw:
        return
    try:
        st = decode_status(raw, station if valid_station_id(station) else "\0")
    except MessageError as exc:
        store.reject(topic, station if valid_station_id(station) else None, f"{type(exc).__name__}: {exc}", raw)
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
        with store.engine.begin() as conn:
            row = conn.execute(select(m.stations.c.status_ts).where(m.stations.c.station == st.station)).first()
            if row and row[0] and status_time(row[0]) > parse_bounded(st.ts):
                return
            ins = _insert(conn, m.stations).values(station=st.station, **values)
            conn.execute(ins.on_conflict_do_update(index_elements=["station"], set_=values))
            if st.state == "online" and not retained:
                ins = _insert(conn, m.station_health).values(station=st.station, **health)
                conn.execute(ins.on_conflict_do_update(index_elements=["station"], set_=health))
            if st.name:
                named = _insert(conn, m.station_counts).values(station=st.station, records=0, through=0,
                                                               name=st.name)
                conn.execute(named.on_conflict_do_update(index_elements=["station"], set_={"name": st.name}))
    try:
        store.with_retry(write)
    except SQLAlchemyError as exc:
        log.error("cannot store the status of %s: %s", st.station, exc)
