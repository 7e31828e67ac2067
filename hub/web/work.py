"""What staff act on: urgent health alerts and 不满意 follow-ups, each with its own state.

Kiosk records are never changed; the state staff give them lives in ``web_alert_state`` and
``web_follow_up_state``, keyed by (station, record id). Every lookup names the station, so an id
from another station is simply not found. Every change writes an audit entry in the same
transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, insert, literal_column, select, update
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from hub.web.audit import record

#: An alert nobody acknowledged for this long is shown as overdue (red, with the words).
OVERDUE = timedelta(minutes=15)
#: What staff can record as the action taken on an alert, with its words (an English msgid).
ACTION_WORDS = {"seen_on_site": "Saw the resident on site", "called_resident": "Called the resident",
                "family_doctor": "Referred to the family doctor", "called_family": "Called the family",
                "called_120": "Called 120", "other": "Other (see note)"}
ACTIONS = tuple(ACTION_WORDS)
#: The kind tests as SQL literals, so SQLite uses the partial indexes ``hub_records_alerts`` and
#: ``hub_records_follow_ups`` (a bound parameter would not match their WHERE clause).
ALERT = (m.records.c.kind == literal_column("'health_alert'")) & m.LIVE
FOLLOW_UP = m.records.c.kind == literal_column("'service_follow_up'")


class WorkError(Exception):
    """An action on an alert or follow-up that cannot be done; the text says why."""

    user_key = "work_error"


class NotFound(WorkError):
    """No such record at that station (or it is of another kind)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


def _ts(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Alert:
    """An urgent alert with the state staff gave it."""

    station: str
    id: str
    at: datetime
    person_key: str
    kind: str
    category: str
    values: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    action: str | None
    note: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    @property
    def state(self) -> str:
        """``new``, ``acknowledged`` or ``resolved``."""
        return "resolved" if self.resolved_at else "acknowledged" if self.acknowledged_at else "new"

    def overdue(self, now: datetime | None = None) -> bool:
        """True when nobody acknowledged it within :data:`OVERDUE`."""
        return self.acknowledged_at is None and (now or _now()) - self.at >= OVERDUE


def _alert_query(stations: tuple[str, ...] | None):
    j = m.records.outerjoin(m.alert_state, and_(m.alert_state.c.station == m.records.c.station,
                                               m.alert_state.c.record_id == m.records.c.id))
    q = (select(m.records.c.station, m.records.c.id, m.records.c.ts, m.records.c.payload,
                m.alert_state.c.acknowledged_at, m.alert_state.c.acknowledged_by, m.alert_state.c.action,
                m.alert_state.c.note, m.alert_state.c.resolved_at, m.alert_state.c.resolved_by)
         .select_from(j).where(ALERT))
    if stations is not None:
        q = q.where(m.records.c.station.in_(stations))
    return q


def _alert(row) -> Alert:
    p = json.loads(row.payload)
    return Alert(row.station, row.id, _ts(row.ts), p.get("person_key", ""), p.get("measurement_kind", ""),
                 p.get("category", ""), p.get("values", ""), _aware(row.acknowledged_at), row.acknowledged_by,
                 row.action, row.note, _aware(row.resolved_at), row.resolved_by)


def alerts(engine: Engine, stations: tuple[str, ...] | None, *, open_only: bool = True, limit: int = 100) -> list[Alert]:
    """The newest ``limit`` alerts of the stations (None: all), unacknowledged first, then newest first."""
    q = _alert_query(stations)
    if open_only:
        q = q.where(m.alert_state.c.resolved_at.is_(None))
    q = q.order_by(m.records.c.ts.desc()).limit(limit)       # index order (hub_records_alerts)
    with engine.connect() as conn:
        found = [_alert(r) for r in conn.execute(q).all()]
    return sorted(found, key=lambda a: a.acknowledged_at is not None)     # stable: newest first within each


def get_alert(engine: Engine, station: str, record_id: str) -> Alert:
    """One alert of a station.

    Raises:
        NotFound: no such alert at that station.
    """
    q = _alert_query((station,)).where(m.records.c.id == record_id)
    with engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no health alert {record_id[:64]!r} at station {station!r}")
    return _alert(row)


def open_alert_counts(engine: Engine, stations: tuple[str, ...] | None) -> dict[str, int]:
    """Per station, the alerts not yet resolved."""
    j = m.records.outerjoin(m.alert_state, and_(m.alert_state.c.station == m.records.c.station,
                                               m.alert_state.c.record_id == m.records.c.id))
    q = (select(m.records.c.station, func.count()).select_from(j)
         .where(ALERT & m.alert_state.c.resolved_at.is_(None))
         .group_by(m.records.c.station))
    if stations is not None:
        q = q.where(m.records.c.station.in_(stations))
    with engine.connect() as conn:
        return dict(conn.execute(q).all())


def _one(conn: Connection, kind: str, station: str, record_id: str):
    row = conn.execute(select(m.records.c.id).where((m.records.c.station == station) & (m.records.c.id == record_id)
                                                    & (m.records.c.kind == kind))).first()
    if row is None:
        raise NotFound(f"no {kind.replace('_', ' ')} {record_id[:64]!r} at station {station!r}")


def _state(conn: Connection, table, station: str, record_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(table).where((table.c.station == station) & (table.c.record_id == record_id))
                       ).mappings().first()
    return dict(row) if row else None


def _save(conn: Connection, table, station: str, record_id: str, before: dict | None, values: dict) -> None:
    if before is None:
        conn.execute(insert(table).values(station=station, record_id=record_id, **values))
    else:
        conn.execute(update(table).where((table.c.station == station) & (table.c.record_id == record_id))
                     .values(**values))


def _public(state: dict | None) -> dict | None:
    return None if state is None else {k: v for k, v in state.items() if k not in ("station", "record_id")}


def acknowledge(engine: Engine, station: str, record_id: str, actor: str) -> None:
    """Mark an alert seen by ``actor`` (a second acknowledgement changes nothing).

    Raises:
        NotFound: no such alert at that station.
    """
    with engine.begin() as conn:
        _one(conn, "health_alert", station, record_id)
        before = _state(conn, m.alert_state, station, record_id)
        if before and before["acknowledged_at"]:
            return
        values = {"acknowledged_at": _now(), "acknowledged_by": actor}
        _save(conn, m.alert_state, station, record_id, before, values)
        record(conn, actor, "alert.acknowledge", station, record_id, _public(before), values)


def take_action(engine: Engine, station: str, record_id: str, action: str, note: str, actor: str) -> None:
    """Record the action taken on an alert (acknowledging it if nobody had).

    Raises:
        WorkError: unknown action or a note over 500 characters.
        NotFound: no such alert at that station.
    """
    if not action:
        raise WorkError("Choose the action taken first.")
    if action not in ACTIONS:
        raise WorkError(f"unknown action {action[:40]!r}")
    if len(note) > 500:
        raise WorkError("the note is longer than 500 characters")
    with engine.begin() as conn:
        _one(conn, "health_alert", station, record_id)
        before = _state(conn, m.alert_state, station, record_id)
        values: dict[str, Any] = {"action": action, "note": note.strip() or None}
        if not (before and before["acknowledged_at"]):
            values.update(acknowledged_at=_now(), acknowledged_by=actor)
        _save(conn, m.alert_state, station, record_id, before, values)
        record(conn, actor, "alert.action", station, record_id, _public(before), values)


def resolve(engine: Engine, station: str, record_id: str, actor: str) -> None:
    """Close an alert; it needs an action recorded first.

    Raises:
        WorkError: no action recorded yet.
        NotFound: no such alert at that station.
    """
    with engine.begin() as conn:
        _one(conn, "health_alert", station, record_id)
        before = _state(conn, m.alert_state, station, record_id)
        if not before or not before["action"]:
            raise WorkError("record the action taken before resolving the alert")
        if before["resolved_at"]:
            return
        values = {"resolved_at": _now(), "resolved_by": actor}
        _save(conn, m.alert_state, station, record_id, before, values)
        record(conn, actor, "alert.resolve", station, record_id, _public(before), values)


# --- follow-ups ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUp:
    """A 不满意 / 非常不满意 rating to call back about."""

    station: str
    id: str
    at: datetime
    volunteer_id: str
    resident_key: str
    rating: int
    service_type: str
    assignee: str | None
    note: str | None
    closed_at: datetime | None
    closed_by: str | None


def follow_ups(engine: Engine, stations: tuple[str, ...] | None, *, open_only: bool = True,
               limit: int = 100) -> list[FollowUp]:
    """The oldest ``limit`` follow-ups of the stations (None: all), open ones first."""
    j = m.records.outerjoin(m.follow_up_state, and_(m.follow_up_state.c.station == m.records.c.station,
                                                   m.follow_up_state.c.record_id == m.records.c.id))
    q = (select(m.records.c.station, m.records.c.id, m.records.c.ts, m.records.c.payload, m.follow_up_state.c.assignee,
                m.follow_up_state.c.note, m.follow_up_state.c.closed_at, m.follow_up_state.c.closed_by)
         .select_from(j).where(FOLLOW_UP))
    if stations is not None:
        q = q.where(m.records.c.station.in_(stations))
    if open_only:
        q = q.where(m.follow_up_state.c.closed_at.is_(None))
    q = q.order_by(m.records.c.ts).limit(limit)               # index order (hub_records_follow_ups)
    out = []
    with engine.connect() as conn:
        for r in conn.execute(q).all():
            p = json.loads(r.payload)
            out.append(FollowUp(r.station, r.id, _ts(r.ts), p.get("volunteer_id", ""), p.get("resident_key", ""),
                                int(p.get("rating", 0)), p.get("service_type", ""), r.assignee, r.note,
                                _aware(r.closed_at), r.closed_by))
    return sorted(out, key=lambda f: f.closed_at is not None)


def update_follow_up(engine: Engine, station: str, record_id: str, actor: str, *, assignee: str | None = None,
                     note: str | None = None, close: bool = False) -> None:
    """Assign, note or close a follow-up (closing needs a note saying what was done).

    Raises:
        WorkError: closing without a note, text too long, or already closed.
        NotFound: no such follow-up at that station.
    """
    if (note and len(note) > 500) or (assignee and len(assignee) > 64):
        raise WorkError("the note (500) or the assignee (64 characters) is too long")
    with engine.begin() as conn:
        _one(conn, "service_follow_up", station, record_id)
        before = _state(conn, m.follow_up_state, station, record_id)
        if before and before["closed_at"]:
            raise WorkError("this follow-up is already closed")
        values: dict[str, Any] = {}
        if assignee is not None:
            values["assignee"] = assignee.strip() or None
        if note is not None and note.strip():
            values["note"] = note.strip()
        if close:
            if not (values.get("note") or (before and before["note"])):
                raise WorkError("write what was done before closing the follow-up")
            values.update(closed_at=_now(), closed_by=actor)
        if not values:
            return
        _save(conn, m.follow_up_state, station, record_id, before, values)
        record(conn, actor, "follow_up.close" if close else "follow_up.update", station, record_id,
               _public(before), values)
