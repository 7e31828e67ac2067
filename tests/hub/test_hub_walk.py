"""The hub side of a station walk: names the hub already has, services still waiting for a
resident's confirmation, a queue depth that follows the drain, and commands that say when there
is nothing to show. The report and balances run the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from app.demo_hub import HubProcess
from hub.reports import ReportError, certificate_data, report_volunteers
from hub.reports_cli import run
from hub.store import HubStore
from hub.timebank import balances, needs_review, roster_with_balances
from kiosk.session import Person
from sync.status import Status, encode_status
from tests.hub.test_reports import _cli
from tests.hub.test_timebank import Kiosk
from tests.kiosk.test_volunteer import RESIDENT, ROSTER, WANG, Clock
from tests.support.services import wait_for

TZ8 = timezone(timedelta(hours=8))
STATION_NAME = "张江镇市民驿站"


def _walk(tmp_path, db: str) -> str:
    """One May at station st-a: a kiosk-registered volunteer serves twice (one confirmed, one not);
    v-wang (known only from the kiosk's own roster, never published) works a shift."""
    clock = Clock(datetime(2025, 5, 6, 9, 0, tzinfo=TZ8))
    store = HubStore(db)
    kiosk = Kiosk(tmp_path, "st-a", clock)
    (kiosk.data_dir / "roster.json").write_text(json.dumps(ROSTER), encoding="utf-8")
    zhao = kiosk.bank.register_volunteer("赵六", "13812345678", "orange", card_uid="04C0FFEE")
    zhao_p = Person(role="volunteer", person_key="", display_name="赵*", volunteer_id=zhao.id, source="pcsc")
    done = kiosk.bank.record_service(zhao_p, "purchase", 40)
    kiosk.bank.confirm_service(done.service_id, RESIDENT, 5)
    kiosk.bank.record_service(zhao_p, "bp", 10)                     # the resident walked away: not confirmed
    kiosk.bank.check_in(WANG, "orange", "duty")
    clock.advance(hours=2, minutes=5)
    kiosk.bank.check_out(WANG)
    kiosk.ship(store)
    kiosk.close()
    status = Status("st-a", "online", "2025-05-06T03:00:00.000+00:00", "test", 0, None, None, False, {},
                    name=STATION_NAME)
    store.handle_status("yizhan/v1/st-a/status", "st-a", encode_status(status))
    store.close()
    return zhao.id


def _rows(db: str, month: str) -> dict[tuple[str, str], dict[str, str]]:
    buf = io.BytesIO()
    report_volunteers(db, month, "csv", buf)
    return {(r["类别"], r["编号"]): r for r in csv.DictReader(io.StringIO(buf.getvalue().decode("utf-8-sig")))}


def test_report_names_stations_and_volunteers_and_lists_unconfirmed_services(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    zhao = _walk(tmp_path, db)
    rows = _rows(db, "2025-05")
    assert rows[("驿站", "st-a")]["名称"] == STATION_NAME
    mine = rows[("志愿者", zhao)]
    assert mine["名称"] == "赵六"                                     # from the kiosk registration, no roster published
    assert (mine["服务次数"], mine["服务时长"], mine["待确认"]) == ("1", "1.0", "1")
    assert rows[("服务", "bp")]["待确认"] == "1" and rows[("服务", "purchase")]["待确认"] == "0"
    assert rows[("驿站", "st-a")]["待确认"] == "1"


def test_certificate_says_what_is_missing_and_uses_kiosk_registrations(tmp_path, capsys):
    db = str(tmp_path / "hub.sqlite3")
    zhao = _walk(tmp_path, db)
    assert certificate_data(db, zhao, issuer="驿站").name == "赵六"
    with pytest.raises(ReportError) as err:
        certificate_data(db, "v-wang", issuer="驿站")
    text = str(err.value)
    assert "2 h" in text and "st-a" in text and "yizhan hub publish roster" in text and "register" in text
    assert run(_cli("certificate", "v-wang", "--issuer", "驿站", "--db", db, "--format", "txt",
                    "--out", str(tmp_path / "c.txt"))) == 2
    assert "yizhan hub publish roster" in capsys.readouterr().err
    with pytest.raises(ReportError, match="knows no volunteer"):
        certificate_data(db, "v-nobody", issuer="驿站")


def test_review_says_when_there_is_nothing_to_review(tmp_path, capsys):
    db = str(tmp_path / "hub.sqlite3")
    _walk(tmp_path, db)
    assert needs_review(db) == []
    assert run(_cli("review", "--db", db)) == 0
    assert "nothing to review" in capsys.readouterr().out.lower()


def test_report_and_balances_are_the_same_on_postgresql(tmp_path, pg_schema_url):
    lite = str(tmp_path / "hub.sqlite3")
    ids = {}
    for sub, db in (("lite", lite), ("pg", pg_schema_url)):
        (tmp_path / sub).mkdir()
        ids[db] = _walk(tmp_path / sub, db)             # the registered volunteer's id is new each time

    def same(db: str, value):
        return json.loads(json.dumps(value, default=str, ensure_ascii=False).replace(ids[db], "ZHAO"))
    now = datetime(2025, 5, 20, tzinfo=timezone.utc)
    assert same(pg_schema_url, list(_rows(pg_schema_url, "2025-05").values())) == \
        same(lite, list(_rows(lite, "2025-05").values()))
    assert same(pg_schema_url, balances(pg_schema_url)) == same(lite, balances(lite))
    pg_roster = roster_with_balances(pg_schema_url, ROSTER, now)
    drop_keys = lambda body: [{k: v for k, v in e.items() if k != "card_uid"} for e in body["volunteers"]]  # noqa: E731
    assert same(pg_schema_url, drop_keys(pg_roster)) == same(lite, drop_keys(roster_with_balances(lite, ROSTER, now)))
    wang = next(v for v in pg_roster["volunteers"] if v["id"] == "v-wang")
    held = HubStore(pg_schema_url)
    try:
        records = held.count_records("st-a")
    finally:
        held.close()
    assert wang["balance"]["hours"] == 2.0 and wang["balance"]["through"] == {"st-a": records}


@pytest.mark.services
def test_stations_show_an_empty_queue_once_the_kiosk_drained(tmp_path, mosquitto):
    from sync.publisher import Publisher
    from tests.sync.helpers import fill_journal, load, outbox_depth, station_config
    data = tmp_path / "kiosk"
    data.mkdir()
    fill_journal(data, "st-q", 120)
    db = str(tmp_path / "hub.sqlite3")
    hub = HubProcess(db, mosquitto.host, mosquitto.port, name="hub-q", log_file=tmp_path / "hub.log").start()
    pub = Publisher(load(station_config(tmp_path / "p.toml", "st-q", mosquitto.port, batch_size=20), data),
                    poll_s=0.05, status_interval_s=600)
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 60)

        def depth():
            store = HubStore(db)
            try:
                return {r["station"]: (r["queue_depth"], r["records"]) for r in store.stations()}.get("st-q")
            finally:
                store.close()
        assert wait_for(lambda: depth() == (0, 120), 20), depth()
    finally:
        pub.stop()
        hub.stop()


def test_a_hub_upgraded_from_the_baseline_builds_its_time_bank_tables_from_the_records(tmp_path):
    from alembic import command
    from alembic.config import Config

    from hub.database import make_engine
    from hub.schema import MIGRATIONS
    db = str(tmp_path / "hub.sqlite3")
    zhao = _walk(tmp_path, db)
    report = _rows(db, "2025-05")
    roster = roster_with_balances(db, ROSTER, datetime(2025, 5, 20, tzinfo=timezone.utc))
    engine = make_engine(db)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")                       # a hub as it was before these tables
        assert "hub_movements" not in {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    engine.dispose()
    store = HubStore(db)                                     # the hub upgrades at start
    assert _rows(db, "2025-05")[("驿站", "st-a")]["名称"] == "st-a"   # its id until its next status names it
    store.handle_status("yizhan/v1/st-a/status", "st-a", encode_status(Status(
        "st-a", "online", "2025-05-06T04:00:00.000+00:00", "test", 0, None, None, False, {}, name=STATION_NAME)))
    store.close()
    assert _rows(db, "2025-05") == report and report[("志愿者", zhao)]["名称"] == "赵六"
    assert roster_with_balances(db, ROSTER, datetime(2025, 5, 20, tzinfo=timezone.utc)) == roster
