"""Service requests through the hub: asked at A, assigned by staff, done at B, confirmed and rated at A
through the hub's ``requests`` document; replays and late arrivals change nothing; the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from hub import activities as ha
from hub import requests as hr
from hub import wishes as hw
from hub.monthly import monthly_report, monthly_rows
from hub.reports import ReportError
from hub.service import Hub
from hub.throttle import Coalescer
from hub.timebank import balances, roster_with_balances
from kiosk.community.activities import Activities, AlreadySignedUp, NotNow, TooLate, UnknownActivity
from kiosk.community.errors import NothingChosen, NotIdentified
from kiosk.community.kinds import ASAP, ASSIGNED, CANCELLED, CONFIRMED, DONE, REQUESTED
from kiosk.community.requests import Requests
from kiosk.community.wishes import CLOSED, FULFILLED, SUGGESTION, WISH, Wishes
from kiosk.documents import current_documents
from kiosk.journal import Journal
from kiosk.outbox import Outbox
from kiosk.session import Person
from sync.documents import decode_document, make_document
from sync.mqtt import MqttLink
from sync.downlink import DownlinkStore
from sync.messages import MAX_BATCH_BYTES, SchemaError, encode_batch
from tests.hub.test_timebank import clock, hub, kiosks  # noqa: F401  (fixtures)
from tests.kiosk.test_volunteer import LI, RESIDENT, ROSTER, WANG
from tests.support.services import wait_for
from tests.support.signing import HUB_KEY, HUB_PUBLIC, signed


def community(k) -> Requests:
    return Requests(k.journal, k.bank, k.data_dir)


def send_document(store, *stations) -> None:
    doc = store.prepare_document("requests", hr.document_body(store.engine))
    for k in stations:
        k.apply("requests", doc.body, doc.version)


def test_asked_at_a_assigned_at_the_hub_done_at_b_confirmed_at_a(hub, kiosks, clock):
    a, b = kiosks("st-a"), kiosks("st-b")
    ra, rb = community(a), community(b)
    asked = ra.ask(RESIDENT, "visit-1", "purchase", ASAP, "call_first")
    a.ship(hub)
    [row] = hr.queue(hub.engine, now=clock.now())
    assert (row["number"], row["state"], row["station"], row["overdue"]) == (asked.number, REQUESTED, "st-a", False)
    assert hr.queue(hub.engine, now=clock.now() + timedelta(hours=25))[0]["overdue"]

    hub.prepare_document("roster", ROSTER)                        # staff pick volunteers the hub knows
    hr.assign(hub.engine, asked.number, "v-wang", by="staff-zhang")
    send_document(hub, a, b)
    assert rb.view(asked.request_id).state == ASSIGNED
    mine, _free = rb.tasks(WANG)
    assert [t.number for t in mine] == [asked.number]
    rb.mark_done(WANG, asked.request_id)
    b.ship(hub)
    assert hr.find(hub.engine, asked.request_id)["state"] == DONE

    send_document(hub, a, b)
    assert ra.view(asked.request_id).state == DONE
    ra.confirm(asked.request_id, RESIDENT, 5)
    sent = a.ship(hub)
    row = hr.find(hub.engine, asked.request_id)
    assert (row["state"], row["rating"], row["volunteer_id"]) == (CONFIRMED, 5, "v-wang")
    assert balances(hub.engine)["volunteer:v-wang"] == 1
    for raw in sent:                                              # redelivery changes nothing
        hub.handle_records("yizhan/v1/st-a/records", "st-a", raw)
    assert balances(hub.engine)["volunteer:v-wang"] == 1
    with hub.engine.connect() as conn:
        events = conn.exec_driver_sql("SELECT event FROM hub_request_events ORDER BY at").fetchall()
    assert sorted(e[0] for e in events) == ["assigned", "confirmed", "done", "requested"]   # each once


def test_staff_actions_refuse_bad_states_and_claims_race(hub, kiosks):
    a = kiosks("st-a")
    ra = community(a)
    asked = ra.ask(RESIDENT, "v1", "errand", ASAP)
    a.ship(hub)
    hub.prepare_document("roster", ROSTER)
    with pytest.raises(hr.UnknownRequest):
        hr.assign(hub.engine, "9999-99", "v-wang")
    with pytest.raises(hr.RequestsError, match="No volunteer nobody123"):   # an unknown name: refused
        hr.assign(hub.engine, asked.number, "nobody123")
    with pytest.raises(hr.RequestsError):
        hr.cancel(hub.engine, asked.number, "because")
    ra.claim(LI, asked.request_id)                                # claimed at the kiosk …
    hr.assign(hub.engine, asked.number, "v-wang")                 # … and re-assigned by staff
    a.ship(hub)                                                   # the claim arrives after the assignment
    assert hr.find(hub.engine, asked.number)["volunteer_id"] == "v-wang"
    cancelled = hr.cancel(hub.engine, asked.number, "no_volunteer")
    assert cancelled["state"] == CANCELLED and cancelled["cancel_reason"] == "no_volunteer"
    with pytest.raises(hr.WrongState):
        hr.assign(hub.engine, asked.number, "v-li")
    body = hr.document_body(hub.engine)
    assert [(e["number"], e["state"]) for e in body["requests"]] == [(asked.number, CANCELLED)]
    assert "volunteer_id" in body["requests"][0]


@pytest.mark.services
def test_late_request_after_its_claim_and_cli(hub, kiosks, tmp_path):
    a = kiosks("st-a")
    ra = community(a)
    asked = ra.ask(RESIDENT, "v1", "receive", ASAP)
    ra.claim(WANG, asked.request_id)
    records = a.journal.records(limit=100)
    wire = {r.kind: r for r in _wire(a)}
    # The claim alone first (as if the request's batch were lost and resent later) …
    hub.handle_records("yizhan/v1/st-a/records", "st-a", encode_batch("st-a", "b1", [wire["request_claimed"]]))
    assert hr.queue(hub.engine) == []
    hub.handle_records("yizhan/v1/st-a/records", "st-a", encode_batch("st-a", "b2", [wire["service_request"]]))
    assert hr.find(hub.engine, asked.number)["state"] == ASSIGNED       # … the fold puts it right
    assert len(records) == 2
    db = str(tmp_path / "hub.sqlite3")
    out = subprocess.run([sys.executable, "-m", "app.cli", "hub", "requests", "--db", db, "--json"],
                         capture_output=True, text=True, check=True)
    assert [r["number"] for r in json.loads(out.stdout)] == [asked.number]
    out = subprocess.run([sys.executable, "-m", "app.cli", "hub", "requests", "cancel", asked.number, "--reason",
                          "oops", "--db", db], capture_output=True, text=True)
    assert out.returncode == 2 and "invalid choice" in out.stderr
    out = subprocess.run([sys.executable, "-m", "app.cli", "hub", "requests", "assign", "0000-00", "v-li",
                          "--db", db, "--no-publish"], capture_output=True, text=True)
    assert out.returncode == 2 and "no request" in out.stderr


def _wire(k):
    outbox = Outbox(k.data_dir / Journal.FILENAME)
    try:
        batch = outbox.claim_batch(50, MAX_BATCH_BYTES)
        return list(batch.records)
    finally:
        outbox.close()


def test_wish_posted_at_a_is_claimed_and_fulfilled_and_the_resident_sees_it(hub, kiosks):
    a = kiosks("st-a")
    ra = community(a)
    board = Wishes(a.journal, ra.hub_wishes, a.clock.now)
    with pytest.raises(NothingChosen):                               # a wish with nothing chosen
        board.post(RESIDENT, "v1", WISH, "", "")
    with pytest.raises(NotIdentified):
        board.post(None, "v1", WISH, "class", "phone")
    posted = board.post(RESIDENT, "v1", WISH, "class", "phone")
    assert board.post(RESIDENT, "v1", WISH, "class", "phone") == posted     # a double tap: one wish
    idea = board.post(RESIDENT, "v1", SUGGESTION, "canteen", "less_salt")
    a.ship(hub)
    a.ship(hub)
    assert [w["wish_id"] for w in hw.board(hub.engine)] == [posted.wish_id, idea.wish_id]
    with pytest.raises(hw.WishError):
        hw.claim(hub.engine, posted.wish_id, "张江科技公司", "unit")         # not published yet
    with pytest.raises(hw.WishError):
        hw.publish(hub.engine, idea.wish_id)                                # suggestions are answered
    hw.publish(hub.engine, posted.wish_id)
    hw.claim(hub.engine, posted.wish_id, "张江科技公司", "unit")
    with pytest.raises(hw.WishError):
        hw.fulfil(hub.engine, posted.wish_id, " ")
    hw.fulfil(hub.engine, posted.wish_id, "手机课 12月5日 开课")
    hw.answer(hub.engine, idea.wish_id, "食堂已减盐")
    send_document(hub, a)
    mine = {w.wish_id: w for w in board.mine(RESIDENT)}
    assert (mine[posted.wish_id].state, mine[posted.wish_id].note) == (FULFILLED, "手机课 12月5日 开课")
    assert mine[idea.wish_id].state == CLOSED
    assert hw.board(hub.engine) == []


CAL = {"activities": [
    {"id": "talk", "title": "健康讲座", "place": "活动室", "start": "2025-05-13T09:00:00+08:00",
     "end": "2025-05-13T10:00:00+08:00", "capacity": 2},
    {"id": "law", "title": "法律咨询日", "place": "大厅", "start": "2025-05-14T09:00:00+08:00",
     "end": "2025-05-14T11:00:00+08:00", "capacity": 5, "stations": ["st-b"]}]}


def test_activity_seats_pooled_across_stations_waitlist_attendance_and_counts(hub, kiosks, clock):
    a, b = kiosks("st-a"), kiosks("st-b")
    for k in (a, b):
        k.apply("calendar", CAL, 1)
    acts = {k.station: Activities(k.journal, lambda k=k: current_documents(k.data_dir), k.clock.now) for k in (a, b)}
    assert [x.id for x in acts["st-a"].upcoming()] == ["talk"]                 # law is for st-b only
    assert acts["st-a"].sign_up(RESIDENT, "talk").mine == "seat"
    with pytest.raises(AlreadySignedUp):
        acts["st-a"].sign_up(RESIDENT, "talk")
    with pytest.raises(UnknownActivity):
        acts["st-a"].sign_up(RESIDENT, "law")
    a.ship(hub)
    send_document(hub, a, b)
    assert acts["st-b"].sign_up(WANG, "talk").mine == "seat"                   # the second of two seats
    assert acts["st-b"].sign_up(LI, "talk").mine == "waitlist"                 # past capacity: waits
    b.ship(hub)
    send_document(hub, a, b)
    assert acts["st-a"].upcoming()[0].waiting == 1
    acts["st-a"].cancel(RESIDENT, "talk")                                      # a seat frees up …
    a.ship(hub)
    send_document(hub, a, b)
    assert acts["st-b"].upcoming(LI)[0].mine == "seat"                         # … the waitlist moves up
    with pytest.raises(NotNow):
        acts["st-b"].attend(LI, "talk")
    clock.advance(hours=24, minutes=10)                                        # 09:10 on the day
    with pytest.raises(TooLate):
        acts["st-b"].cancel(LI, "talk")                                        # cancelling after the start
    acts["st-b"].attend(LI, "talk")
    acts["st-b"].attend(LI, "talk")                                            # a second tap: once
    sent = b.ship(hub)
    for raw in sent:
        hub.handle_records("yizhan/v1/st-b/records", "st-b", raw)
    assert hw_counts(hub) == {"sessions": 1, "attendances": 1}
    pooled = {e["id"]: e for e in hr.document_body(hub.engine)["activities"]}
    assert pooled["talk"]["signed"] == {"st-a": 0, "st-b": 2} and pooled["talk"]["attended"] == 1


def hw_counts(hub):
    return ha.counts(hub.engine, "2025-05-01", "2025-06-01")


def test_calendar_with_past_or_overlapping_times_or_older_version_is_refused(hub, kiosks, clock):
    now = clock.now()
    overlapping = {"activities": CAL["activities"] + [{**CAL["activities"][0], "id": "talk2",
                                                       "start": "2025-05-13T09:30:00+08:00"}]}
    with pytest.raises(SchemaError, match="overlaps"):
        ha.check_new_calendar(overlapping, None, now)
    backwards = {"activities": [{**CAL["activities"][0], "end": "2025-05-13T08:00:00+08:00"}]}
    with pytest.raises(SchemaError, match="ends before"):
        ha.check_new_calendar(backwards, None, now)
    ha.check_new_calendar(CAL, None, now)
    with pytest.raises(SchemaError, match="past"):
        ha.check_new_calendar(CAL, None, now + timedelta(days=2))              # talk would be new and past
    ha.check_new_calendar(CAL, CAL, now + timedelta(days=2))                   # already published: kept
    a = kiosks("st-a")
    a.apply("calendar", CAL, 2)
    older = make_document("calendar", 1, "_all", "2025-05-01T00:00:00.000+00:00", {"activities": []})
    result = DownlinkStore(a.data_dir, "st-a", HUB_PUBLIC).apply("calendar", "_all", signed(older))
    assert not result.applied and "not newer" in result.reason
    assert [x.id for x in Activities(a.journal, lambda: current_documents(a.data_dir), a.clock.now).upcoming()] \
        == ["talk"]


def test_monthly_report_counts_each_thing_once_per_station_and_district(hub, kiosks, clock, tmp_path):
    a, b = kiosks("st-a"), kiosks("st-b")
    ra = community(a)
    asked = ra.ask(RESIDENT, "v1", "purchase", ASAP)
    ra.claim(WANG, asked.request_id)
    ra.mark_done(WANG, asked.request_id)
    ra.confirm(asked.request_id, RESIDENT, 5)
    community(b).ask(WANG, "v2", "errand", ASAP)
    Wishes(a.journal, ra.hub_wishes, a.clock.now).post(RESIDENT, "v1", WISH, "class", "phone")
    a.apply("calendar", CAL, 1)
    acts = Activities(a.journal, lambda: current_documents(a.data_dir), a.clock.now)
    acts.sign_up(RESIDENT, "talk")
    clock.advance(hours=24, minutes=5)
    acts.attend(RESIDENT, "talk")
    for k in (a, b):
        for raw in k.ship(hub):
            hub.handle_records(f"yizhan/v1/{k.station}/records", k.station, raw)    # every batch twice
    rows = {(scope, cat, item): value for scope, cat, item, value in monthly_rows(hub.engine, "2025-05")}
    assert rows[("st-a", "四代服务", "代购：已确认")] == 1 and rows[("st-b", "四代服务", "代办：待接单")] == 1
    assert rows[("全区", "四代服务", "请求合计")] == 2
    assert rows[("全区", "微心愿", "发布")] == 1
    assert rows[("全区", "近期活动", "场次")] == 1 and rows[("全区", "近期活动", "人次")] == 1
    assert rows[("st-a", "服务评价", "非常满意")] == 1
    assert rows[("全区", "志愿服务", "时长（小时）：暖心橙")] == 1
    for fmt in ("csv", "xlsx", "pdf"):
        path = monthly_report(hub.engine, "2025-05", fmt, tmp_path / f"m.{fmt}")
        assert path.stat().st_size > 100
    assert "代购：已确认" in (tmp_path / "m.csv").read_text(encoding="utf-8-sig")
    with pytest.raises(ReportError):
        monthly_rows(hub.engine, "2025-13")


#: A second resident (Li identified by their ID card) and a third one.
LI_CARD = Person(role="volunteer", person_key="c" * 64, display_name="李*", volunteer_id="v-li", source="idcard")
ZHOU = Person(role="resident", person_key="d" * 64, display_name="周*", source="idcard")


def test_family_linked_at_a_gives_priority_at_b_while_the_volunteer_has_hours(hub, kiosks, clock):
    a, b = kiosks("st-a"), kiosks("st-b")
    ra, rb = community(a), community(b)
    ra.family.link(WANG, RESIDENT)                             # at A, both cards
    a.ship(hub)
    plain = rb.ask(ZHOU, "z1", "errand", ASAP)
    clock.advance(minutes=1)
    asked = rb.ask(RESIDENT, "r1", "purchase", ASAP)           # B knows nothing of the link yet
    assert not asked.priority
    b.ship(hub)
    assert [r["priority"] for r in hr.queue(hub.engine)] == [False, False]    # Wang has no banked hours
    for _ in range(2):                                          # Wang earns 2 h at A
        svc = a.bank.record_service(WANG, "purchase", 60)
        a.bank.confirm_service(svc.service_id, LI_CARD, 5)
    a.ship(hub)
    first, second = hr.queue(hub.engine)                       # now the family member goes first
    assert (first["request_id"], first["family_priority"], first["priority_account"]) == \
        (asked.request_id, True, "volunteer:v-wang")
    assert second["request_id"] == plain.request_id and not second["priority"]

    send_document(hub, a, b)
    b.apply("roster", roster_with_balances(hub.engine, ROSTER), 2)         # staff republish the roster
    view = rb.view(asked.request_id)
    assert view.priority and view.priority_account == "volunteer:v-wang"
    assert [r.request_id for r in rb.tasks(LI)[1]] == [asked.request_id, plain.request_id]
    assert [m.family_key for m in rb.family.members(WANG)] == [RESIDENT.person_key]   # the link, known at B
    rb.claim(LI, asked.request_id)
    rb.mark_done(LI, asked.request_id)
    rb.confirm(asked.request_id, RESIDENT, 5)
    sent = b.ship(hub)
    bal = balances(hub.engine)
    assert (bal["volunteer:v-wang"], bal["bank:spent"], bal["volunteer:v-li"]) == (1, 1, 1)
    assert sum(bal.values()) == 0
    for raw in sent:                                            # redelivery changes nothing
        hub.handle_records("yizhan/v1/st-b/records", "st-b", raw)
    assert balances(hub.engine)["volunteer:v-wang"] == 1
    with hub.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM hub_family_events").scalar() == 1

    ra.family.unlink(WANG, RESIDENT.person_key)                 # unlinked at A
    a.ship(hub)
    send_document(hub, a, b)
    assert rb.family.members(WANG) == []
    later = rb.ask(RESIDENT, "r2", "haircut", ASAP)
    b.ship(hub)
    assert not later.priority
    assert not next(r for r in hr.queue(hub.engine) if r["request_id"] == later.request_id)["priority"]


def test_waitlist_promotion_is_decided_alike_at_both_kiosks_and_told_once(hub, kiosks, clock):
    a, b = kiosks("st-a"), kiosks("st-b")
    for k in (a, b):
        k.apply("calendar", CAL, 1)
    acts = {k.station: Activities(k.journal, lambda k=k: current_documents(k.data_dir), k.clock.now) for k in (a, b)}
    acts["st-a"].sign_up(RESIDENT, "talk")                      # capacity 2
    a.ship(hub)
    send_document(hub, a, b)
    clock.advance(minutes=1)
    acts["st-b"].sign_up(WANG, "talk")
    clock.advance(minutes=1)
    assert acts["st-b"].sign_up(ZHOU, "talk").mine == "waitlist"
    b.ship(hub)
    send_document(hub, a, b)
    # Both kiosks agree who holds the seats (each used to count the other station's sign-ups first).
    assert acts["st-a"].upcoming(RESIDENT)[0].mine == "seat"
    assert acts["st-b"].upcoming(WANG)[0].mine == "seat" and acts["st-b"].upcoming(ZHOU)[0].mine == "waitlist"
    assert acts["st-b"].promotions(ZHOU) == []

    acts["st-a"].cancel(RESIDENT, "talk")                       # a seat frees up at A …
    a.ship(hub)
    send_document(hub, a, b)
    [promoted] = acts["st-b"].promotions(ZHOU)                  # … Zhou at B learns it at the next tap
    assert promoted.id == "talk" and promoted.mine == "seat" and promoted.promoted
    acts["st-b"].promotion_told(ZHOU, "talk")
    acts["st-b"].promotion_told(ZHOU, "talk")                   # told once
    assert acts["st-b"].promotions(ZHOU) == [] and b.journal.count("activity_promotion_seen") == 1
    assert acts["st-b"].upcoming(ZHOU)[0].promoted              # the activity list still says so
    assert acts["st-b"].promotions(WANG) == []                  # never waitlisted: nothing to tell
    b.ship(hub)
    queue = {e["id"]: e for e in hr.document_body(hub.engine)["activities"]}["talk"]["queue"]
    assert [(e["key"], e["waitlisted"]) for e in queue] == [(WANG.person_key, False), (ZHOU.person_key, True)]


def test_requests_document_publishes_are_coalesced_and_the_last_state_is_published(hub, kiosks, mosquitto):
    now = [100.0]
    service = Hub(hub, host=mosquitto.host, port=mosquitto.port, signing_key=HUB_KEY, requests_interval=5,
                  clock=lambda: now[0], client_id="hub-coalesce")
    got = []
    watcher = MqttLink(host=mosquitto.host, port=mosquitto.port, base_topic="yizhan/v1", client_id="watch")
    watcher.subscribe("requests", lambda _st, _sfx, payload, _r: got.append(decode_document(payload, public_key=HUB_KEY.public_key())), station="st-a")
    service.link.start()
    watcher.start()
    try:
        a = kiosks("st-a")
        ra = community(a)
        asked = []

        def change(i: int) -> None:
            asked.append(ra.ask(RESIDENT, f"v{i}", ["purchase", "errand", "receive", "proxy"][i], ASAP))
            a.ship(hub)
        change(0)
        assert service.publish_due() == ["requests"]            # the first change goes out at once
        for i, t in ((1, 101.0), (2, 103.0)):
            change(i)
            now[0] = t
            assert service.publish_due() == []                  # within 5 s: held back, not lost
        now[0] = 104.9
        assert service.publish_due() == []
        now[0] = 105.0
        assert service.publish_due() == ["requests"]            # the final publish, with the last state
        now[0] = 200.0
        assert service.publish_due() == []                      # nothing changed since
        assert publish_count(hub) == 2
        assert wait_for(lambda: got and got[-1].version == 2, 10)
        assert {r["id"] for r in got[-1].body["requests"]} == {r.request_id for r in asked}
        change(3)                                               # after a quiet time: at once again
        assert service.publish_due() == ["requests"] and publish_count(hub) == 3
    finally:
        watcher.stop()
        service.link.stop()


def publish_count(store) -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT version FROM hub_documents WHERE doc_type = 'requests' "
                                    "AND scope = 'st-a'").scalar()       # each station's own (issue 22)


def test_a_failed_publish_stays_due_and_bad_family_entries_are_refused():
    now = [0.0]
    c = Coalescer(3, lambda: now[0])
    c.changed("requests")
    assert c.due() == ["requests"]
    c.failed("requests")                                        # the broker did not confirm
    now[0] = 1.0
    assert c.due() == [] and c.pending("requests")              # not hammered …
    now[0] = 3.0
    assert c.due() == ["requests"] and not c.pending("requests")   # … but retried
    good = {"volunteer_id": "v-wang", "family_key": "b" * 64, "linked": True, "at": "2025-05-12T01:00:00+00:00"}
    make_document("requests", 1, "_all", "2025-05-12T01:00:00.000+00:00", {"family": [good]})
    for bad in ({**good, "family_key": "310101195001011234"}, {**good, "linked": "yes"}, {**good, "volunteer_id": ""}):
        with pytest.raises(SchemaError):
            make_document("requests", 1, "_all", "2025-05-12T01:00:00.000+00:00", {"family": [bad]})
    with pytest.raises(SchemaError):
        make_document("requests", 1, "_all", "2025-05-12T01:00:00.000+00:00",
                      {"activities": [{"id": "talk", "queue": [{"key": "b" * 64, "waitlisted": "no", "at": "x"}]}]})


def test_staff_cannot_assign_a_request_to_the_volunteer_who_asked_for_it(hub, kiosks):
    a = kiosks("st-a")
    asked = community(a).ask(WANG, "visit-self", "purchase", ASAP)     # 王小明 asks as a resident
    a.ship(hub)
    hub.prepare_document("roster", ROSTER)
    with pytest.raises(hr.RequestsError, match="王小明 asked for this request"):
        hr.assign(hub.engine, asked.number, "v-wang")
    assert hr.find(hub.engine, asked.number)["state"] == REQUESTED
    assert hr.assign(hub.engine, asked.number, "v-li")["volunteer_id"] == "v-li"
