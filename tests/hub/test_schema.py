"""The hub's schema by Alembic migrations: a database made before migrations, with data, is upgraded
in place on SQLite and PostgreSQL; an unknown newer revision and tables the hub cannot place are refused."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table,
                        Text, text)

from app.demo_hub import HubProcess
from hub import models, residents, schema
from hub.database import HubError, make_engine, open_engine
from hub.store import HubStore
from sync.messages import WireRecord, decode_ack, encode_batch
from tests.sync.helpers import ROOT

# The hub's tables exactly as `metadata.create_all` made them before migrations (hub/models.py at
# commit 30dd2eb, unchanged since the hub was written). Frozen here: it is the past, not hub.models.
PRE = MetaData()
Table("hub_records", PRE,
      Column("id", String(64), primary_key=True), Column("station", String(64), nullable=False),
      Column("seq", BigInteger, nullable=False), Column("kind", String(64), nullable=False),
      Column("ts", String(40), nullable=False), Column("payload", Text, nullable=False),
      Column("batch_id", String(64)), Column("hub", String(64)),
      Column("received_at", DateTime(timezone=True), nullable=False),
      Index("hub_records_station_seq", "station", "seq"), Index("hub_records_kind_ts", "kind", "ts"))
Table("hub_dead_letters", PRE,
      Column("id", Integer, primary_key=True, autoincrement=True),
      Column("received_at", DateTime(timezone=True), nullable=False), Column("topic", String(512), nullable=False),
      Column("station", String(64)), Column("record_id", String(64)), Column("reason", Text, nullable=False),
      Column("size", Integer, nullable=False), Column("payload", LargeBinary, nullable=False))
Table("hub_stations", PRE,
      Column("station", String(64), primary_key=True), Column("state", String(16), nullable=False, default="unknown"),
      Column("last_seen", DateTime(timezone=True)), Column("status_ts", String(40)), Column("app", String(40)),
      Column("queue_depth", Integer), Column("oldest_unsynced", String(40)), Column("last_ack", String(40)),
      Column("warn", Boolean), Column("documents", Text), Column("last_batch_at", DateTime(timezone=True)))
Table("hub_documents", PRE,
      Column("doc_type", String(16), primary_key=True), Column("scope", String(64), primary_key=True),
      Column("version", BigInteger, nullable=False), Column("issued", String(40), nullable=False),
      Column("body", Text, nullable=False))

TS = "2026-11-22T08:00:00.000+00:00"
NOW = datetime(2026, 11, 22, 8, 0, 5, tzinfo=timezone.utc)
TOPIC = "yizhan/v1/st-a/records"
ROSTER = {"volunteers": [{"id": "v1", "name": "王*明", "card_uid": "04A1B2C3", "teams": ["red"]}]}


PERSON = "c0ffee" * 10 + "beef"


def rec(i: int) -> WireRecord:
    return WireRecord(f"st-a-r{i}", "st-a", i, "visit", TS,
                      '{"person_key":"%s","role":"resident","source":"qr"}' % PERSON)  # noqa: UP031 (JSON braces)


def make_pre_migration_hub(db: str) -> None:
    """A hub database as the code before migrations left it: its tables, and rows in every one."""
    engine = make_engine(db)
    PRE.create_all(engine)
    t = PRE.tables
    with engine.begin() as conn:
        conn.execute(t["hub_records"].insert(), [
            {"id": r.id, "station": r.station, "seq": r.seq, "kind": r.kind, "ts": r.ts, "payload": r.payload_json,
             "batch_id": "b1", "hub": "hub-old", "received_at": NOW} for r in (rec(1), rec(2), rec(3))])
        conn.execute(t["hub_dead_letters"].insert().values(
            received_at=NOW, topic=TOPIC, station="st-a", reason="SchemaError: not JSON", size=1, payload=b"{"))
        conn.execute(t["hub_stations"].insert().values(
            station="st-a", state="online", last_seen=NOW, status_ts=TS, app="0.1.0", queue_depth=4,
            oldest_unsynced=TS, last_ack=TS, warn=False, documents='{"roster": 1}', last_batch_at=NOW))
        conn.execute(t["hub_documents"].insert().values(
            doc_type="roster", scope="_all", version=1, issued=TS, body=json.dumps(ROSTER, ensure_ascii=False)))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """An empty hub database on SQLite, or a fresh schema on the test PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "hub.sqlite3")
    return request.getfixturevalue("pg_schema_url")


def state_of(db: str) -> schema.SchemaState:
    engine = make_engine(db)
    try:
        return schema.state(engine)
    finally:
        engine.dispose()


def test_a_pre_migration_hub_with_data_is_stamped_and_keeps_every_row(db):
    make_pre_migration_hub(db)
    assert state_of(db).state == schema.PRE_MIGRATION
    store = HubStore(db, name="hub-new")
    try:
        assert state_of(db) == schema.SchemaState(schema.CURRENT, schema.head_revision(), schema.head_revision())
        assert store.count_records("st-a") == 3
        # Migration 0008 indexed the old records by the person they name: the workbench finds them.
        assert [(e["person_key"], e["records"]) for e in residents.find(store.engine, PERSON[:8], None)] == [(PERSON, 3)]
        st = store.stations()
        assert [(s["station"], s["state"], s["queue_depth"], s["documents"], s["records"]) for s in st] == [
            ("st-a", "online", 4, {"roster": 1}, 3)]
        assert [(d["station"], d["reason"]) for d in store.dead_letters()] == [("st-a", "SchemaError: not JSON")]
        ack = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b2", [rec(3), rec(4)])).payload)
        assert (ack.stored, ack.duplicates) == (1, 1)          # the old rows still deduplicate by id
        assert store.prepare_document("roster", ROSTER).version == 2
    finally:
        store.close()


def test_a_fresh_database_gets_exactly_the_schema_of_hub_models(db):
    store = HubStore(db)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), models.metadata)
    finally:
        store.close()
    assert diff == []
    assert state_of(db).state == schema.CURRENT


def test_an_unknown_newer_revision_is_refused_and_left_alone(db):
    HubStore(db).close()
    engine = make_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    for migrate in (True, False):
        with pytest.raises(HubError, match="9999_from_the_future, which this hub does not know"):
            HubStore(db, migrate=migrate)
    assert state_of(db).revision == "9999_from_the_future"


def test_hub_tables_it_cannot_place_are_refused(db):
    engine = make_engine(db)
    PRE.tables["hub_records"].create(engine)
    engine.dispose()
    with pytest.raises(HubError, match="not a hub database this code can place"):
        HubStore(db)
    assert state_of(db).state == schema.FOREIGN


def test_hubs_starting_together_migrate_once(db):
    make_pre_migration_hub(db)
    errors: list[BaseException] = []

    def start():
        try:
            open_engine(db, migrate=True).dispose()
        except BaseException as exc:       # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = make_engine(db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [schema.head_revision()]
        assert conn.execute(text("SELECT count(*) FROM hub_records")).scalar_one() == 3
    engine.dispose()


def yizhan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "hub", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_migrate_command_checks_then_upgrades_and_reading_commands_never_migrate(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    out = yizhan("stations", "--db", db)
    assert out.returncode == 1 and "no hub database at" in out.stderr
    assert not (tmp_path / "hub.sqlite3").exists()             # a mistyped path is not created
    make_pre_migration_hub(db)
    out = yizhan("stations", "--db", db)
    assert out.returncode == 1 and "made before the hub had migrations" in out.stderr
    out = yizhan("migrate", "--db", db, "--check")
    assert out.returncode == 1 and "`yizhan hub migrate` stamps it at 0001" in out.stdout
    assert state_of(db).state == schema.PRE_MIGRATION          # --check changes nothing
    out = yizhan("migrate", "--db", db)
    assert out.returncode == 0 and f"stamped at 0001, now at {schema.head_revision()}" in out.stdout
    out = yizhan("migrate", "--db", db, "--check")
    assert out.returncode == 0 and "the newest this hub knows" in out.stdout
    out = yizhan("stations", "--db", db)
    assert out.returncode == 0 and "st-a" in out.stdout


@pytest.mark.services
def test_hub_run_refuses_a_database_from_a_newer_hub_with_a_message(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    HubStore(db).close()
    engine = make_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    out = yizhan("run", "--db", db, "--port", "1")
    assert out.returncode == 1
    assert "at revision ffff, which this hub does not know" in out.stderr and "Traceback" not in out.stderr
    out = yizhan("migrate", "--db", db, "--check")
    assert out.returncode == 2


@pytest.mark.services
def test_hub_run_upgrades_a_pre_migration_database_at_start(tmp_path, mosquitto):
    db = str(tmp_path / "hub.sqlite3")
    make_pre_migration_hub(db)
    hub = HubProcess(db, mosquitto.host, mosquitto.port, name="hub-up", log_file=tmp_path / "hub.log").start()
    hub.stop()
    assert state_of(db).state == schema.CURRENT
    store = HubStore(db, migrate=False)
    try:
        assert store.count_records() == 3
    finally:
        store.close()
