"""Hub side of the time bank: balances from stored records, idempotent replay, reviews, roster balances.

Kiosk records travel the real way minus the broker: the kiosk's SQLite outbox forms the batch,
``encode_batch`` makes the message, ``HubStore.handle_records`` validates and commits it.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hub.store import HubStore
from hub.timebank import (
    AlreadyCredited,
    NotReviewable,
    balances,
    credits,
    needs_review,
    review_shift,
    roster_with_balances,
    volunteer_balance,
)
from kiosk.journal import Journal
from kiosk.session import Person
from kiosk.settings import VolunteerSettings
from kiosk.timebank.kinds import volunteer_account
from kiosk.timebank.service import TimeBank
from sync.downlink import DownlinkStore
from sync.documents import make_document
from sync.messages import MAX_BATCH_BYTES, encode_batch
from kiosk.outbox import Outbox
from tests.kiosk.test_volunteer import RESIDENT, ROSTER, WANG, Clock
from tests.support.signing import HUB_PUBLIC, signed

TZ8 = timezone(timedelta(hours=8))


class Kiosk:
    """A kiosk data directory with its journal and time bank, and a way to ship its outbox to a hub store."""

    def __init__(self, root, station: str, clock: Clock, **rules) -> None:
        self.station = station
        self.data_dir = root / station
        self.data_dir.mkdir()
        self.journal = Journal(self.data_dir / Journal.FILENAME, station)
        self.clock = clock
        vs = dataclasses.replace(VolunteerSettings(), **rules)
        self.bank = TimeBank(self.journal, vs, station_id=station, data_dir=self.data_dir, clock=clock.now,
                             monotonic=clock.monotonic, boot_id=f"boot-{station}")

    def apply(self, doc_type: str, body: dict, version: int) -> None:
        doc = make_document(doc_type, version, "_all", "2025-05-01T00:00:00.000+00:00", body)
        assert DownlinkStore(self.data_dir, self.station, HUB_PUBLIC).apply(doc_type, "_all", signed(doc)).applied

    def ship(self, store: HubStore, *, ack: bool = True) -> list[bytes]:
        """Send every queued record to the hub store; returns the batch messages (to replay them)."""
        outbox = Outbox(self.data_dir / Journal.FILENAME)
        sent = []
        try:
            while (batch := outbox.claim_batch(50, MAX_BATCH_BYTES)) is not None:
                raw = encode_batch(self.station, batch.batch_id, list(batch.records))
                assert store.handle_records(f"yizhan/v1/{self.station}/records", self.station, raw) is not None
                sent.append(raw)
                if ack:
                    outbox.settle(batch.batch_id)
        finally:
            outbox.close()
        return sent

    def close(self) -> None:
        self.journal.close()


@pytest.fixture()
def clock():
    return Clock(datetime(2025, 5, 12, 9, 0, tzinfo=TZ8).astimezone(timezone.utc))


@pytest.fixture()
def hub(tmp_path):
    store = HubStore(str(tmp_path / "hub.sqlite3"))
    yield store
    store.close()


@pytest.fixture()
def kiosks(tmp_path, clock):
    made = []

    def make(station: str, **rules) -> Kiosk:
        k = Kiosk(tmp_path, station, clock, **rules)
        k.apply("roster", ROSTER, 1)
        made.append(k)
        return k
    yield make
    for k in made:
        k.close()


def test_balance_from_records_and_replay_changes_nothing(hub, kiosks, clock):
    a = kiosks("st-a")
    a.bank.check_in(WANG, "orange", "duty")
    clock.advance(hours=2, minutes=50)
    a.bank.check_out(WANG)                                         # 3.0 h
    svc = a.bank.record_service(WANG, "purchase", 30)
    a.bank.confirm_service(svc.service_id, RESIDENT, 1)             # +1.0, follow-up
    a.bank.use_for_request(volunteer_account("v-wang"), 1.5, "req-1", movement_id="use-req-1")
    sent = a.ship(hub)
    # The spend names no request of this station: refused (issue 22, hours move only on evidence).
    assert volunteer_balance(hub.engine, "v-wang") == Decimal("4")
    before = balances(hub.engine)
    assert sum(before.values()) == 0
    for raw in sent:                                               # redelivery of every batch
        hub.handle_records("yizhan/v1/st-a/records", "st-a", raw)
    assert balances(hub.engine) == before
    month = credits(hub.engine, "2025-05")
    assert sorted((c.source, c.hours) for c in month) == [("service", Decimal("1")), ("shift", Decimal("3"))]
    assert credits(hub.engine, "2025-04") == []


def test_needs_review_is_credited_only_once_reviewed(hub, kiosks, clock):
    a = kiosks("st-a")
    clock.wall = datetime(2025, 5, 12, 19, 0, tzinfo=TZ8)
    a.bank.check_in(WANG, "orange", "duty")
    a.bank.auto_close_open_shifts(datetime(2025, 5, 12, 21, 30, tzinfo=TZ8))
    a.ship(hub)
    assert volunteer_balance(hub.engine, "v-wang") == 0
    pending = needs_review(hub.engine)
    assert len(pending) == 1 and pending[0]["proposed_hours"] == 1.0
    with pytest.raises(NotReviewable):
        review_shift(hub.engine, "no-such-record")
    mv = review_shift(hub.engine, pending[0]["record_id"], hours=2.0, reviewer="staff 7")
    assert mv.kind == "adjust" and mv.hours == 2.0
    assert review_shift(hub.engine, pending[0]["record_id"]) == mv          # idempotent
    assert volunteer_balance(hub.engine, "v-wang") == 2
    assert needs_review(hub.engine) == []
    assert [c.station for c in credits(hub.engine, "2025-05")] == ["st-a"]


def test_shift_closed_elsewhere_cannot_also_be_reviewed(hub, kiosks, clock):
    a, b = kiosks("st-a"), kiosks("st-b")
    a.bank.check_in(WANG, "orange", "duty")
    a.ship(hub)
    b.apply("roster", roster_with_balances(hub.engine, ROSTER, now=clock.wall), 2)
    clock.advance(hours=1)
    b.bank.check_out(WANG)                                          # closed at B: 1.0 h
    clock.wall = datetime(2025, 5, 12, 22, 0, tzinfo=TZ8)
    a.bank.auto_close_open_shifts()                                 # A never heard of it: needs review
    a.ship(hub)
    b.ship(hub)
    assert volunteer_balance(hub.engine, "v-wang") == 1
    review = [r for r in needs_review(hub.engine)]
    assert review == []                                             # the shift earned at B already
    rid = a.journal.records("volunteer_check_out")[0].id
    with pytest.raises(AlreadyCredited):
        review_shift(hub.engine, rid)


def test_roster_with_balances_feeds_the_kiosk_status(hub, kiosks, clock):
    a = kiosks("st-a")
    svc = a.bank.record_service(WANG, "purchase", 30)
    a.bank.confirm_service(svc.service_id, RESIDENT, 5)
    zhang = a.bank.register_volunteer("张三", "13912345678", "green", card_uid="0A0B0C0D")
    a.bank.rebind_card("v-wang", new_card_uid="0BADCAFE")
    a.bank.check_in(Person(role="volunteer", person_key="", display_name="", volunteer_id=zhang.id),
                    "green", "duty")
    a.ship(hub)
    svc2 = a.bank.record_service(WANG, "receive", 30)              # after the hub snapshot: pending
    a.bank.confirm_service(svc2.service_id, RESIDENT, 5)
    body = roster_with_balances(str(hub.engine.url.database), ROSTER, now=clock.wall)
    assert "balance" not in ROSTER["volunteers"][0]                  # the input is not changed
    wang = next(v for v in body["volunteers"] if v["id"] == "v-wang")
    assert wang["card_uid"] == "0BADCAFE"
    assert wang["balance"]["hours"] == 1.0 and wang["balance"]["month"] == "2025-05"
    assert wang["balance"]["through"] == {"st-a": hub_count(hub, "st-a")}
    new = next(v for v in body["volunteers"] if v["id"] == zhang.id)
    assert new["name"] == "张三" and new["card_uid"] == "0A0B0C0D" and new["open_shift"]["station"] == "st-a"
    a.apply("roster", body, 2)                                       # kiosks accept it
    status = a.bank.status(WANG)
    assert (status.balance, status.pending_hours, status.hours_this_month) == (1.5, 0.5, 1.5)


def hub_count(hub: HubStore, station: str) -> int:
    return hub.count_records(station)


def test_balance_account_helper():
    assert volunteer_account("v-1") == "volunteer:v-1"
