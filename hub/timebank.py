"""Hub side of the volunteer time bank: balances, monthly hours, reviews, roster balances.

The hub is the source of truth for balances across stations. Every kiosk record lands in the
generic ``hub_records`` table; the time-bank facts in them (movements, account balances, shifts,
services, registrations, pending reviews) are kept in tables of their own as the records arrive
(``hub/ledger.py``), and everything here is an indexed query over those:

* a balance is the sum of an account's ledger movements, each ``movement_id`` counted once —
  replaying the same records changes nothing;
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
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from hub import ledger
from hub import models as m
from hub.database import open_engine
from hub.person_links import key_links, relink_roster
from hub.ledger import to_hours
from kiosk.records import payload_from_dict, payload_to_json
from kiosk.timebank.kinds import (
    ISSUED,
    NAMESPACE,
    LedgerMovement,
    VolunteerCheckOut,
    volunteer_account,
)

log = logging.getLogger(__name__)

#: The station name of records the hub writes itself (reviews).
HUB_STATION = "hub"
DEFAULT_TZ = "Asia/Shanghai"


class TimebankError(Exception):
    """A time-bank request the hub cannot carry out; the text says why."""

    user_key = "timebank_error"


class NotReviewable(TimebankError):
    """The record is not a check-out that needs review."""


class AlreadyCredited(TimebankError):
    """The shift has already been credited (closed at another station, or reviewed)."""


def engine_for(db: str | Engine) -> Engine:
    """An engine for a hub database (URL, SQLite path, or an engine as is) whose schema is current.

    Raises:
        HubError: no such database, or its schema is not at the newest revision (run `yizhan hub migrate`).
    """
    if isinstance(db, Engine):
        return db
    return open_engine(db)


def _when(ts: str) -> datetime:
    when = datetime.fromisoformat(ts)
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def balances(db: str | Engine) -> dict[str, Decimal]:
    """The balance of every account (credits minus debits, each movement id once)."""
    with engine_for(db).connect() as conn:
        return {a: to_hours(h) for a, h in conn.execute(select(m.accounts.c.account, m.accounts.c.micro_hours))}


def volunteer_balance(db: str | Engine, volunteer_id: str) -> Decimal:
    """One volunteer's balance in hours."""
    with engine_for(db).connect() as conn:
        micro = conn.execute(select(m.accounts.c.micro_hours)
                             .where(m.accounts.c.account == volunteer_account(volunteer_id))).scalar()
    return to_hours(micro)


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


def month_range(month: str, tz: str = DEFAULT_TZ) -> tuple[str, str]:
    """Stored-``ts`` strings bracketing a month with a day to spare on each side (exact test by :func:`month_of`)."""
    first = datetime.strptime(month, "%Y-%m").replace(tzinfo=ZoneInfo(tz))
    after = (first + timedelta(days=32)).replace(day=1)
    lo, hi = first - timedelta(days=1), after + timedelta(days=1)
    return (lo.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            hi.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))


def credits(db: str | Engine, month: str | None = None, tz: str = DEFAULT_TZ,
            volunteer_id: str | None = None) -> list[Credit]:
    """Hours earned by volunteers (``earn`` and ``adjust`` movements into a volunteer account), each once.

    Args:
        month: ``YYYY-MM`` in the district's time zone; None for all time.
        volunteer_id: only this volunteer's.
    """
    mv = m.movements
    q = select(mv.c.credit, mv.c.team, mv.c.at_station, mv.c.station, mv.c.source, mv.c.micro_hours, mv.c.ts,
               mv.c.reference).where(mv.c.kind.in_(("earn", "adjust")))
    if volunteer_id is not None:
        q = q.where(mv.c.credit == volunteer_account(volunteer_id))
    else:
        q = q.where(mv.c.credit.like("volunteer:%"))
    if month:
        lo, hi = month_range(month, tz)
        q = q.where((mv.c.ts >= lo) & (mv.c.ts < hi))
    out = []
    with engine_for(db).connect() as conn:
        for credit, team, at_station, station, source, micro, ts, reference in conn.execute(
                q.order_by(mv.c.ts, mv.c.record_id)):
            at = _when(ts)
            if month and month_of(at, tz) != month:
                continue
            out.append(Credit(credit.split(":", 1)[1], team, at_station or station, source, to_hours(micro), at,
                              reference))
    return out


def needs_review(db: str | Engine) -> list[dict[str, Any]]:
    """Shifts auto-closed at a cut-off that have not been credited (no earn or review movement yet)."""
    rv = m.reviews
    credited = select(m.movements.c.movement_id).where(m.movements.c.reference == rv.c.shift_id).exists()
    with engine_for(db).connect() as conn:
        rows = conn.execute(select(rv).where(~credited).order_by(rv.c.ts, rv.c.record_id)).mappings().all()
    return [{"record_id": r["record_id"], "station": r["station"], "volunteer_id": r["volunteer_id"],
             "shift_id": r["shift_id"], "since": _when(r["since"]).isoformat(), "until": _when(r["until"]).isoformat(),
             "proposed_hours": float(r["proposed_hours"]), "team": r["team"], "activity": r["activity"]}
            for r in rows]


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
        mv_t = m.movements
        done = conn.execute(select(mv_t.c.record_id).where(mv_t.c.movement_id == mid)).first()
        if done is not None:
            stored = conn.execute(select(m.records.c.payload).where(m.records.c.id == done[0])).scalar_one()
            return payload_from_dict("ledger_movement", json.loads(stored))
        other = conn.execute(select(mv_t.c.micro_hours, mv_t.c.source).where(mv_t.c.reference == out.shift_id)
                             .order_by(mv_t.c.ts).limit(1)).first()
        if other is not None:
            raise AlreadyCredited(f"shift {out.shift_id} was already credited {float(to_hours(other[0]))} h "
                                  f"({other[1]})")
        credit = Decimal(str(out.proposed_hours if hours is None else hours))
        mv = LedgerMovement(movement_id=mid, kind="adjust", debit=ISSUED, credit=volunteer_account(out.volunteer_id),
                            hours=float(credit), reference=out.shift_id, source="review", team=out.team,
                            at_station=row[2],
                            note=f"reviewed {datetime.now(timezone.utc):%Y-%m-%d} {reviewer}".strip()[:200])
        seq = conn.execute(select(func.coalesce(func.max(m.records.c.seq), 0))
                           .where(m.records.c.station == HUB_STATION)).scalar_one() + 1
        now = datetime.now(timezone.utc)
        # Stamped with the check-out's time: the hours belong to the month the shift was served in.
        body = payload_to_json(mv)
        conn.execute(m.records.insert().values(id=mid, station=HUB_STATION, seq=seq, kind="ledger_movement",
                                               ts=row[3], payload=body, batch_id="review", hub="review",
                                               received_at=now))
        ledger.apply(conn, [(mid, HUB_STATION, seq, "ledger_movement", row[3], body)])
    log.info("shift %s of %s reviewed: %s h", out.shift_id, out.volunteer_id, credit)
    return mv


def open_shifts(conn: Connection) -> dict[str, dict[str, Any]]:
    """The latest shift of each volunteer still open (checked in, closed nowhere)."""
    sh = m.shifts
    out: dict[str, dict[str, Any]] = {}
    for r in conn.execute(select(sh).where(sh.c.closed.is_(False) & sh.c.ts.is_not(None))
                          .order_by(sh.c.ts, sh.c.record_id)).mappings():
        out[r["volunteer_id"]] = {"station": r["station"],
                                  "since": _when(r["since"]).isoformat(timespec="milliseconds"),
                                  "shift_id": r["shift_id"], "team": r["team"], "activity": r["activity"]}
    return out


def station_prefixes(conn: Connection) -> dict[str, int]:
    """Per station, the highest seq S such that the hub holds every record 1..S."""
    return {s: int(t) for s, t in conn.execute(select(m.station_counts.c.station, m.station_counts.c.through))}


def roster_with_balances(db_url: str | Engine, roster_body: dict[str, Any], now: datetime | None = None,
                         tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """A copy of a roster document body with each volunteer's hub balance (and open shift) added.

    Volunteers registered at kiosks (``volunteer_registered``) are added, and replaced cards
    (``card_rebound``) update their entries, so the next roster carries them to every station;
    person keys follow ``person_key_linked`` records (``hub.person_links``). Reads the maintained
    tables: the cost follows the number of volunteers and this month's movements, not the history.

    Returns:
        the body to publish (``yizhan hub publish roster``); the input is not changed.
    """
    now = now or datetime.now(timezone.utc)
    month = now.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
    engine = engine_for(db_url)
    body = copy.deepcopy(roster_body)
    volunteers = body.setdefault("volunteers", [])
    by_id = {v.get("id"): v for v in volunteers if isinstance(v, dict)}
    vt, mv = m.volunteers, m.movements
    with engine.connect() as conn:
        for r in conn.execute(select(vt).order_by(vt.c.registered_ts, vt.c.volunteer_id)).mappings():
            vid = r["volunteer_id"]
            if r["registered_record_id"] is not None and vid not in by_id:
                entry = {"id": vid, "name": r["name"], "teams": [r["team"]] if r["team"] else []}
                if r["card_uid"]:
                    entry["card_uid"] = r["card_uid"]
                if r["person_key"]:
                    entry["person_key"] = r["person_key"]
                volunteers.append(entry)
                by_id[vid] = entry
            if r["rebound_ts"] is not None and vid in by_id:
                if r["rebound_card_uid"]:
                    by_id[vid]["card_uid"] = r["rebound_card_uid"]
                if r["rebound_person_key"]:
                    by_id[vid]["person_key"] = r["rebound_person_key"]
        totals = {a: to_hours(h) for a, h in conn.execute(
            select(m.accounts.c.account, m.accounts.c.micro_hours).where(m.accounts.c.account.like("volunteer:%")))}
        prefixes = station_prefixes(conn)
        stations_of: dict[str, list[str]] = defaultdict(list)
        for account, station in conn.execute(select(m.account_stations.c.account, m.account_stations.c.station)
                                             .where(m.account_stations.c.station != HUB_STATION)
                                             .order_by(m.account_stations.c.station)):
            stations_of[account].append(station)
        counted: dict[str, set[str]] = defaultdict(set)
        for station, through in prefixes.items():
            for mid, debit, credit in conn.execute(select(mv.c.movement_id, mv.c.debit, mv.c.credit).where(
                    (mv.c.station == station) & (mv.c.seq > through))):
                counted[debit].add(mid)
                counted[credit].add(mid)
        shifts = open_shifts(conn)
        links = key_links(conn)
    relink_roster(volunteers, links)
    month_hours: dict[str, Decimal] = defaultdict(Decimal)
    for c in credits(engine, month, tz):
        month_hours[c.volunteer_id] += c.hours
    as_of = now.isoformat(timespec="seconds")
    for vid, entry in by_id.items():
        account = volunteer_account(str(vid))
        through = {s: prefixes.get(s, 0) for s in stations_of.get(account, [])}
        entry["balance"] = {"hours": float(totals.get(account, Decimal(0))), "as_of": as_of, "month": month,
                            "month_hours": float(month_hours.get(str(vid), Decimal(0))),
                            "through": through, "counted": sorted(counted.get(account, ()))}
        if vid in shifts:
            entry["open_shift"] = shifts[vid]
        else:
            entry.pop("open_shift", None)
    return body
