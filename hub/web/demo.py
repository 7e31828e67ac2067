"""Demo data for the workbench tour, ``make run`` and tests: three stations, measurements, alerts
in each state, follow-ups, shifts (open, credited, waiting for review), a roster, a screening day,
a dead letter and a device fault, plus three demo accounts.

Records are written as the hub stores them (typed payloads serialised by ``kiosk.records``).
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from hub import care, ledger
from hub import models as m
from hub import requests as hub_requests
from hub import wishes
from hub.web import work
from hub.web.accounts import add_user
from kiosk.care import CareConsent
from kiosk.health import Level, assess_bp, assess_glucose
from kiosk.health_records import BpMeasurement, GlucoseMeasurement, HealthAlert, HealthSessionClosed
from kiosk.records import payload_to_json
from kiosk.community.activities import ActivityAttended, ActivitySignup
from kiosk.community.kinds import ASAP, ServiceRequest
from kiosk.community.wishes import SUGGESTION, WISH, WishPosted
from kiosk.timebank.kinds import (ISSUED, LedgerMovement, ServiceFollowUp, VolunteerCheckIn, VolunteerCheckOut,
                                  volunteer_account)
from drivers.readings import MealContext, Unit

STATIONS = ("sh-pd-zj-001", "sh-pd-zj-002", "sh-pd-zj-003")
#: Demo sign-ins (user, password, what they see).
ACCOUNTS = (("jiedao", "yizhan-demo-2026", "district", ()),
            ("zhang", "yizhan-demo-2026", "staff", ("sh-pd-zj-001",)),
            ("admin", "yizhan-demo-2026", "admin", ()))
#: The names the demo stations report (a kiosk sends its ``[station] name`` in its status).
STATION_NAMES = ("张江镇第一市民驿站", "张江镇第二市民驿站", "张江镇第三市民驿站")
VOLUNTEERS = (("v-wang", "王小明", "red"), ("v-li", "李芳", "orange"), ("v-zhao", "赵强", "blue"))


def person(n: int) -> str:
    """A demo person key (64 hex digits)."""
    return hashlib.sha256(f"demo-person-{n}".encode()).hexdigest()


class _Writer:
    def __init__(self, conn, now: datetime) -> None:
        self.conn, self.now, self.seq = conn, now, {}

    def add(self, station: str, payload, when: datetime, rid: str | None = None) -> str:
        self.seq[station] = self.seq.get(station, 0) + 1
        rid = rid or str(uuid.uuid4())
        ts, body = when.isoformat(timespec="milliseconds"), payload_to_json(payload)
        self.conn.execute(insert(m.records).values(
            id=rid, station=station, seq=self.seq[station], kind=payload.KIND, ts=ts, payload=body, batch_id="demo",
            hub="demo", received_at=when))
        ledger.apply(self.conn, [(rid, station, self.seq[station], payload.KIND, ts, body)])   # as the hub's store does
        hub_requests.apply_records(self.conn, [SimpleNamespace(id=rid, station=station, kind=payload.KIND, ts=ts,
                                                               payload_json=body)])
        return rid


def _bp(w: _Writer, station: str, who: int, sys_: int, dia: int, when: datetime) -> str:
    """Write a measurement (and its alert); returns the alert's id when there is one, else the measurement's."""
    a = assess_bp(sys_, dia)
    p = BpMeasurement(person_key=person(who), systolic=sys_, diastolic=dia, pulse=72, category=a.category,
                      level=Level(a.level), urgent=a.urgent, device_driver="sim", device_model="Demo BP")
    rid = w.add(station, p, when)
    if a.urgent:
        return w.add(station, HealthAlert(person_key=p.person_key, measurement_id=rid, measurement_kind="bp_measurement",
                                   category=a.category, level=Level(a.level),
                                   values=f"{sys_}/{dia} {Unit.MMHG.value}"), when)
    return rid


def _care(w: _Writer, now: datetime) -> None:
    """Two residents who agreed to care sharing: three high days (referral suggested), and one whose
    three high days were long ago (the referral is overdue)."""
    for who, days in ((95, (9, 6, 2)), (96, (40, 33, 26))):
        w.add(STATIONS[0], CareConsent(person_key=person(who), granted=True), now - timedelta(days=days[0], hours=1))
        for n, day in enumerate(days):
            _bp(w, STATIONS[n % 2], who, 148 + 2 * n, 94 - n, now - timedelta(days=day))
    care.rebuild_in(w.conn)


def seed(engine: Engine, now: datetime | None = None, accounts: bool = True, staff_station: str = STATIONS[0]) -> None:
    """Fill an empty hub database with the demo day (and the demo accounts; the staff account
    ``zhang`` works at ``staff_station``)."""
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        w = _Writer(conn, now)
        readings = [(118, 76), (135, 86), (142, 92), (128, 84), (165, 100), (122, 80), (150, 95), (131, 83)]
        for day in range(1, 12):
            for i, (s, d) in enumerate(readings):
                st = STATIONS[i % 3]
                when = now - timedelta(days=day, minutes=i)
                if i % 4 == 3:
                    w.add(st, _glucose(i + day), when)
                else:
                    _bp(w, st, i + day * 3, s + day % 5, d, when)
        # today's alerts at station 001: one overdue, one new, one handled, one resolved
        today = [_bp(w, STATIONS[0], who, s, d, now - timedelta(minutes=minutes))
                 for minutes, who, (s, d) in ((22, 90, (186, 112)), (2, 91, (182, 121)), (40, 92, (192, 105)),
                                              (95, 93, (181, 110)))]
        _bp(w, STATIONS[1], 94, 184, 115, now - timedelta(minutes=6))
        for n, (st, rating, vid) in enumerate(((STATIONS[0], 2, "v-li"), (STATIONS[0], 1, "v-wang"),
                                               (STATIONS[1], 2, "v-zhao"))):
            w.add(st, ServiceFollowUp(service_id=str(uuid.uuid4()), volunteer_id=vid, resident_key=person(50 + n),
                                      rating=rating, service_type="errand"), now - timedelta(hours=3 + n))
        _shifts(w, now)
        _community(w, now)
        _care(w, now)
        w.add(STATIONS[0], HealthSessionClosed(session_id="s-demo-1", staff_key=person(70),
                                               opened_at=now - timedelta(days=3, hours=3), residents_measured=18,
                                               measurements=24, abnormal=7, urgent=1), now - timedelta(days=3))
        body = {"volunteers": [{"id": v, "name": n, "teams": [t], "card_uid": f"04A1B2C3{i:02X}"}
                               for i, (v, n, t) in enumerate(VOLUNTEERS)]}
        conn.execute(insert(m.documents).values(doc_type="roster", scope="_all", version=3,
                                                issued=now.isoformat(timespec="milliseconds"),
                                                body=json.dumps(body, ensure_ascii=False)))
        catalog = {"services": [{"id": "errand", "name": "代办"}, {"id": "purchase", "name": "代购"},
                                {"id": "duty", "name": "驿站值班"}, {"id": "health_day", "name": "健康筛查日协助"}],
                   "announcements": [{"id": "a1", "text": "本周六上午九点健康讲座"}]}
        conn.execute(insert(m.documents).values(doc_type="catalog", scope="_all", version=2,
                                                issued=now.isoformat(timespec="milliseconds"),
                                                body=json.dumps(catalog, ensure_ascii=False)))
        for i, st in enumerate(STATIONS):
            seen = now - (timedelta(seconds=20) if i < 2 else timedelta(hours=5))
            conn.execute(insert(m.stations).values(
                station=st, state="online" if i < 2 else "offline", last_seen=seen, last_batch_at=seen,
                status_ts=seen.isoformat(timespec="milliseconds"), app="0.1.0", queue_depth=[0, 3, 41][i],
                warn=i == 2, documents=json.dumps({"roster": 3, "catalog": 2})))
            conn.execute(update(m.station_counts).where(m.station_counts.c.station == st).values(name=STATION_NAMES[i]))
        health = getattr(m, "station_health", None)
        if health is not None:
            conn.execute(insert(health).values(
                station=STATIONS[1], received_at=now, status_ts=now.isoformat(timespec="milliseconds"),
                clock_offset_s=0.2, healthy=False,
                health=json.dumps({"ok": False, "checks": {"printer": "fail", "bp": "ok"},
                                   "failing": {"printer": "打印机缺纸 (paper out)"}}, ensure_ascii=False)))
        conn.execute(insert(m.dead_letters).values(
            received_at=now - timedelta(hours=1), topic=f"yizhan/v1/{STATIONS[1]}/records", station=STATIONS[1],
            record_id=None, reason="SchemaError: batch: records[3] has an unknown kind 'wish_v2'", size=812,
            payload=b"{}"))
    work.take_action(engine, STATIONS[0], today[2], "called_family", "家属已来驿站接回", "zhang")
    work.take_action(engine, STATIONS[0], today[3], "family_doctor", "已约家庭医生明早复测", "zhang")
    work.resolve(engine, STATIONS[0], today[3], "zhang")
    for wish_id, steps in (("wish-demo-2", 1), ("wish-demo-3", 2), ("wish-demo-4", 3)):
        wishes.publish(engine, wish_id, "zhang")
        if steps > 1:
            wishes.claim(engine, wish_id, "张江科技园党支部", "unit", "zhang")
        if steps > 2:
            wishes.fulfil(engine, wish_id, "已送来 20 本绘本，请到驿站领取", "zhang")
    if accounts:
        for name, password, role, stations in ACCOUNTS:
            add_user(engine, name, password, role, [staff_station] if stations else [], actor="demo")


def _glucose(n: int):
    value = 5.2 + (n % 7) * 0.9
    a = assess_glucose(value, MealContext.FASTING)
    return GlucoseMeasurement(person_key=person(200 + n), mmol_l=value, device_value=value, device_unit=Unit.MMOL_L,
                              category=a.category, level=Level(a.level), urgent=a.urgent, device_driver="sim",
                              device_model="Demo meter", meal=MealContext.FASTING)


def _shifts(w: _Writer, now: datetime) -> None:
    st = STATIONS[0]
    for day, (vid, _name, team) in enumerate(VOLUNTEERS):
        shift = f"shift-{vid}-{day}"
        since, until = now - timedelta(days=day + 1, hours=4), now - timedelta(days=day + 1, hours=1)
        w.add(st, VolunteerCheckIn(shift_id=shift, volunteer_id=vid, person_key=person(300 + day), team=team,
                                   activity="health_day", at=since, mono_s=1.0, boot_id="demo"), since)
        w.add(st, VolunteerCheckOut(shift_id=shift, volunteer_id=vid, person_key=person(300 + day), team=team,
                                    activity="health_day", since=since, until=until, raw_minutes=180, hours=3.0,
                                    rule="demo", clock="monotonic"), until)
        w.add(st, LedgerMovement(movement_id=str(uuid.uuid5(uuid.NAMESPACE_URL, shift)), kind="earn", debit=ISSUED,
                                 credit=volunteer_account(vid), hours=3.0, reference=shift, source="shift", team=team,
                                 at_station=st), until)
    since = now - timedelta(days=1, hours=15)
    w.add(st, VolunteerCheckIn(shift_id="shift-forgot", volunteer_id="v-li", person_key=person(301), team="orange",
                               activity="duty", at=since, mono_s=1.0, boot_id="demo"), since)
    w.add(st, VolunteerCheckOut(shift_id="shift-forgot", volunteer_id="v-li", person_key=person(301), team="orange",
                                activity="duty", since=since, until=since + timedelta(hours=12), raw_minutes=720,
                                hours=0.0, rule="auto_close", clock="default", needs_review=True, auto_closed=True,
                                proposed_hours=2.0), since + timedelta(hours=12))
    at = now - timedelta(hours=2)
    w.add(st, VolunteerCheckIn(shift_id="shift-now", volunteer_id="v-zhao", person_key=person(302), team="blue",
                               activity="health_day", at=at, mono_s=1.0, boot_id="demo"), at)


def _community(w: _Writer, now: datetime) -> None:
    """Requests, wishes, suggestions and a calendar with sign-ups in both stations (and one held)."""
    a, b = STATIONS[0], STATIONS[1]
    for n, (service, name, who, minutes) in enumerate((("purchase", "代购", "钱*", 50), ("errand", "代办", "孙*", 20)), 1):
        rid = f"req-demo-{n}"          # numbers from 81 up: a kiosk numbers its day from 01
        w.add(a, ServiceRequest(request_id=rid, number=f"{now:%m%d}-{80 + n}", person_key=person(400 + n),
                                display_name=who, service_type=service, service_name=name, when=ASAP,
                                when_label=""), now - timedelta(minutes=minutes))
    for n, (station, kind, category, phrase, who) in enumerate((
            (a, WISH, "class", "phone", "钱*"), (a, WISH, "daily", "repair", "周*"), (a, WISH, "child", "tutor", "吴*"),
            (a, WISH, "child", "books", "郑*"), (a, SUGGESTION, "canteen", "less_salt", "王*"),
            (b, WISH, "activity", "outing", "冯*"), (b, SUGGESTION, "service", "hours", "陈*")), 1):
        w.add(station, WishPosted(f"wish-demo-{n}", kind, person(500 + n), who, category, phrase),
              now - timedelta(days=2, hours=n), rid=f"wish-demo-{n}")
    day = (now + timedelta(hours=8)).replace(hour=1, minute=0, second=0, microsecond=0)      # 09:00 in Shanghai
    cal = [("act-demo-dance", "广场舞教学", "驿站广场", day - timedelta(days=1), 1.5, 40, [a, b]),
           ("act-demo-talk", "高血压健康讲座", "二楼活动室", day + timedelta(days=1), 1.5, 30, []),
           ("act-demo-brush", "书法班", "二楼活动室", day + timedelta(days=3), 2, 15, [a]),
           ("act-demo-market", "旧物集市", "驿站广场", day + timedelta(days=5), 3, 100, [b])]
    body = {"activities": [{"id": i, "title": t, "place": p, "start": s.isoformat(),
                            "end": (s + timedelta(hours=h)).isoformat(), "capacity": c,
                            **({"stations": st} if st else {})} for i, t, p, s, h, c, st in cal]}
    w.conn.execute(insert(m.documents).values(doc_type="calendar", scope="_all", version=1,
                                              issued=now.isoformat(timespec="milliseconds"),
                                              body=json.dumps(body, ensure_ascii=False)))
    for n in range(12):
        station = a if n % 3 else b
        w.add(station, ActivitySignup("act-demo-dance", person(600 + n), "居*"), day - timedelta(days=3, minutes=n))
        if n < 9:
            w.add(station, ActivityAttended("act-demo-dance", person(600 + n)), day - timedelta(days=1, minutes=-5 - n))
    for n in range(31):
        w.add(a if n % 2 else b, ActivitySignup("act-demo-talk", person(700 + n), "居*", waitlisted=n >= 30),
              now - timedelta(hours=5, minutes=n))
