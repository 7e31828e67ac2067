"""Hub side of the volunteer time bank: balances, monthly hours, reviews, roster balances.

The hub is the source of truth for balances across stations. Every kiosk record lands in the
generic ``hub_records`` table (``sync/hub_models.py``); everything here is a query over the records
of the time-bank kinds (``kiosk/volunteer.py``):

* balances are :func:`kiosk.volunteer.ledger_balances` over every ``ledger_movement`` record, each
  ``movement_id`` counted once — replaying the same records changes nothing;
* a shift auto-closed at the cut-off (``needs_review``) earns nothing until :func:`review_shift`
  writes an ``adjust`` movement for it (a hub record of station ``hub``);
* :func:`roster_with_balances` adds to each volunteer of a roster body a ``balance`` object
  ``{hours, as_of, month, month_hours, through, counted}`` and, when one is open, an ``open_shift``
  object, so ``yizhan hub publish roster`` lets every kiosk show the hub balance plus its own
  uncounted movements (``through[station]`` = the hub holds every record of that station up to
  this seq; ``counted`` = movement ids it also holds beyond it).
"""
from __future__ import annotations

import copy
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from hub.database import open_engine
from hub.person_links import key_links, relink_roster
from kiosk.records import PayloadError, UnknownRecordKind, payload_from_dict, payload_to_json
from kiosk.timebank.kinds import (
    ISSUED,
    NAMESPACE,
    LedgerMovement,
    VolunteerCheckOut,
    ledger_balances,
    volunteer_account,
)

log = logging.getLogger(__name__)

#: The station name of records the hub writes itself (reviews).
HUB_STATION = "hub"
DEFAULT_TZ = "Asia/Shanghai"
KINDS = ("volunteer_check_in", "volunteer_check_out", "volunteer_service", "service_confirmation",
         "service_follow_up", "ledger_movement", "volunteer_registered", "card_rebound")


class TimebankError(Exception):
    """A time-bank request the hub cannot carry out; the text says why."""

    user_key = "timebank_error"


class NotReviewable(TimebankError):
    """The record is not a check-out that needs review."""


class AlreadyCredited(TimebankError):
    """The shift has already been credited (closed at another station, or reviewed)."""


@dataclass(frozen=True)
class HubRecord:
    """A stored kiosk record with its typed payload."""

    id: str
    station: str
    seq: int
    kind: str
    ts: datetime
    payload: Any


def engine_for(db: str | Engine) -> Engine:
    """An engine for a hub database (URL, SQLite path, or an engine as is) whose schema is current.

    Raises:
        HubError: no such database, or its schema is not at the newest revision (run `yizhan hub migrate`).
    """
    if isinstance(db, Engine):
        return db
    return open_engine(db)


def load_records(conn: Connection, kinds: tuple[str, ...] = KINDS) -> list[HubRecord]:
    """Records of the given kinds in a stable order (wall time, then id); unreadable ones are logged and skipped."""
    rows = conn.execute(select(m.records.c.id, m.records.c.station, m.records.c.seq, m.records.c.kind,
                               m.records.c.ts, m.records.c.payload)
                        .where(m.records.c.kind.in_(kinds)).order_by(m.records.c.ts, m.records.c.id)).all()
    out = []
    for rid, station, seq, kind, ts, payload in rows:
        try:
            when = datetime.fromisoformat(ts)
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            out.append(HubRecord(rid, station, seq, kind, when, payload_from_dict(kind, json.loads(payload))))
        except (ValueError, PayloadError, UnknownRecordKind) as exc:
            log.error("hub record %s (%s) is unreadable: %s", rid, kind, exc)
    return out


def movements(db: str | Engine) -> list[HubRecord]:
    """Every ledger movement record, oldest first (duplicates of a movement id included)."""
    with engine_for(db).connect() as conn:
        return load_records(conn, ("ledger_movement",))


def balances(db: str | Engine) -> dict[str, Decimal]:
    """The balance of every account (credits minus debits, each movement id once)."""
    return ledger_balances(r.payload for r in movements(db))


def volunteer_balance(db: str | Engine, volunteer_id: str) -> Decimal:
    """One volunteer's balance in hours."""
    return balances(db).get(volunteer_account(volunteer_id), Decimal(0))


def month_of(ts: datetime, tz: str = DEFAULT_TZ) -> str:
    """``YYYY-MM`` of a time in the district's time zone."""
    return ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


@dataclass
class Credit:
    """Hours credited to one volunteer by one movement (for reports)."""

    volunteer_id: str
    team: str
    station: str
    source: str
    hours: Decimal
    at: datetime
    reference: str


def credits(db: str | Engine, month: str | None = None, tz: str = DEFAULT_TZ,
            records: list[HubRecord] | None = None) -> list[Credit]:
    """Hours earned by volunteers (``earn`` and ``adjust`` movements into a volunteer account), each once.

    Args:
        month: ``YYYY-MM`` in the district's time zone; None for all time.
    """
    out, seen = [], set()
    for r in records if records is not None else movements(db):
        mv: LedgerMovement = r.payload
        if r.kind != "ledger_movement" or mv.movement_id in seen:
            continue
        seen.add(mv.movement_id)
        if mv.kind not in ("earn", "adjust") or not mv.credit.startswith("volunteer:"):
            continue
        if month and month_of(r.ts, tz) != month:
            continue
        out.append(Credit(mv.credit.split(":", 1)[1], mv.team, mv.at_station or r.station, mv.source,
                          Decimal(str(mv.hours)), r.ts, mv.reference))
    return out


def needs_review(db: str | Engine) -> list[dict[str, Any]]:
    """Shifts auto-closed at a cut-off that have not been credited (no earn or review movement yet)."""
    with engine_for(db).connect() as conn:
        recs = load_records(conn, ("volunteer_check_out", "ledger_movement"))
    credited = {r.payload.reference for r in recs if r.kind == "ledger_movement"}
    out = []
    for r in recs:
        p = r.payload
        if r.kind == "volunteer_check_out" and p.needs_review and p.shift_id not in credited:
            out.append({"record_id": r.id, "station": r.station, "volunteer_id": p.volunteer_id,
                        "shift_id": p.shift_id, "since": p.since.isoformat(), "until": p.until.isoformat(),
                        "proposed_hours": p.proposed_hours, "team": p.team, "activity": p.activity})
    return out


def review_shift(db: str | Engine, record_id: str, hours: float | None = None, reviewer: str = "") -> LedgerMovement:
    """Credit a shift that needs review: write an ``adjust`` movement (a hub record) for it.

    Idempotent: reviewing the same shift again returns the stored movement.

    Args:
        record_id: the ``volunteer_check_out`` record flagged ``needs_review``.
        hours: hours to credit (default the proposed default hours of the auto-close).

    Raises:
        NotReviewable: no such record, or it does not need review.
        AlreadyCredited: the shift earned hours otherwise (e.g. checked out at another station).
    """
    engine = engine_for(db)
    with engine.begin() as conn:
        row = conn.execute(select(m.records.c.kind, m.records.c.payload, m.records.c.station, m.records.c.ts)
                           .where(m.records.c.id == record_id)).first()
        if row is None or row[0] != "volunteer_check_out":
            raise NotReviewable(f"{record_id} is not a check-out record at the hub")
        out: VolunteerCheckOut = payload_from_dict(row[0], json.loads(row[1]))
        if not out.needs_review:
            raise NotReviewable(f"{record_id} does not need review (it was credited {out.hours} h at check-out)")
        mid = str(uuid.uuid5(NAMESPACE, f"review:{out.shift_id}"))
        for r in load_records(conn, ("ledger_movement",)):
            mv: LedgerMovement = r.payload
            if mv.movement_id == mid:
                return mv
            if mv.reference == out.shift_id:
                raise AlreadyCredited(f"shift {out.shift_id} was already credited {mv.hours} h ({mv.source})")
        credit = Decimal(str(out.proposed_hours if hours is None else hours))
        mv = LedgerMovement(movement_id=mid, kind="adjust", debit=ISSUED, credit=volunteer_account(out.volunteer_id),
                            hours=float(credit), reference=out.shift_id, source="review", team=out.team,
                            at_station=row[2],
                            note=f"reviewed {datetime.now(timezone.utc):%Y-%m-%d} {reviewer}".strip()[:200])
        seq = conn.execute(select(func.coalesce(func.max(m.records.c.seq), 0))
                           .where(m.records.c.station == HUB_STATION)).scalar_one() + 1
        now = datetime.now(timezone.utc)
        # Stamped with the check-out's time: the hours belong to the month the shift was served in.
        conn.execute(m.records.insert().values(id=mid, station=HUB_STATION, seq=seq, kind="ledger_movement",
                                               ts=row[3],
                                               payload=payload_to_json(mv), batch_id="review", hub="review",
                                               received_at=now))
    log.info("shift %s of %s reviewed: %s h", out.shift_id, out.volunteer_id, credit)
    return mv


def open_shifts(records: list[HubRecord]) -> dict[str, dict[str, Any]]:
    """The latest shift of each volunteer still open (checked in, closed nowhere)."""
    closed = {r.payload.shift_id for r in records if r.kind == "volunteer_check_out"}
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.kind == "volunteer_check_in" and r.payload.shift_id not in closed:
            p = r.payload
            out[p.volunteer_id] = {"station": r.station, "since": p.at.isoformat(timespec="milliseconds"),
                                   "shift_id": p.shift_id, "team": p.team, "activity": p.activity}
    return out


def _station_prefixes(conn: Connection) -> dict[str, int]:
    """Per station, the highest seq S such that the hub holds every record 1..S."""
    out = {}
    for station, count, top in conn.execute(select(m.records.c.station, func.count(), func.max(m.records.c.seq))
                                            .group_by(m.records.c.station)).all():
        if count == top:
            out[station] = int(top)
            continue
        expect = 1
        for (seq,) in conn.execute(select(m.records.c.seq).where(m.records.c.station == station)
                                   .order_by(m.records.c.seq)).all():
            if seq != expect:
                break
            expect += 1
        out[station] = expect - 1
    return out


def roster_with_balances(db_url: str | Engine, roster_body: dict[str, Any], now: datetime | None = None,
                         tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """A copy of a roster document body with each volunteer's hub balance (and open shift) added.

    Volunteers registered at kiosks (``volunteer_registered``) are added, and replaced cards
    (``card_rebound``) update their entries, so the next roster carries them to every station;
    person keys follow ``person_key_linked`` records (``hub.person_links``).

    Returns:
        the body to publish (``yizhan hub publish roster``); the input is not changed.
    """
    now = now or datetime.now(timezone.utc)
    month = now.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
    engine = engine_for(db_url)
    with engine.connect() as conn:
        recs = load_records(conn)
        prefixes = _station_prefixes(conn)
        links = key_links(conn)
    body = copy.deepcopy(roster_body)
    volunteers = body.setdefault("volunteers", [])
    by_id = {v.get("id"): v for v in volunteers if isinstance(v, dict)}
    for r in recs:
        p = r.payload
        if r.kind == "volunteer_registered" and p.volunteer_id not in by_id:
            entry = {"id": p.volunteer_id, "name": p.name, "teams": [p.team] if p.team else []}
            if p.card_uid:
                entry["card_uid"] = p.card_uid
            if p.person_key:
                entry["person_key"] = p.person_key
            volunteers.append(entry)
            by_id[p.volunteer_id] = entry
        elif r.kind == "card_rebound" and p.volunteer_id in by_id:
            if p.new_card_uid:
                by_id[p.volunteer_id]["card_uid"] = p.new_card_uid
            if p.new_person_key:
                by_id[p.volunteer_id]["person_key"] = p.new_person_key
    relink_roster(volunteers, links)
    moves = [r for r in recs if r.kind == "ledger_movement"]
    totals = ledger_balances(r.payload for r in moves)
    month_hours: dict[str, Decimal] = defaultdict(Decimal)
    for c in credits(engine, month, tz, records=moves):
        month_hours[c.volunteer_id] += c.hours
    per_account: dict[str, list[HubRecord]] = defaultdict(list)
    for r in moves:
        for account in (r.payload.debit, r.payload.credit):
            per_account[account].append(r)
    shifts = open_shifts(recs)
    as_of = now.isoformat(timespec="seconds")
    for vid, entry in by_id.items():
        account = volunteer_account(str(vid))
        mine = per_account.get(account, [])
        through = {r.station: prefixes.get(r.station, 0) for r in mine if r.station != HUB_STATION}
        counted = sorted({r.payload.movement_id for r in mine
                          if r.station in through and r.seq > through[r.station]})
        entry["balance"] = {"hours": float(totals.get(account, Decimal(0))), "as_of": as_of, "month": month,
                            "month_hours": float(month_hours.get(str(vid), Decimal(0))),
                            "through": through, "counted": counted}
        if vid in shifts:
            entry["open_shift"] = shifts[vid]
        else:
            entry.pop("open_shift", None)
    return body
