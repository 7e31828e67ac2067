"""Service requests at the kiosk core: ask, claim, done, confirm, cancel; priority from banked hours;
bad input gives a typed error with a message and nothing is doubled."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from kiosk.community.errors import (
    AlreadyRequested, AlreadyTaken, NothingChosen, NotIdentified, NotRequester, NotYourTask, OwnRequest,
    UnknownRequest, UnknownRequestService, UnknownSlot, WrongState,
)
from kiosk.community.family import AlreadyLinked, LinkSelf, NotAResident, NotLinked, NotVolunteer
from kiosk.community.kinds import ASAP, ASSIGNED, CANCELLED, CONFIRMED, DONE, REQUESTED, event_id
from kiosk.community.home import DEFAULT_TILES, home_tiles
from kiosk.community.info import station_info
from kiosk.community.requests import Requests
from kiosk.community.timetable import slots_from_config
from kiosk.i18n import gettext
from kiosk.session import Person
from kiosk.timebank.errors import AlreadyConfirmed
from kiosk.timebank.kinds import SPENT, ledger_balances, volunteer_account
from tests.kiosk.test_volunteer import (  # noqa: F401  (fixtures)
    LI, RESIDENT, RESIDENT_KEY, ROSTER, STATION, TZ8, WANG, bank, clock, journal, publish,
)

#: Li identified by their ID card: a resident who can confirm a service (their contactless card cannot).
LI_AS_RESIDENT = Person(role="volunteer", person_key="c" * 64, display_name="李*", volunteer_id="v-li",
                        source="idcard")


@pytest.fixture()
def req(journal, bank, data_dir):
    return Requests(journal, bank, data_dir)


def test_ask_gives_a_number_and_is_idempotent_per_visit(req, journal):
    first = req.ask(RESIDENT, "visit-1", "purchase", ASAP, "call_first")
    assert (first.state, first.number, first.service_name, first.priority) == (REQUESTED, "0512-01", "代购", False)
    again = req.ask(RESIDENT, "visit-1", "purchase", ASAP, "call_first")     # a double tap
    assert again.request_id == first.request_id and journal.count("service_request") == 1
    with pytest.raises(AlreadyRequested):                                      # a new visit, still open
        req.ask(RESIDENT, "visit-2", "purchase", ASAP)
    second = req.ask(RESIDENT, "visit-2", "haircut", req.slots("haircut")[0].id)
    assert second.number == "0512-02" and second.when_label
    assert [r.request_id for r in req.mine(RESIDENT)] == [second.request_id, first.request_id] or \
        {r.request_id for r in req.mine(RESIDENT)} == {first.request_id, second.request_id}


@pytest.mark.parametrize(("person", "service", "when", "note", "error"), [
    (None, "purchase", ASAP, "", NotIdentified),
    (RESIDENT, "", ASAP, "", NothingChosen),
    (RESIDENT, "purchase", "", "", NothingChosen),
    (RESIDENT, "bp", ASAP, "", UnknownRequestService),
    (RESIDENT, "purchase", "mon-3am", "", UnknownSlot),
    (RESIDENT, "purchase", ASAP, "free text", NothingChosen),
])
def test_bad_requests_are_refused_with_a_message(req, journal, person, service, when, note, error):
    with pytest.raises(error) as exc:
        req.ask(person, "v", service, when, note)
    assert gettext(exc.value.message, "zh_CN") != exc.value.message          # translated
    assert journal.count("service_request") == 0


def test_claim_done_confirm_with_rating_earns_the_volunteer_hours(req, bank, journal):
    asked = req.ask(RESIDENT, "v1", "purchase", ASAP)
    mine, free = req.tasks(WANG)
    assert mine == [] and [r.request_id for r in free] == [asked.request_id]
    with pytest.raises(NotYourTask):                                           # not claimed by anyone
        req.mark_done(WANG, asked.request_id)
    assert req.claim(WANG, asked.request_id).state == ASSIGNED
    with pytest.raises(AlreadyTaken):
        req.claim(LI, asked.request_id)
    with pytest.raises(NotYourTask):                                           # someone else's task
        req.mark_done(LI, asked.request_id)
    pending = req.mark_done(WANG, asked.request_id)
    assert req.mark_done(WANG, asked.request_id) == pending                   # marking again doubles nothing
    assert journal.count("volunteer_service") == 1 and journal.count("request_done") == 1
    assert req.view(asked.request_id).state == DONE
    with pytest.raises(WrongState):
        req.cancel(RESIDENT, asked.request_id, "not_needed")                 # cancelling after it was done
    with pytest.raises(NotRequester):
        req.confirm(asked.request_id, LI, 5)
    done = req.confirm(asked.request_id, RESIDENT, 2)
    assert done.follow_up and done.hours == 1.0
    assert req.view(asked.request_id).state == CONFIRMED
    with pytest.raises(WrongState):
        req.confirm(asked.request_id, RESIDENT, 5)
    with pytest.raises(AlreadyConfirmed):                                     # the time bank's own guard
        bank.confirm_service(pending.service_id, RESIDENT, 5)
    assert bank.status(WANG).balance == 1.0
    assert journal.count("service_follow_up") == 1


def test_resident_cancels_with_a_reason(req, journal):
    asked = req.ask(RESIDENT, "v1", "purchase", ASAP)
    with pytest.raises(NothingChosen):
        req.cancel(RESIDENT, asked.request_id, "")
    with pytest.raises(NotRequester):
        req.cancel(WANG, asked.request_id, "not_needed")
    assert req.cancel(RESIDENT, asked.request_id, "solved").state == CANCELLED
    assert req.cancel(RESIDENT, asked.request_id, "solved").state == CANCELLED
    assert journal.count("request_cancelled") == 1
    with pytest.raises(WrongState):
        req.claim(WANG, asked.request_id)
    with pytest.raises(UnknownRequest):
        req.view("nope")


def test_banked_hours_give_priority_and_are_used_when_the_request_is_done(req, bank, journal, data_dir):
    # Wang earns 2 h serving the resident, then asks for help himself.
    for _visit in ("a", "b"):
        svc = bank.record_service(WANG, "purchase", 60)
        bank.confirm_service(svc.service_id, RESIDENT, 5)
    plain = req.ask(RESIDENT, "v1", "purchase", ASAP)
    urgent = req.ask(WANG, "v2", "errand", ASAP)
    assert urgent.priority and urgent.priority_account == volunteer_account("v-wang") and not plain.priority
    _mine, free = req.tasks(LI)
    assert [r.request_id for r in free] == [urgent.request_id, plain.request_id]   # the front of the queue
    with pytest.raises(OwnRequest):
        req.claim(WANG, urgent.request_id)
    req.claim(LI, urgent.request_id)
    req.mark_done(LI, urgent.request_id)
    assert bank.status(WANG).balance == 2.0                     # nothing used before it is confirmed
    req.confirm(urgent.request_id, WANG, 5)
    assert bank.status(WANG).balance == 1.0                     # the errand's 1 h recorded as used
    moves = [r.payload for r in journal.records("ledger_movement", limit=100)]
    assert [m.movement_id for m in moves if m.credit == SPENT] == [event_id("use", urgent.request_id)]
    assert sum(ledger_balances(moves).values()) == 0


def test_hub_document_assigns_and_a_task_done_elsewhere_is_confirmed_here(req, bank, journal, data_dir):
    asked = req.ask(RESIDENT, "v1", "purchase", ASAP)
    entry = {"id": asked.request_id, "number": asked.number, "station": STATION, "service_type": "purchase",
             "service_name": "代购", "state": "assigned", "volunteer_id": "v-li", "person_key": RESIDENT_KEY,
             "hours": 1.0}
    publish(data_dir, "requests", {"requests": [entry]})
    assert req.view(asked.request_id).volunteer_id == "v-li"
    assert [r.request_id for r in req.tasks(LI)[0]] == [asked.request_id]
    publish(data_dir, "requests", {"requests": [{**entry, "state": "done"}]}, version=2)
    assert req.view(asked.request_id).state == DONE
    done = req.confirm(asked.request_id, RESIDENT, 5)
    assert done.hours == 1.0 and bank.balance(volunteer_account("v-li"), "v-li")[0] == 1
    # A request known only from the hub (asked at another station) shows in the resident's list.
    other = {**entry, "id": "r-other", "number": "0511-07", "station": "st-b", "state": "requested"}
    publish(data_dir, "requests", {"requests": [{**entry, "state": "done"}, other]}, version=3)
    assert {r.request_id for r in req.mine(RESIDENT)} == {asked.request_id, "r-other"}


def test_timetable_offers_the_next_slots_and_skips_bad_entries():
    now = datetime(2025, 5, 13, 10, 0, tzinfo=TZ8)           # a Tuesday, mid-slot
    tz = ZoneInfo("Asia/Shanghai")
    slots = slots_from_config({}, tz, now.astimezone(timezone.utc))
    assert [s.label for s in slots] == ["05-15 14:00-16:00", "05-17 09:00-11:00", "05-20 09:00-11:00"]
    config = {"timetable": [{"id": "cut", "day": 3, "start": "09:00", "end": "10:00", "services": ["haircut"]},
                            {"id": "bad", "day": 9, "start": "09:00", "end": "10:00"},
                            {"id": "back", "day": 1, "start": "10:00", "end": "09:00"}]}
    assert [s.id for s in slots_from_config(config, tz, now, "haircut")] == ["cut"]
    assert slots_from_config(config, tz, now, "purchase") == []
    assert all(s.start - now < timedelta(days=7) for s in slots)


def test_station_info_from_the_config_document_skips_malformed_parts():
    body = {"info": {
        "hours": [{"days": "周一至周五", "time": "08:30-17:00"}, {"days": "周六"}],
        "windows": [{"name": "1号窗口", "does": "社保、医保"}, "junk"],
        "guide": [{"name": "老年人综合津贴", "how": "on_the_spot", "bring": ["身份证", "银行卡"]},
                  {"name": "居住证", "how": "somewhere", "bring": []},
                  {"name": "医保报销", "how": "accepted", "bring": [""]}],
        "canteen": {"hours": "11:00-13:00", "menu": {"1": ["红烧肉", "清炒时蔬"], "8": ["x"], "2": "面"}}}}
    info = station_info(body)
    assert info.hours == (("周一至周五", "08:30-17:00"),)
    assert info.windows == (("1号窗口", "社保、医保"),)
    assert [g.name for g in info.guide] == ["老年人综合津贴"] and info.guide[0].bring == ("身份证", "银行卡")
    assert (info.canteen_hours, info.menu) == ("11:00-13:00", {1: ("红烧肉", "清炒时蔬")})
    assert station_info(None).empty and station_info({"info": "x"}).empty


def test_home_tiles_follow_the_config_and_keep_help():
    assert home_tiles(None) == list(DEFAULT_TILES)
    assert home_tiles({"home": {"tiles": ["request", "health", "request", "games"]}}) == ["request", "health", "help"]
    assert home_tiles({"home": {"tiles": ["info", "help", "health"]}}) == ["info", "help", "health"]


def test_family_member_linked_by_card_gets_priority_from_the_volunteers_hours(req, bank, journal):
    family = req.family
    member = family.link(WANG, RESIDENT)                       # Wang's page, then the resident's card
    assert (member.family_key, member.display_name) == (RESIDENT_KEY, "赵*")
    for volunteer, card, error in ((WANG, RESIDENT, AlreadyLinked), (WANG, WANG, LinkSelf),
                                   (WANG, LI, NotAResident), (WANG, None, NotIdentified),
                                   (RESIDENT, WANG, NotVolunteer)):
        with pytest.raises(error) as exc:
            family.link(volunteer, card)
        assert gettext(exc.value.message, "zh_CN") != exc.value.message
    assert journal.count("family_linked") == 1                 # nothing doubled
    assert [m.family_key for m in family.members(WANG)] == [RESIDENT_KEY]

    plain = req.ask(LI_AS_RESIDENT, "v0", "errand", ASAP)
    before = req.ask(RESIDENT, "v1", "purchase", ASAP)
    assert not before.priority                                 # Wang has no banked hours yet
    req.cancel(RESIDENT, before.request_id, "not_needed")
    for _ in range(2):                                         # Wang earns 2 h
        svc = bank.record_service(WANG, "purchase", 60)
        bank.confirm_service(svc.service_id, LI_AS_RESIDENT, 5)
    asked = req.ask(RESIDENT, "v2", "purchase", ASAP)
    assert asked.priority and asked.priority_account == volunteer_account("v-wang")
    assert [r.request_id for r in req.tasks(LI)[1]] == [asked.request_id, plain.request_id]   # the front
    req.claim(LI, asked.request_id)
    req.mark_done(LI, asked.request_id)
    req.confirm(asked.request_id, RESIDENT, 5)
    assert bank.status(WANG).balance == 1.0                    # the family member's 1 h used from Wang's
    moves = [r.payload for r in journal.records("ledger_movement", limit=100)]
    assert [m.movement_id for m in moves if m.credit == SPENT] == [event_id("use", asked.request_id)]
    assert sum(ledger_balances(moves).values()) == 0

    family.unlink(WANG, RESIDENT_KEY)
    with pytest.raises(NotLinked):
        family.unlink(WANG, RESIDENT_KEY)
    assert family.members(WANG) == [] and family.volunteers_of(RESIDENT_KEY) == []
    assert not req.ask(RESIDENT, "v3", "haircut", ASAP).priority


def test_family_links_from_the_hub_count_and_the_newest_event_wins(req, bank, journal, data_dir, clock):
    entry = {"volunteer_id": "v-wang", "family_key": RESIDENT_KEY, "display_name": "赵*", "linked": True,
             "at": (clock.now() - timedelta(days=1)).isoformat()}
    publish(data_dir, "requests", {"requests": [], "family": [entry]})
    assert req.family.volunteers_of(RESIDENT_KEY) == ["v-wang"]          # linked at another station
    req.family.unlink(WANG, RESIDENT_KEY)                                 # unlinked here, later
    assert req.family.volunteers_of(RESIDENT_KEY) == []
    publish(data_dir, "requests", {"requests": [], "family": [{**entry, "at": (clock.now() + timedelta(hours=1))
                                                               .isoformat()}]}, version=2)
    assert [m.display_name for m in req.family.members(WANG)] == ["赵*"]   # linked again elsewhere, after
