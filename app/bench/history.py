"""Synthetic years of station history for ``yizhan bench growth``, written in bulk.

Time-bank records are the real payload dataclasses serialised as the journal does, so the hub
and the kiosk read them exactly as they read live data. Rows go in with ``executemany`` in one
transaction per chunk — the point is to measure reads over a large history, not to wait for it.
Person keys are hashes of made-up strings; no ID number is ever generated.
"""
from __future__ import annotations

import hashlib
import random
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from drivers.readings import MealContext, Unit
from kiosk.health import Level
from kiosk.health_records import BpMeasurement, GlucoseMeasurement
from kiosk.records import AdminEvent, ConsentDecision, Visit, payload_to_json
from kiosk.timebank.kinds import (ISSUED, LedgerMovement, ServiceConfirmation, VolunteerCheckIn, VolunteerCheckOut,
                                  VolunteerRegistered, VolunteerService, volunteer_account)

TEAMS = ("red", "orange", "green", "blue", "purple", "rainbow")
SERVICES = (("proxy", "代理", 1.0), ("errand", "代办", 1.0), ("bp", "测血压", 0.5), ("escort", "陪同就医", 2.0))
ACTIVITIES = ("duty", "health_day", "event", "environment")
SURNAMES = "王李张刘陈杨黄赵吴周"
#: A resident with the same history in every journal the benchmark grows (consent, readings).
REGULAR = hashlib.sha256(b"bench-regular").hexdigest()
REGULAR_READINGS = 20
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞"


def key_of(text: str) -> str:
    """A 64-hex person key of a made-up string."""
    return hashlib.sha256(text.encode()).hexdigest()


def volunteer_ids(n: int) -> list[str]:
    """Volunteer ids V0001…"""
    return [f"V{i:04d}" for i in range(1, n + 1)]


def registrations(n: int) -> list[VolunteerRegistered]:
    """``n`` volunteers registered at kiosks, with names, teams, cards and person keys."""
    rng = random.Random(7)
    out = []
    for i, vid in enumerate(volunteer_ids(n)):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        out.append(VolunteerRegistered(volunteer_id=vid, name=name, phone_masked="138****0000",
                                       team=TEAMS[i % len(TEAMS)], card_uid=f"04A1{i:08X}",
                                       person_key=key_of(f"volunteer-{vid}")))
    return out


def shift_records(rng: random.Random, vid: str, station: str, at: datetime) -> list[tuple[str, datetime, Any]]:
    """A closed shift: check-in, check-out and its earn movement (record id, time, payload)."""
    shift = str(uuid.UUID(int=rng.getrandbits(128)))
    team = rng.choice(TEAMS)
    activity = rng.choice(ACTIVITIES)
    minutes = rng.choice((60, 90, 120, 180, 240))
    until = at + timedelta(minutes=minutes)
    hours = minutes / 60
    pkey = key_of(f"volunteer-{vid}")
    cin = VolunteerCheckIn(shift_id=shift, volunteer_id=vid, person_key=pkey, team=team, activity=activity, at=at,
                           mono_s=0.0, boot_id="bench", source="pcsc")
    cout = VolunteerCheckOut(shift_id=shift, volunteer_id=vid, person_key=pkey, team=team, activity=activity,
                             since=at, until=until, raw_minutes=minutes, hours=hours, rule="bench",
                             clock="monotonic", proposed_hours=hours, check_in_station=station)
    mid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"earn:{shift}"))
    earn = LedgerMovement(movement_id=mid, kind="earn", debit=ISSUED, credit=volunteer_account(vid), hours=hours,
                          reference=shift, source="shift", team=team, at_station=station)
    return [(str(uuid.UUID(int=rng.getrandbits(128))), at, cin),
            (str(uuid.UUID(int=rng.getrandbits(128))), until, cout), (mid, until, earn)]


def service_records(rng: random.Random, vid: str, station: str, at: datetime,
                    confirmed: bool = True) -> list[tuple[str, datetime, Any]]:
    """A service for a resident (recorded, then confirmed with a rating) and its earn movement."""
    sid = str(uuid.UUID(int=rng.getrandbits(128)))
    stype, sname, hours = rng.choice(SERVICES)
    team = rng.choice(TEAMS)
    resident = key_of(f"resident-{rng.randrange(5000)}")
    svc = VolunteerService(service_id=sid, volunteer_id=vid, person_key=key_of(f"volunteer-{vid}"), team=team,
                           service_type=stype, service_name=sname, minutes=int(hours * 60), hours=hours)
    out = [(str(uuid.UUID(int=rng.getrandbits(128))), at, svc)]
    if confirmed:
        later = at + timedelta(minutes=5)
        conf = ServiceConfirmation(service_id=sid, volunteer_id=vid, resident_key=resident,
                                   rating=rng.choice((5, 5, 5, 4, 4, 3)), hours=hours)
        mid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"service:{sid}"))
        earn = LedgerMovement(movement_id=mid, kind="earn", debit=ISSUED, credit=volunteer_account(vid), hours=hours,
                              reference=sid, source="service", team=team, at_station=station)
        out += [(str(uuid.UUID(int=rng.getrandbits(128))), later, conf), (mid, later, earn)]
    return out


def timebank_events(rng: random.Random, n: int, start: datetime, end: datetime, stations: list[str],
                    volunteers: list[str]) -> Iterator[tuple[str, str, datetime, Any]]:
    """About ``n`` time-bank records between two times: (station, record id, time, payload)."""
    span = (end - start).total_seconds()
    made = 0
    while made < n:
        at = start + timedelta(seconds=rng.random() * span)
        station, vid = rng.choice(stations), rng.choice(volunteers)
        recs = shift_records(rng, vid, station, at) if rng.random() < 0.6 else \
            service_records(rng, vid, station, at, confirmed=rng.random() < 0.95)
        for rid, when, payload in recs:
            yield station, rid, when, payload
        made += len(recs)


# --- hub --------------------------------------------------------------------------------------------------

def fill_hub(db: Path, history: int, month_start: datetime, month_records: int = 4500, stations: int = 20,
             volunteers: int = 300, seed: int = 1, health: int = 0, residents: int = 50_000) -> dict[str, int]:
    """Write a hub SQLite file: registrations, ``history`` time-bank records over the years before
    ``month_start``, and ``month_records`` in that month; with ``health``, that many records of the
    stations' health traffic (visits, consents, readings) of ``residents`` people over the same years,
    and :data:`REGULAR`'s own readings, the same at every size. The tables must exist (made by the hub).

    Returns:
        per-kind counts.
    """
    rng = random.Random(seed)
    names = [f"st-{i:03d}" for i in range(1, stations + 1)]
    vids = volunteer_ids(volunteers)
    seqs = {s: 0 for s in names}
    counts: dict[str, int] = {}
    received = datetime.now(timezone.utc).isoformat(sep=" ")
    events: list[tuple[str, str, datetime, Any]] = []
    for i, reg in enumerate(registrations(volunteers)):
        events.append((names[i % stations], str(uuid.uuid5(uuid.NAMESPACE_URL, f"reg:{reg.volunteer_id}")),
                       month_start - timedelta(days=2000 - i), reg))
    past = month_start - timedelta(days=max(30, history // 1500))
    end = month_start + timedelta(days=28)

    def chunks() -> Iterator[list[tuple[str, str, datetime, Any]]]:
        yield events
        buf: list = []
        for source in (timebank_events(rng, history, past, month_start - timedelta(hours=9), names, vids),
                       timebank_events(rng, month_records, month_start, end, names, vids),
                       health_events(rng, health, past, month_start, names, residents)):
            for ev in source:
                buf.append(ev)
                if len(buf) >= 50_000:
                    yield sorted(buf, key=lambda e: e[2])
                    buf = []
        if buf:
            yield sorted(buf, key=lambda e: e[2])

    con = sqlite3.connect(db)
    try:
        for chunk in chunks():
            rows = []
            for station, rid, when, payload in chunk:
                seqs[station] += 1
                counts[payload.KIND] = counts.get(payload.KIND, 0) + 1
                rows.append((rid, station, seqs[station], payload.KIND,
                             when.astimezone(timezone.utc).isoformat(timespec="milliseconds"),
                             payload_to_json(payload), "bench", "bench", received))
            with con:
                con.executemany("INSERT INTO hub_records (id, station, seq, kind, ts, payload, batch_id, hub, "
                                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        with con:
            con.executemany("INSERT INTO hub_stations (station, state, queue_depth) VALUES (?, 'online', 0)",
                            [(s,) for s in names])
    finally:
        con.close()
    return counts


def health_events(rng: random.Random, n: int, start: datetime, end: datetime, stations: list[str],
                  residents: int) -> Iterator[tuple[str, str, datetime, Any]]:
    """``n`` records of health traffic at random times in [start, end), then :data:`REGULAR`'s readings."""
    if n <= 0:
        return
    people = [key_of(f"bench-resident-{i}") for i in range(residents)]
    span = (end - start).total_seconds()
    for _ in range(n):
        yield (rng.choice(stations), str(uuid.UUID(int=rng.getrandbits(128))),
               start + timedelta(seconds=rng.random() * span), health_payload(rng, people))
    for i in range(REGULAR_READINGS):
        yield (stations[0], str(uuid.uuid5(uuid.NAMESPACE_URL, f"regular:{i}")), end - timedelta(days=i + 1),
               health_payload(rng, [REGULAR], "bp"))


def health_payload(rng: random.Random, people: list[str], only: str = "") -> Any:
    """One record of a station's health traffic: a visit, a consent, a reading or an admin event
    (``only="bp"`` or ``"glucose"``: that reading)."""
    key = rng.choice(people)
    roll = {"bp": 0.5, "glucose": 0.8}.get(only, rng.random())
    if roll < 0.30:
        return Visit(person_key=key, source=rng.choice(["idcard", "pcsc", "qr"]), role="resident",
                     document_kind="resident_id", age_band=rng.choice(["60-69", "70-79", "80+"]),
                     gender=rng.choice(["female", "male"]))
    if roll < 0.35:
        return ConsentDecision(person_key=key, granted=rng.random() < 0.95)
    if roll < 0.70:
        sys_ = rng.randint(100, 175)
        return BpMeasurement(person_key=key, systolic=sys_, diastolic=rng.randint(60, min(110, sys_ - 20)),
                             pulse=rng.randint(55, 100), category="high" if sys_ >= 140 else "normal",
                             level=Level.HIGH if sys_ >= 140 else Level.NORMAL, urgent=False,
                             device_driver="omron_hbp9030", device_model="HBP-9030")
    if roll < 0.99:
        value = round(rng.uniform(4.0, 12.0), 1)
        return GlucoseMeasurement(person_key=key, mmol_l=value, device_value=value, device_unit=Unit.MMOL_L,
                                  category="high" if value >= 7.0 else "normal",
                                  level=Level.HIGH if value >= 7.0 else Level.NORMAL, urgent=False,
                                  device_driver="sd_codefree", device_model="SD CodeFree",
                                  meal=rng.choice(list(MealContext)))
    return AdminEvent(action=rng.choice(["login", "devices_checked", "settings_viewed"]), detail="")


# --- kiosk ------------------------------------------------------------------------------------------------

class JournalFiller:
    """Grows one station's journal in bulk: health traffic plus volunteer shifts and services.

    Args:
        path: the journal file (made by :class:`kiosk.journal.Journal` beforehand).
        station: the station id of the records.
        volunteers: how many volunteers are registered (their records come first).
    """

    def __init__(self, path: Path, station: str, volunteers: int = 200, seed: int = 1) -> None:
        self.path = path
        self.station = station
        self.rng = random.Random(seed)
        self.people = [key_of(f"bench-person-{i}") for i in range(20_000)]
        self.vids = volunteer_ids(volunteers)
        self.records = 0
        self.shifts = 0
        self.clock = datetime(2020, 1, 1, tzinfo=timezone.utc)
        self._pending: list[tuple[str, datetime, Any]] = [
            (str(uuid.uuid4()), self.clock, reg) for reg in registrations(volunteers)]
        regular = random.Random(seed + 1)
        for i in range(REGULAR_READINGS):      # the resident whose lookups are timed: the same history at every size
            when = self.clock + timedelta(days=i)
            for payload in (health_payload(regular, [REGULAR], "bp"), health_payload(regular, [REGULAR], "glucose")):
                self._pending.append((str(uuid.uuid4()), when, payload))
        self._pending.append((str(uuid.uuid4()), self.clock, ConsentDecision(person_key=REGULAR, granted=True)))

    def grow(self, records: int, shifts: int, until: datetime) -> None:
        """Add records until the journal holds ``records`` of which ``shifts`` closed shifts (3 records each)."""
        new_shifts = max(0, shifts - self.shifts)
        total = max(0, records - self.records - len(self._pending))
        health = max(0, total - 3 * new_shifts)
        span = (until - self.clock).total_seconds()
        picks = sorted(self.rng.random() for _ in range(health + new_shifts))
        shift_at = set(self.rng.sample(range(len(picks)), new_shifts)) if new_shifts else set()
        for i, frac in enumerate(picks):
            when = self.clock + timedelta(seconds=frac * span)
            if i in shift_at:
                self._pending += shift_records(self.rng, self.rng.choice(self.vids), self.station, when)
            else:
                self._pending.append((str(uuid.uuid4()), when, health_payload(self.rng, self.people)))
            if len(self._pending) >= 50_000:
                self._flush()
        self._flush()
        self.shifts += new_shifts
        self.clock = until

    def _flush(self) -> None:
        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            seq = con.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
            recs, outbox = [], []
            for rid, when, payload in self._pending:
                seq += 1
                stamp = when.astimezone(timezone.utc).isoformat(timespec="milliseconds")
                recs.append((rid, self.station, seq, payload.KIND, stamp, payload_to_json(payload)))
                outbox.append((rid, seq, type(payload).PRIORITY, stamp, "acked", stamp))
            con.executemany("INSERT INTO records (id, station_id, seq, kind, created_at, payload) "
                            "VALUES (?, ?, ?, ?, ?, ?)", recs)
            con.executemany("INSERT INTO outbox (record_id, seq, priority, enqueued_at, state, acked_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", outbox)
            con.execute("COMMIT")
        finally:
            con.close()
        self.records += len(self._pending)
        self._pending = []
