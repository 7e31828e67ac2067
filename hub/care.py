"""Screening to care at the hub: every resident's status per track, folded across stations.

:func:`refresh` runs in the transaction that stores new records (``HubStore``) and in the care
team's actions: for each person a new measurement, care consent or action names, it reads that
person's readings and actions (``hub_person_records`` by person key: the cost is what the person
has, not what the hub holds), folds them with :func:`kiosk.care_rules.fold` and replaces the
person's ``hub_care_status`` and ``hub_care_steps`` rows. The fold sees the whole history sorted
by day, so late, duplicated or out-of-order records give the same rows, and refreshing twice
changes nothing.

The worklist (:func:`worklist`) is an indexed read of ``hub_care_status`` (status, since) limited
to residents who gave the separate care-sharing consent (the kiosk's ``care_consent`` record,
:data:`CARE_CONSENT_KIND`; the newest one wins, so a withdrawal takes them off at once).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from hub.people import WITHDRAWAL_KIND
from kiosk.care_rules import (OUTCOME_RECORDED, OUTCOMES, REFERRAL_SUGGESTED, REFERRED, TRACKS, WORKLIST, Action, Reading,
                              Status, fold)

#: The kiosk's record of the care-sharing consent: ``{"person_key", "granted": bool}`` (kiosk/care.py).
CARE_CONSENT_KIND = "care_consent"
#: Measurement kinds per track.
TRACK_KINDS = {"bp": "bp_measurement", "glucose": "glucose_measurement"}
#: Record kinds whose arrival refreshes the person's status.
KINDS = (*TRACK_KINDS.values(), CARE_CONSENT_KIND)
DEFAULT_TZ = "Asia/Shanghai"
_NS = uuid.UUID("0b7f6a52-64a4-4c7e-9a53-3c1c0f4d2e19")


class CareError(Exception):
    """A care action that cannot be done; the text says why (shown to the care team)."""

    user_key = "care_error"


def _day(ts: str, tz: ZoneInfo) -> date:
    return datetime.fromisoformat(ts).astimezone(tz).date()


def _reading(station: str, rid: str, kind: str, ts: str, payload: dict[str, Any], tz: ZoneInfo) -> Reading:
    track = "bp" if kind == TRACK_KINDS["bp"] else "glucose"
    counted = payload.get("rested") is not False
    return Reading(station=station, record_id=rid, ts=ts, day=_day(ts, tz), track=track, counted=counted,
                   systolic=payload.get("systolic"), diastolic=payload.get("diastolic"),
                   mmol_l=payload.get("mmol_l"), category=str(payload.get("category", "")))


def person_data(conn: Connection, key: str, tz: ZoneInfo) -> tuple[list[Reading], dict[str, list[Action]], bool]:
    """A person's readings (every station), care actions per track and current care consent."""
    p = m.person_records.c
    rows = conn.execute(select(p.station, p.record_id, p.kind, p.ts, m.records.c.payload)
                        .join(m.records, and_(m.records.c.station == p.station, m.records.c.id == p.record_id))
                        .where((p.person_key == key) & p.kind.in_(KINDS) & m.LIVE)).all()
    readings, consent, consent_ts = [], False, ""
    for station, rid, kind, ts, payload in rows:
        body = json.loads(payload)
        if kind == CARE_CONSENT_KIND:
            if (ts, rid) > (consent_ts, ""):
                consent, consent_ts = bool(body.get("granted")), ts
        else:
            readings.append(_reading(station, rid, kind, ts, body, tz))
    e = m.care_events.c
    actions: dict[str, list[Action]] = {t: [] for t in TRACKS}
    for track, event, outcome, at in conn.execute(select(e.track, e.event, e.outcome, e.at)
                                                  .where(e.person_key == key)):
        actions.setdefault(track, []).append(Action(event, _day(at, tz), at, outcome))
    return readings, actions, consent


def refresh(conn: Connection, keys: Iterable[str], tz: str = DEFAULT_TZ, now: datetime | None = None) -> None:
    """Recompute the status and steps of these people (inside the caller's transaction)."""
    zone, stamp = ZoneInfo(tz), now or datetime.now(timezone.utc)
    for key in sorted(set(keys)):
        readings, actions, consent = person_data(conn, key, zone)
        conn.execute(delete(m.care_status).where(m.care_status.c.person_key == key))
        conn.execute(delete(m.care_steps).where(m.care_steps.c.person_key == key))
        statuses, steps = [], {}
        for track in TRACKS:
            if not any(r.track == track for r in readings):
                continue
            s = fold(track, readings, actions[track])
            statuses.append({"person_key": key, "track": track, "status": s.status, "station": s.station,
                             "since": s.since.isoformat() if s.since else None,
                             "due": s.due.isoformat() if s.due else None, "count": s.count, "outcome": s.outcome,
                             "consent": consent, "updated_at": stamp})
            for st in s.steps:
                steps[(track, st.day.isoformat(), st.step)] = {
                    "person_key": key, "track": track, "day": st.day.isoformat(), "step": st.step,
                    "station": st.station, "on_time": st.on_time}
        if statuses:
            conn.execute(insert(m.care_status), statuses)
        if steps:
            conn.execute(insert(m.care_steps), list(steps.values()))


def apply_named(conn: Connection, named: list[dict[str, str]], tz: str = DEFAULT_TZ) -> None:
    """Refresh the people the records just stored name, when a record is a measurement, a care consent or a
    consent withdrawal (whose erasure leaves nothing to fold: the person's rows go)."""
    keys = {n["person_key"] for n in named if n["kind"] in KINDS or n["kind"] == WITHDRAWAL_KIND}
    if keys:
        refresh(conn, keys, tz)


def rebuild_in(conn: Connection, tz: str = DEFAULT_TZ) -> int:
    """Fold every person who has a reading (migration 0010, ``bench growth``); returns people folded."""
    p = m.person_records.c
    keys = [k for (k,) in conn.execute(select(p.person_key).where(p.kind.in_(KINDS)).distinct())]
    for i in range(0, len(keys), 500):
        refresh(conn, keys[i:i + 500], tz)
    return len(keys)


def status_of(engine: Engine, key: str, tz: str = DEFAULT_TZ) -> dict[str, Status]:
    """The fold of each track of one person, with the readings that led there (for a care page)."""
    zone = ZoneInfo(tz)
    with engine.connect() as conn:
        readings, actions, _ = person_data(conn, key, zone)
    return {t: fold(t, readings, actions[t]) for t in TRACKS if any(r.track == t for r in readings)}


def worklist(engine: Engine, stations: tuple[str, ...] | None, today: date, limit: int = 200) -> list[dict[str, Any]]:
    """Residents with a referral suggested or a referral to follow up, who agreed to care sharing,
    oldest first: ``{person_key, track, status, station, since, due, count, overdue}``."""
    c = m.care_status.c
    q = select(c.person_key, c.track, c.status, c.station, c.since, c.due, c.count) \
        .where(c.status.in_(WORKLIST) & c.consent.is_(True))
    if stations is not None:
        q = q.where(c.station.in_(stations))
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(c.since, c.person_key, c.track).limit(limit)).all()
    return [{"person_key": k, "track": t, "status": s, "station": st, "since": since, "due": due, "count": n,
             "overdue": due is not None and today.isoformat() > due} for k, t, s, st, since, due, n in rows]


def consented(engine: Engine, key: str, stations: tuple[str, ...] | None) -> bool:
    """True when the person agreed to care sharing and has a status at one of the stations."""
    c = m.care_status.c
    q = select(c.track).where((c.person_key == key) & c.consent.is_(True))
    if stations is not None:
        q = q.where(c.station.in_(stations))
    with engine.connect() as conn:
        return conn.execute(q.limit(1)).first() is not None


def record_action(engine: Engine, key: str, track: str, event: str, actor: str, stations: tuple[str, ...] | None,
                  outcome: str = "", note: str = "", now: datetime | None = None, tz: str = DEFAULT_TZ,
                  audit=None) -> str:
    """Record a referral (``event="referred"``) or its outcome (``event="outcome"``) and refresh the status.

    The action's id is derived from the person, track, event and the episode's start, so the same
    form sent twice is one action.

    Returns:
        the new status.

    Raises:
        CareError: no consent, not on the user's stations, a wrong state or outcome.
    """
    if track not in TRACKS:
        raise CareError(f"unknown track {track!r}")
    if event == "outcome" and outcome not in OUTCOMES:
        raise CareError(f"the outcome must be one of {', '.join(OUTCOMES)}")
    if event not in ("referred", "outcome"):
        raise CareError(f"unknown care action {event!r}")
    stamp = now or datetime.now(timezone.utc)
    c = m.care_status.c
    with engine.begin() as conn:
        q = select(c.status, c.since, c.station, c.consent).where((c.person_key == key) & (c.track == track))
        row = conn.execute(q).first()
        if row is None or not row.consent or (stations is not None and row.station not in stations):
            raise CareError("this resident is not on your worklist (no care-sharing consent, or another station)")
        if (event, row.status) in (("referred", REFERRED), ("outcome", OUTCOME_RECORDED)):
            return row.status                        # the same form sent again: already done
        wanted = (REFERRAL_SUGGESTED,) if event == "referred" else (REFERRED, REFERRAL_SUGGESTED)
        if row.status not in wanted:
            raise CareError(f"cannot record {event} while the status is {row.status}")
        rid = str(uuid.uuid5(_NS, f"{key}|{track}|{event}|{row.since}"))
        before = {"status": row.status}
        if not _has_event(conn, rid):
            conn.execute(insert(m.care_events).values(id=rid, person_key=key, track=track, event=event, outcome=outcome,
                                                      at=stamp.isoformat(timespec="seconds"), actor=actor,
                                                      note=note[:200]))
        refresh(conn, [key], tz, stamp)
        after = conn.execute(q).first()
        if audit is not None:
            audit(conn, before, {"status": after.status, "event": event, "outcome": outcome})
    return after.status


def _has_event(conn: Connection, rid: str) -> bool:
    return conn.execute(select(m.care_events.c.id).where(m.care_events.c.id == rid)).first() is not None


def month_figures(engine: Engine, month: str, stations: tuple[str, ...] | None = None) -> dict[str, dict[str, int]]:
    """Per station, the steps of the month: ``elevated`` (first-time elevated), ``rechecked``,
    ``referral_suggested``, ``referred``, ``outcome`` and ``outcome_on_time`` (within two weeks),
    each resident-episode counted once (``hub_care_steps``), by the station where the episode started."""
    start = date.fromisoformat(month + "-01")
    end = (start + timedelta(days=32)).replace(day=1)
    s = m.care_steps.c
    q = select(s.station, s.step, func.count(), func.sum(cast(s.on_time, Integer))) \
        .where((s.day >= start.isoformat()) & (s.day < end.isoformat()))
    if stations is not None:
        q = q.where(s.station.in_(stations))
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for station, step, n, on_time in conn.execute(q.group_by(s.station, s.step)).all():
            row = out.setdefault(station, {})
            row[step] = int(n)
            if step == "outcome":
                row["outcome_on_time"] = int(on_time or 0)
    return dict(sorted(out.items()))
