"""Done-means test of the time bank: two kiosks, one real Mosquitto, one hub process.

A volunteer checks in at A and out at B (B learns of the open shift from the hub's roster with
balances), confirms a service at B; the hub balance and the monthly report show the right hours
once, also after station B resends everything.
"""
from __future__ import annotations

import csv
import io
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from app.demo_hub import HubProcess
from hub.reports import report_volunteers
from hub.store import HubStore
from hub.timebank import roster_with_balances, volunteer_balance
from kiosk.journal import Journal
from kiosk.timebank.results import CheckedInElsewhere
from kiosk.timebank.service import TimeBank
from sync.downlink import applied_versions
from sync.mqtt import MqttLink
from sync.publisher import Publisher
from tests.kiosk.test_volunteer import RESIDENT, ROSTER, WANG, Clock
from tests.support.services import wait_for
from tests.support.signing import signed, write_key
from tests.sync.helpers import hub_rows, load, outbox_depth, station_config

TZ8 = timezone(timedelta(hours=8))


@pytest.fixture()
def hub_db(tmp_path, mosquitto):
    key = write_key(tmp_path / "hub-signing.key")     # the hub signs the requests document it republishes
    proc = HubProcess(str(tmp_path / "hub.sqlite3"), mosquitto.host, mosquitto.port,
                      log_file=tmp_path / "hub.log", extra_args=["--signing-key", key]).start()
    yield tmp_path / "hub.sqlite3"
    proc.stop()


class Station:
    """A kiosk: data directory, journal, time bank and its in-process publisher."""

    def __init__(self, tmp_path, name: str, port: int, clock: Clock) -> None:
        self.name = name
        self.data_dir = tmp_path / name
        self.data_dir.mkdir(exist_ok=True)
        self.settings = load(station_config(tmp_path / f"{name}.toml", name, port, batch_size=20), self.data_dir)
        self.journal = Journal(self.data_dir / Journal.FILENAME, name)
        self.bank = TimeBank(self.journal, self.settings, clock=clock.now, monotonic=clock.monotonic,
                             boot_id=f"boot-{name}")
        self.publisher: Publisher | None = None

    def start(self) -> Station:
        self.publisher = Publisher(self.settings, poll_s=0.05, reconnect_max_s=2)
        self.publisher.start()
        return self

    def drained(self, db, timeout: float = 20) -> bool:
        self.publisher.wake()
        n = self.journal.count()
        return wait_for(lambda: outbox_depth(self.data_dir) == 0 and len(hub_rows(db, self.name)) >= n, timeout, 0.05)

    def has_roster(self, version: int, timeout: float = 20) -> bool:
        return wait_for(lambda: applied_versions(self.data_dir).get("roster") == version, timeout, 0.05)

    def stop(self) -> None:
        if self.publisher:
            self.publisher.stop()
            self.publisher = None
        self.journal.close()


def publish_roster(db, host: str, port: int, body: dict) -> int:
    """What ``yizhan hub publish roster`` does: store the next version, publish it retained."""
    store = HubStore(str(db))
    try:
        doc = store.prepare_document("roster", body)
    finally:
        store.close()
    link = MqttLink(host=host, port=port, client_id="test-publish", base_topic="yizhan/v1")
    link.start()
    try:
        assert link.wait_connected(10)
        info = link.publish(doc.type, signed(doc), retain=True, station=doc.scope)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        link.stop()
    return doc.version


def test_check_in_at_a_out_at_b_service_at_b_counted_once(tmp_path, mosquitto, hub_db):
    clock = Clock(datetime(2025, 5, 12, 9, 0, tzinfo=TZ8).astimezone(timezone.utc))
    a = Station(tmp_path, "st-a", mosquitto.port, clock).start()
    b = Station(tmp_path, "st-b", mosquitto.port, clock).start()
    try:
        v1 = publish_roster(hub_db, mosquitto.host, mosquitto.port, ROSTER)
        assert a.has_roster(v1) and b.has_roster(v1)

        a.bank.check_in(WANG, "orange", "duty")                       # 09:00 at A
        assert a.drained(hub_db)
        v2 = publish_roster(hub_db, mosquitto.host, mosquitto.port, roster_with_balances(str(hub_db), ROSTER))
        assert b.has_roster(v2)

        clock.advance(hours=2, minutes=40)                            # 11:40 at B
        seen = b.bank.tap(WANG)
        assert isinstance(seen, CheckedInElsewhere) and seen.station == "st-a"
        out = b.bank.check_out(WANG)
        assert (out.hours, out.raw_minutes) == (2.5, 160)
        svc = b.bank.record_service(WANG, "purchase", 45)
        b.bank.confirm_service(svc.service_id, RESIDENT, 4)           # +1 h
        assert b.drained(hub_db)

        assert float(volunteer_balance(str(hub_db), "v-wang")) == 3.5
        stored = len(hub_rows(hub_db))
        b.stop()
        with sqlite3.connect(b.data_dir / Journal.FILENAME) as con:    # B resends everything it ever sent
            con.execute("UPDATE outbox SET state = 'ready', batch_id = NULL")
        b = Station(tmp_path, "st-b", mosquitto.port, clock).start()
        assert b.drained(hub_db)
        assert len(hub_rows(hub_db)) == stored
    finally:
        a.stop()
        b.stop()

    assert float(volunteer_balance(str(hub_db), "v-wang")) == 3.5
    report = report_volunteers(str(hub_db), "2025-05", "csv", tmp_path / "may.csv").read_text("utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(report)) if r["编号"] == "v-wang"]
    assert len(rows) == 1
    assert (rows[0]["值班时长"], rows[0]["服务时长"], rows[0]["合计时长"], rows[0]["满意"]) == ("2.5", "1.0", "3.5", "1")
    stations = {r["编号"]: r["合计时长"] for r in csv.DictReader(io.StringIO(report)) if r["类别"] == "驿站"}
    assert stations == {"st-b": "3.5"}                      # the shift is credited where it was closed
    body = roster_with_balances(str(hub_db), ROSTER)
    wang = next(v for v in body["volunteers"] if v["id"] == "v-wang")
    assert wang["balance"]["hours"] == 3.5 and "open_shift" not in wang
