"""The volunteer time bank core: hour rules, taps and shifts, services, the ledger, the roster."""
from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kiosk.journal import Journal
from kiosk.records import PayloadError, payload_from_dict
from kiosk.session import Person
from kiosk.settings import VolunteerSettings
from kiosk.timebank.catalog import load_roster
from kiosk.timebank.errors import (
    AlreadyCheckedIn,
    AlreadyConfirmed,
    CardInUse,
    InsufficientBalance,
    InvalidDuration,
    InvalidRating,
    NotCheckedIn,
    RegistrationInvalid,
    SelfConfirmation,
    UnknownPendingService,
    UnknownService,
    UnknownTeam,
)
from kiosk.timebank.kinds import ISSUED, SPENT, LedgerMovement, ledger_balances, volunteer_account
from kiosk.timebank.registration import mask_phone
from kiosk.timebank.results import CheckedIn, CheckedInElsewhere, CheckedOut, Ignored, NeedsCheckIn, NotAVolunteer
from kiosk.timebank.rules import HourRules, hours_for_minutes
from kiosk.timebank.service import TimeBank
from sync.downlink import DownlinkStore
from sync.documents import make_document
from tests.support.signing import HUB_PUBLIC, signed

STATION = "st-a"
TZ8 = timezone(timedelta(hours=8))
WANG_KEY = "a" * 64
RESIDENT_KEY = "b" * 64


class Clock:
    """A wall clock and a monotonic clock the test moves independently (a clock change moves only the wall)."""

    def __init__(self, wall: datetime) -> None:
        self.wall = wall
        self.mono = 1000.0

    def advance(self, **kw) -> None:
        delta = timedelta(**kw)
        self.wall += delta
        self.mono += delta.total_seconds()

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


ROSTER = {
    "volunteers": [
        {"id": "v-wang", "name": "王小明", "card_uid": "04A1B2C3", "person_key": WANG_KEY, "teams": ["orange"]},
        {"id": "v-li", "name": "李四", "card_uid": "04D4E5F6", "teams": ["green"]},
    ],
    "teams": [{"id": "orange", "name": "暖心橙"}, {"id": "green", "name": "生态绿"}],
}


def publish(data_dir, doc_type: str, body: dict, version: int = 1, scope: str = "_all"):
    """Apply a hub document the way the publisher does (validated by sync/downlink.py)."""
    doc = make_document(doc_type, version, scope, "2025-05-01T00:00:00.000+00:00", body)
    res = DownlinkStore(data_dir, STATION, HUB_PUBLIC).apply(doc_type, scope, signed(doc))
    assert res.applied, res.reason


@pytest.fixture()
def clock():
    return Clock(datetime(2025, 5, 12, 9, 0, tzinfo=TZ8).astimezone(timezone.utc))


@pytest.fixture()
def journal(data_dir):
    j = Journal(data_dir / Journal.FILENAME, STATION)
    yield j
    j.close()


def make_bank(journal, data_dir, clock, boot="boot-1", **rules) -> TimeBank:
    vs = dataclasses.replace(VolunteerSettings(), **rules)
    return TimeBank(journal, vs, station_id=STATION, data_dir=data_dir, clock=clock.now,
                    monotonic=clock.monotonic, boot_id=boot)


@pytest.fixture()
def bank(journal, data_dir, clock):
    publish(data_dir, "roster", ROSTER)
    return make_bank(journal, data_dir, clock)


WANG = Person(role="volunteer", person_key=WANG_KEY, display_name="王*明", volunteer_id="v-wang", source="pcsc")
LI = Person(role="volunteer", person_key="volunteer:v-li", display_name="李*", volunteer_id="v-li", source="pcsc")
RESIDENT = Person(role="resident", person_key=RESIDENT_KEY, display_name="赵*", source="idcard")
#: The same volunteers identified by their ID card: spending and confirming need it (issue 11, item 14).
WANG_CARD = dataclasses.replace(WANG, source="idcard")
LI_CARD = dataclasses.replace(LI, source="idcard")


# --- rules ------------------------------------------------------------------------------------------

QUARTER = [(0, "0"), (14, "0"), (15, "0.5"), (44, "0.5"), (45, "1"), (60, "1"), (74, "1"), (75, "1.5"),
           (104, "1.5"), (105, "2"), (125, "2"), (130, "2"), (135, "2.5")]
HALF_UNITS = [(0, "0"), (29, "0"), (30, "0.5"), (59, "0.5"), (60, "1"), (95, "1.5"), (120, "2")]


@pytest.mark.parametrize(("minutes", "hours"), QUARTER)
def test_quarter_rule(minutes, hours):
    assert hours_for_minutes(minutes, HourRules(rounding="quarter_rule", min_hours=Decimal(0))) == Decimal(hours)


@pytest.mark.parametrize(("minutes", "hours"), HALF_UNITS)
def test_half_hour_units(minutes, hours):
    assert hours_for_minutes(minutes, HourRules(rounding="half_hour_units", min_hours=Decimal(0))) == Decimal(hours)


@pytest.mark.parametrize(("minutes", "minimum", "hours"), [(30, "1", "0"), (44, "1", "0"), (45, "1", "1"),
                                                           (20, "0.5", "0.5"), (14, "0.5", "0")])
def test_minimum_hours(minutes, minimum, hours):
    assert hours_for_minutes(minutes, HourRules(min_hours=Decimal(minimum))) == Decimal(hours)


def test_negative_and_absurd_durations_are_refused():
    rules = HourRules(max_shift_hours=Decimal(16))
    with pytest.raises(InvalidDuration):
        hours_for_minutes(-1, rules)
    with pytest.raises(InvalidDuration):
        hours_for_minutes(16 * 60 + 1, rules)
    assert hours_for_minutes(16 * 60, rules) == 16
    with pytest.raises(ValueError):
        HourRules(cutoff="25:00")


@hsettings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10_000, max_value=10_000), st.sampled_from(["quarter_rule", "half_hour_units"]))
def test_hours_are_half_steps_never_more_than_the_time(minutes, rounding):
    rules = HourRules(rounding=rounding, min_hours=Decimal(0))
    try:
        hours = hours_for_minutes(minutes, rules)
    except InvalidDuration:
        assert minutes < 0 or minutes > 16 * 60
        return
    assert (hours * 2) % 1 == 0
    assert hours * 60 <= minutes + 15          # the quarter rule rounds the last 45+ minutes up to an hour


# --- taps and shifts -------------------------------------------------------------------------------

def test_unknown_card_offers_registration(bank):
    res = bank.tap(RESIDENT)
    assert isinstance(res, NotAVolunteer) and "register" in res.message


def test_check_in_then_double_tap_ignored_then_check_out(bank, clock, journal):
    first = bank.tap(WANG)
    assert isinstance(first, NeedsCheckIn)
    assert first.default_team == "orange" and first.display_name == "王*明"
    assert [t.name for t in first.teams][:3] == ["党旗红", "暖心橙", "生态绿"]
    done = bank.check_in(WANG, "orange", "duty")
    assert isinstance(done, CheckedIn) and done.team_name == "暖心橙" and done.since == clock.wall
    clock.advance(seconds=20)
    again = bank.tap(WANG)
    assert isinstance(again, Ignored) and again.last_action == "check_in"
    assert journal.count("volunteer_check_out") == 0
    clock.advance(hours=2, minutes=5)
    out = bank.tap(WANG)
    assert isinstance(out, CheckedOut)
    assert (out.hours, out.raw_minutes, out.needs_review) == (2.0, 125, False)
    moves = [r.payload for r in journal.records("ledger_movement")]
    assert len(moves) == 1 and moves[0].kind == "earn" and moves[0].credit == volunteer_account("v-wang")
    assert moves[0].debit == ISSUED and moves[0].hours == 2.0 and moves[0].reference == out.shift_id
    clock.advance(seconds=10)
    assert isinstance(bank.tap(WANG), Ignored)
    clock.advance(seconds=60)
    assert isinstance(bank.tap(WANG), NeedsCheckIn)


def test_check_in_refuses_unknown_team_activity_and_a_second_open_shift(bank):
    with pytest.raises(UnknownTeam):
        bank.check_in(WANG, "no-such-team", "duty")
    with pytest.raises(UnknownService):
        bank.check_in(WANG, "orange", "no-such-activity")
    bank.check_in(WANG, "orange", "duty")
    with pytest.raises(AlreadyCheckedIn):
        bank.check_in(WANG, "orange", "duty")
    with pytest.raises(NotCheckedIn):
        bank.check_out(LI)


def test_daily_cap_limits_shift_hours(journal, data_dir, clock):
    publish(data_dir, "roster", ROSTER)
    bank = make_bank(journal, data_dir, clock, daily_cap_hours=3.0)
    bank.check_in(WANG, "orange", "duty")
    clock.advance(hours=2)
    assert bank.check_out(WANG).hours == 2.0
    clock.advance(minutes=5)
    bank.check_in(WANG, "orange", "event")
    clock.advance(hours=2)
    out = bank.check_out(WANG)
    assert (out.hours, out.proposed_hours, out.capped) == (1.0, 2.0, True)
    assert sum(r.payload.hours for r in journal.records("ledger_movement")) == 3.0


def test_open_shift_auto_closed_at_cut_off_needs_review_and_earns_nothing(bank, clock, journal):
    clock.wall = datetime(2025, 5, 12, 18, 0, tzinfo=TZ8)
    bank.check_in(WANG, "orange", "duty")
    assert bank.auto_close_open_shifts(datetime(2025, 5, 12, 20, 59, tzinfo=TZ8)) == []
    closed = bank.auto_close_open_shifts(datetime(2025, 5, 12, 21, 0, tzinfo=TZ8))
    assert len(closed) == 1 and closed[0].needs_review and closed[0].hours == 0
    rec = journal.records("volunteer_check_out")[0].payload
    assert rec.auto_closed and rec.needs_review and rec.proposed_hours == 1.0 and rec.raw_minutes == 180
    assert rec.until == datetime(2025, 5, 12, 21, 0, tzinfo=TZ8)
    assert journal.count("ledger_movement") == 0
    assert bank.auto_close_open_shifts(datetime(2025, 5, 13, 9, 0, tzinfo=TZ8)) == []   # only once
    clock.wall = datetime(2025, 5, 13, 9, 0, tzinfo=TZ8)
    assert isinstance(bank.tap(WANG), NeedsCheckIn)


def test_wall_clock_set_back_during_a_shift_uses_the_monotonic_clock(bank, clock, journal):
    bank.check_in(WANG, "orange", "duty")
    clock.advance(hours=1, minutes=50)
    clock.wall -= timedelta(hours=3)                 # NTP or a person set the clock back
    out = bank.check_out(WANG)
    assert (out.hours, out.raw_minutes, out.clock_changed) == (2.0, 110, True)
    assert journal.records("volunteer_check_out")[0].payload.clock == "monotonic"


def test_negative_or_absurd_wall_duration_after_a_restart_is_refused(journal, data_dir, clock):
    publish(data_dir, "roster", ROSTER)
    make_bank(journal, data_dir, clock).check_in(WANG, "orange", "duty")
    clock.advance(hours=1)
    clock.wall -= timedelta(hours=5)
    rebooted = make_bank(journal, data_dir, clock, boot="boot-2")
    with pytest.raises(InvalidDuration):
        rebooted.tap(WANG)
    clock.wall += timedelta(hours=40)
    with pytest.raises(InvalidDuration):
        rebooted.check_out(WANG)
    assert journal.count("volunteer_check_out") == 0 and journal.count("ledger_movement") == 0
    assert len(rebooted.auto_close_open_shifts()) == 1     # the cut-off still closes it, for review


def test_open_at_another_station_and_closed_here(journal, data_dir, clock):
    since = clock.wall - timedelta(hours=3, minutes=20)
    body = {**ROSTER, "volunteers": [{**ROSTER["volunteers"][0], "open_shift": {
        "station": "st-b", "since": since.isoformat(), "shift_id": "shift-at-b", "team": "orange",
        "activity": "duty"}}, ROSTER["volunteers"][1]]}
    publish(data_dir, "roster", body)
    bank = make_bank(journal, data_dir, clock)
    res = bank.tap(WANG)
    assert isinstance(res, CheckedInElsewhere) and res.station == "st-b" and res.since == since
    assert bank.status(WANG).open_elsewhere == "st-b"
    out = bank.check_out(WANG)
    assert (out.shift_id, out.hours, out.raw_minutes) == ("shift-at-b", 3.5, 200)
    assert journal.records("volunteer_check_out")[0].payload.check_in_station == "st-b"
    clock.advance(minutes=5)
    assert isinstance(bank.tap(WANG), NeedsCheckIn)    # closed here, so no longer "elsewhere"


# --- services ----------------------------------------------------------------------------------------

def test_service_earns_only_after_confirmation_and_bad_rating_follows_up(bank, journal):
    pending = bank.record_service(WANG, "purchase", 40)
    assert pending.service_name == "代购" and pending.hours == 1.0
    assert journal.count("ledger_movement") == 0
    assert [p.service_id for p in bank.pending_services(WANG)] == [pending.service_id]
    with pytest.raises(SelfConfirmation):
        bank.confirm_service(pending.service_id, WANG_CARD, 5)
    with pytest.raises(InvalidRating):
        bank.confirm_service(pending.service_id, RESIDENT, 6)
    with pytest.raises(UnknownPendingService):
        bank.confirm_service("nope", RESIDENT, 5)
    conf = bank.confirm_service(pending.service_id, RESIDENT, 2)
    assert conf.follow_up and conf.rating_word == "Dissatisfied" and conf.hours == 1.0
    before = journal.count()
    assert bank.confirm_service(pending.service_id, RESIDENT, 2) == conf      # a retry duplicates nothing
    assert journal.count() == before
    with pytest.raises(AlreadyConfirmed):
        bank.confirm_service(pending.service_id, RESIDENT, 5)
    follow = journal.records("service_follow_up")
    assert len(follow) == 1 and follow[0].payload.rating == 2
    con = sqlite3.connect(journal.path)
    prio = con.execute("SELECT priority FROM outbox WHERE record_id = ?", (follow[0].id,)).fetchone()[0]
    con.close()
    assert prio > 0                                   # leaves before ordinary records
    assert bank.pending_services(WANG) == []
    assert bank.status(WANG).recent_services[0].rating == 2


def test_good_rating_has_no_follow_up_and_unknown_service_refused(bank, journal):
    with pytest.raises(UnknownService):
        bank.record_service(WANG, "duty", 30)          # an activity, not a resident service
    with pytest.raises(InvalidDuration):
        bank.record_service(WANG, "bp", 0)
    pending = bank.record_service(WANG, "bp", 10)
    assert not bank.confirm_service(pending.service_id, RESIDENT, 5).follow_up
    assert journal.count("service_follow_up") == 0
    assert ledger_balances(r.payload for r in journal.records("ledger_movement"))[volunteer_account("v-wang")] == \
        Decimal("0.5")


# --- ledger and balance --------------------------------------------------------------------------------

def test_balance_is_the_hub_balance_plus_uncounted_local_movements(journal, data_dir, clock):
    publish(data_dir, "roster", ROSTER)
    bank = make_bank(journal, data_dir, clock)
    first = bank.record_service(WANG, "purchase", 30)
    bank.confirm_service(first.service_id, RESIDENT, 5)            # +1.0, will be counted by the hub
    seq_counted = journal.records("ledger_movement")[0].seq
    second = bank.record_service(WANG, "receive", 30)
    bank.confirm_service(second.service_id, RESIDENT, 4)           # +0.5, not yet at the hub
    body = {**ROSTER, "volunteers": [{**ROSTER["volunteers"][0], "balance": {
        "hours": 11.0, "as_of": "2025-05-12T00:00:00+00:00", "month": "2025-05", "month_hours": 4.0,
        "through": {STATION: seq_counted}, "counted": []}}, ROSTER["volunteers"][1]]}
    publish(data_dir, "roster", body, version=2)
    status = bank.status(WANG)
    assert (status.balance, status.pending_hours, status.hours_this_month) == (11.5, 0.5, 4.5)
    assert status.display_name == "王*明" and status.team_name == "暖心橙"
    used = bank.use_for_request(volunteer_account("v-wang"), 10, "req-1", movement_id="use-1")
    assert (used.hours, used.balance_after) == (10.0, 1.5)
    assert bank.use_for_request(volunteer_account("v-wang"), 10, "req-1", movement_id="use-1").hours == 10.0
    assert bank.status(WANG).balance == 1.5                        # the same request uses its hours once
    used = bank.use_for_request(volunteer_account("v-wang"), 2, "req-2", movement_id="use-2")
    assert (used.hours, used.balance_after) == (1.5, 0.0)         # only what lies above the floor
    assert bank.use_for_request(volunteer_account("v-wang"), 1, "req-3", movement_id="use-3") is None
    assert bank.status(WANG).balance == 0.0


def test_balance_floor_allows_configured_credit(journal, data_dir, clock):
    publish(data_dir, "roster", ROSTER)
    bank = make_bank(journal, data_dir, clock, balance_floor=-2.0)
    assert bank.use_for_request(f"resident:{RESIDENT_KEY}", 3, "r", movement_id="u").balance_after == -2.0
    assert bank.use_for_request(f"resident:{RESIDENT_KEY}", 0.5, "r2", movement_id="u2") is None


OPS = st.lists(st.tuples(st.sampled_from(["earn", "spend"]), st.sampled_from(["wang", "li", "res"]),
                         st.integers(min_value=1, max_value=8)), max_size=25)


@pytest.mark.slow
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, floor=st.sampled_from([0.0, -1.0, -5.0]))
def test_ledger_invariants(tmp_path_factory, ops, floor):
    data_dir = tmp_path_factory.mktemp("ledger")
    publish(data_dir, "roster", ROSTER)
    clock = Clock(datetime(2025, 5, 12, 1, 0, tzinfo=timezone.utc))
    journal = Journal(data_dir / Journal.FILENAME, STATION)
    try:
        bank = make_bank(journal, data_dir, clock, balance_floor=floor)
        people = {"wang": WANG_CARD, "li": LI_CARD, "res": RESIDENT}
        accounts = {"wang": volunteer_account("v-wang"), "li": volunteer_account("v-li"),
                    "res": f"resident:{RESIDENT_KEY}"}
        for op, who, halves in ops:
            hours = halves / 2
            clock.advance(minutes=1)
            try:
                if op == "earn":
                    if who == "res":
                        continue
                    p = bank.record_service(people[who], "purchase", 30)
                    bank.confirm_service(p.service_id, RESIDENT if who != "res" else WANG_CARD, 5)
                else:
                    bank.use_for_request(accounts[who], hours, f"req-{clock.mono}", movement_id=f"use-{clock.mono}")
            except InsufficientBalance:
                pass
            for name, account in accounts.items():    # never below the floor, at any moment
                balance = bank.balance(account, "v-" + name if name != "res" else "")[0]
                assert balance >= Decimal(str(floor))
        moves = [r.payload for r in journal.records("ledger_movement", limit=10_000)]
        balances = ledger_balances(moves)
        assert sum(balances.values()) == 0                                    # double entry
        for name, account in accounts.items():                               # balance = sum of movements
            expect = sum((Decimal(str(m.hours)) for m in moves if m.credit == account), Decimal(0)) - \
                sum((Decimal(str(m.hours)) for m in moves if m.debit == account), Decimal(0))
            assert balances.get(account, Decimal(0)) == expect
            assert bank.balance(account, "v-" + name if name != "res" else "")[0] == expect
        assert ledger_balances(moves + moves) == balances                    # replay changes nothing
        assert balances.get(SPENT, Decimal(0)) >= 0 and balances.get(ISSUED, Decimal(0)) <= 0
    finally:
        journal.close()


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["movement_id", "kind", "debit", "credit", "hours", "reference", "x"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                                 st.text(max_size=8), st.sampled_from(["earn", "spend", "a", "b"]))))
def test_ledger_payload_parser_raises_only_payload_errors(data):
    try:
        mv = payload_from_dict("ledger_movement", data)
    except PayloadError:
        return
    assert mv.hours > 0 and mv.debit != mv.credit


# --- roster ------------------------------------------------------------------------------------------

def test_register_a_volunteer_at_the_kiosk(bank, journal, clock):
    with pytest.raises(RegistrationInvalid):
        bank.register_volunteer("张三", "12", "orange", card_uid="0A0B0C0D")
    with pytest.raises(RegistrationInvalid):
        bank.register_volunteer("张三", "13812345678", "orange")
    with pytest.raises(CardInUse):
        bank.register_volunteer("张三", "13812345678", "orange", card_uid="04a1b2c3")
    with pytest.raises(UnknownTeam):
        bank.register_volunteer("张三", "13812345678", "nope", card_uid="0A0B0C0D")
    v = bank.register_volunteer("张三", "138 1234 5678", "orange", card_uid="0a0b0c0d", registered_by="staff")
    rec = journal.records("volunteer_registered")[0].payload
    assert rec.phone_masked == "138****5678" and rec.card_uid == "0A0B0C0D" and rec.name == "张三"
    assert b"13812345678" not in journal.path.read_bytes()
    roster = load_roster(journal.path.parent, journal)
    assert roster.by_card_uid("0A0B0C0D").id == v.id
    zhang = Person(role="volunteer", person_key=f"volunteer:{v.id}", display_name="张*", volunteer_id=v.id)
    assert isinstance(bank.tap(zhang), NeedsCheckIn)
    assert mask_phone("+86 138-1234-5678") == "861******5678"


def test_lost_card_rebound_keeps_the_history(bank, journal, clock, data_dir):
    bank.check_in(LI, "green", "duty")
    clock.advance(hours=1)
    bank.check_out(LI)
    with pytest.raises(CardInUse):
        bank.rebind_card("v-li", new_card_uid="04A1B2C3")
    bank.rebind_card("v-li", new_card_uid="0CAFE123", reason="lost", by="staff")
    roster = load_roster(data_dir, journal)
    assert roster.by_card_uid("04D4E5F6") is None
    assert roster.by_card_uid("0CAFE123").id == "v-li"
    clock.advance(minutes=5)
    assert isinstance(bank.tap(LI), NeedsCheckIn)
    assert bank.balance(volunteer_account("v-li"), "v-li")[0] == 1      # earned with the old card


def test_tampered_roster_document_is_rejected_and_the_old_one_kept(bank, data_dir):
    doc = make_document("roster", 2, "_all", "2025-05-02T00:00:00.000+00:00", ROSTER)
    raw = signed(doc).replace(b'"04A1B2C3"', b'"not-hex!"')
    res = DownlinkStore(data_dir, STATION, HUB_PUBLIC).apply("roster", "_all", raw)
    assert not res.applied and "card_uid" in res.reason
    assert load_roster(data_dir).by_card_uid("04A1B2C3").id == "v-wang"


def test_movement_refuses_honour_hours_and_bad_values():
    with pytest.raises(ValueError):
        LedgerMovement("m", "earn", "a", "a", 1.0, "r")
    with pytest.raises(ValueError):
        LedgerMovement("m", "gift", "a", "b", 1.0, "r")
    with pytest.raises(ValueError):
        LedgerMovement("m", "earn", "a", "b", 0.1, "r")
