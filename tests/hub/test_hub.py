"""The hub: validation into dead letters, upsert by id, stations, the CLI, PostgreSQL."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.demo_hub import HubProcess
from hub.database import HubError
from hub.store import HubStore
from sync.messages import WireRecord, decode_ack, decode_batch, encode_batch
from sync.mqtt import MqttLink
from sync.status import Status, encode_status
from tests.support.services import wait_for
from tests.support.payloads import complete
from tests.support.signing import write_key
from tests.sync.helpers import ROOT

TS = "2026-11-22T08:00:00.000+00:00"
TOPIC = "yizhan/v1/st-a/records"


def rec(i, station="st-a"):
    return WireRecord(f"{station}-r{i}", station, i, "visit", TS, '{"person_key":"k","role":"resident","source":"qr"}')


@pytest.fixture()
def store(tmp_path):
    s = HubStore(str(tmp_path / "hub.sqlite3"), name="hub-t")
    yield s
    s.close()


def test_upsert_by_record_id_and_ack_counts(store):
    raw = encode_batch("st-a", "b1", [rec(1), rec(2)])
    first = decode_ack(store.handle_records(TOPIC, "st-a", raw).payload)
    again = decode_ack(store.handle_records(TOPIC, "st-a", raw).payload)
    overlap = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b2", [rec(2), rec(3)])).payload)
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.stored, again.duplicates) == (0, 2)
    assert (overlap.batch_id, overlap.stored, overlap.duplicates) == ("b2", 1, 1)
    assert store.count_records("st-a") == 3 and store.dead_letters() == []


@pytest.mark.parametrize("raw, reason", [
    (b"{broken", "MalformedMessage"),
    (b'{"v":1,"station":"st-a","batch":"b","rows":[]}', "SchemaError"),
    (b'{"v":1,' + b" " * (4 * 1024 * 1024) + b"}", "MessageTooLarge"),
    (encode_batch("st-b", "b", [rec(1, "st-b")]), "StationMismatch"),
])
def test_bad_messages_become_dead_letters_without_an_ack(store, raw, reason):
    assert store.handle_records(TOPIC, "st-a", raw) is None
    (dead,) = store.dead_letters()
    assert dead["reason"].startswith(reason) and dead["station"] == "st-a" and dead["size"] == len(raw)
    assert store.count_records() == 0


def test_bad_records_in_a_good_batch_are_dead_lettered_and_counted(store):
    good = json.loads(rec(1).to_json())
    raw = json.dumps({"v": 1, "station": "st-a", "batch": "b", "records": [good, dict(good, id="x", seq="3")]})
    ack = decode_ack(store.handle_records(TOPIC, "st-a", raw.encode()).payload)
    assert (ack.stored, ack.rejected) == (1, 1)
    (dead,) = store.dead_letters()
    assert dead["record_id"] == "x" and "seq" in dead["reason"]


def test_invalid_topic_station_is_a_dead_letter(store):
    assert store.handle_records("yizhan/v1/_x/records", "_x", encode_batch("st-a", "b", [rec(1)])) is None
    assert "station id" in store.dead_letters()[0]["reason"]


def test_station_status_is_tracked_and_older_status_ignored(store):
    online = Status("st-a", "online", "2026-11-22T08:00:01.000+00:00", "0.1.0", 7, TS, TS, False, {"roster": 2})
    store.handle_status("t", "st-a", encode_status(online))
    store.handle_status("t", "st-a", encode_status(Status("st-a", "offline", TS)))        # older: ignored
    store.handle_status("t", "st-a", b"garbage")
    (row,) = store.stations()
    assert (row["state"], row["queue_depth"], row["documents"], row["app"]) == ("online", 7, {"roster": 2}, "0.1.0")
    assert len(store.dead_letters()) == 1


def test_documents_get_increasing_versions(store):
    body = {"services": [{"id": "bp", "name": "血压"}]}
    assert store.prepare_document("catalog", body).version == 1
    assert store.prepare_document("catalog", body).version == 2
    assert store.prepare_document("catalog", body, scope="st-a").version == 1
    from sync.messages import SchemaError
    with pytest.raises(SchemaError):
        store.prepare_document("catalog", body, version=2)
    with pytest.raises(SchemaError):
        store.prepare_document("catalog", {"services": "none"})


_fuzz_db = tempfile.mkdtemp(prefix="yizhan-hub-fuzz-")
atexit.register(shutil.rmtree, _fuzz_db, True)
_fuzz_store = None


def fuzz_store() -> HubStore:
    global _fuzz_store
    if _fuzz_store is None:
        _fuzz_store = HubStore(os.path.join(_fuzz_db, "hub.sqlite3"))
    return _fuzz_store


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda recs, station: json.dumps({"v": 1, "station": station, "batch": "b",
                                                            "records": recs}).encode(),
                           st.lists(st.dictionaries(st.sampled_from(["id", "station", "seq", "kind", "ts", "payload"]),
                                                    st.one_of(st.text(max_size=8), st.integers(), st.just(TS),
                                                              st.just("st-a"), st.dictionaries(st.text(max_size=3),
                                                                                               st.integers())),
                                                    max_size=6), max_size=3),
                           st.sampled_from(["st-a", "st-b"]))),
       st.sampled_from(["st-a", "_bad", "st-a/#"]))
@pytest.mark.slow
def test_fuzz_hub_validation_only_dead_letters(raw, topic_station):
    store = fuzz_store()
    before_dead, before_rows = store.dead, store.count_records()
    reply = store.handle_records(f"yizhan/v1/{topic_station}/records", topic_station, raw)
    if reply is None:
        assert store.dead == before_dead + 1
    else:
        ack = decode_ack(reply.payload)
        assert store.count_records() == before_rows + ack.stored


@pytest.mark.services
def test_running_hub_survives_bad_input_and_still_acks(tmp_path, mosquitto):
    db = tmp_path / "hub.sqlite3"
    hub = HubProcess(str(db), mosquitto.host, mosquitto.port, log_file=tmp_path / "hub.log").start()
    acks = []
    link = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="bad-actor", base_topic="yizhan/v1",
                    station="st-a")
    link.subscribe("ack", lambda *a: acks.append(decode_ack(a[2])))
    link.start()
    try:
        assert link.wait_connected(10)
        wait_for(lambda: False, 0.2)
        for raw in (b"\x00\xff", b'{"v":1}', b"[" * 100000, b"x" * (5 * 1024 * 1024),
                    encode_batch("st-b", "spoof", [rec(1, "st-b")])):
            link.publish("records", raw).wait_for_publish(5)
        link.publish("records", encode_batch("st-a", "good", [rec(1)])).wait_for_publish(5)
        assert wait_for(lambda: len(acks) == 1, 15)
        assert hub.running
    finally:
        link.stop()
        hub.stop()
    store = HubStore(str(db))
    reasons = [d["reason"].split(":")[0] for d in store.dead_letters()]
    assert reasons == ["MalformedMessage", "SchemaError", "MalformedMessage", "MessageTooLarge", "StationMismatch"]
    assert acks[0].batch_id == "good" and store.count_records() == 1


def yizhan(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.services
def test_cli_stations_and_publish(tmp_path, mosquitto):
    db = tmp_path / "hub.sqlite3"
    store = HubStore(str(db))
    store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b", [rec(1), rec(2)]))
    store.handle_status("t", "st-a", encode_status(Status("st-a", "online", TS, "0.1.0", 5, None, None)))
    out = yizhan("hub", "stations", "--db", str(db))
    assert out.returncode == 0, out.stderr
    line = next(row for row in out.stdout.splitlines() if row.startswith("st-a"))
    assert line.split()[1] == "online" and line.split()[3:5] == ["5", "2"]
    data = json.loads(yizhan("hub", "stations", "--db", str(db), "--json").stdout)
    assert data[0]["records"] == 2

    got = []
    link = MqttLink(host=mosquitto.host, port=mosquitto.port, client_id="watch", base_topic="yizhan/v1",
                    station="st-a")
    link.subscribe("roster", lambda *a: got.append(a), station="_all")
    link.start()
    try:
        assert link.wait_connected(10)
        body = tmp_path / "roster.json"
        body.write_text(json.dumps({"volunteers": [{"id": "v1", "name": "王*明", "card_uid": "04A1B2C3"}]}))
        key = write_key(tmp_path / "hub-signing.key")
        out = yizhan("hub", "publish", "roster", str(body), "--db", str(db), "--port", str(mosquitto.port))
        assert out.returncode == 2 and "yizhan hub keygen" in out.stderr                # never unsigned
        out = yizhan("hub", "publish", "roster", str(body), "--db", str(db), "--port", str(mosquitto.port),
                     "--signing-key", key)
        assert out.returncode == 0 and "version 1" in out.stdout, out.stderr
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"volunteers": [{"id": "v1", "name": "x"}]}))
        out = yizhan("hub", "publish", "roster", str(bad), "--db", str(db), "--port", str(mosquitto.port),
                     "--signing-key", key)
        assert out.returncode == 2 and "card_uid or a person_key" in out.stderr
        assert wait_for(lambda: got, 10)
    finally:
        link.stop()
    station, suffix, payload, retained = got[0]
    assert (station, suffix) == ("_all", "roster") and json.loads(payload)["version"] == 1


# --- PostgreSQL --------------------------------------------------------------------------------------

def test_postgresql_store_upserts_and_dead_letters(pg_schema_url):
    store = HubStore(pg_schema_url, name="hub-pg")
    try:
        raw = encode_batch("st-a", "b1", [rec(1), rec(2)])
        assert decode_ack(store.handle_records(TOPIC, "st-a", raw).payload).stored == 2
        assert decode_ack(store.handle_records(TOPIC, "st-a", raw).payload).duplicates == 2
        assert store.handle_records(TOPIC, "st-a", b"{") is None
        assert store.count_records("st-a") == 2 and len(store.dead_letters()) == 1
        assert store.stations()[0]["records"] == 2
    finally:
        store.close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_both_databases_store_every_character_and_ack_repeats_and_conflicts_alike(db, tmp_path, request):
    """PostgreSQL takes records by COPY (tabs, newlines and backslashes escaped), SQLite by VALUES."""
    url = request.getfixturevalue("pg_schema_url") if db == "postgresql" else str(tmp_path / "hub.sqlite3")
    tricky = json.dumps({"action": "k", "detail": "tab\there\nnew line \\ back\\slash \"quoted\" 驿站 😀 \u0000"},
                        ensure_ascii=False, separators=(",", ":"))
    odd = WireRecord("st-a-odd", "st-a", 9, "admin_event", TS, tricky)
    changed = WireRecord("st-a-r1", "st-a", 1, "visit", TS, '{"person_key":"other","role":"resident","source":"qr"}')
    store = HubStore(url, name="hub-x")
    try:
        first = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b1", [rec(1), odd, rec(1)])).payload)
        again = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b2", [odd, changed, rec(2)])).payload)
        with store.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT payload FROM hub_records WHERE id = 'st-a-odd'").scalar_one()
        assert (first.stored, first.duplicates, first.refused) == (2, 1, ())        # a repeat in one batch
        assert (again.stored, again.duplicates, again.refused) == (1, 1, ((1, "conflict"),))
        assert json.loads(stored) == json.loads(tricky) and stored == odd.payload_json
        assert store.count_records("st-a") == 3 and len(store.conflicts("st-a")) == 1
        for n in range(3):                     # the same conflicting record resent: refused, kept once
            resent = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", f"b{n + 3}", [changed])).payload)
            assert resent.refused == ((0, "conflict"),)
        other = WireRecord("st-a-r1", "st-a", 1, "visit", TS, '{"person_key":"third","role":"resident","source":"qr"}')
        store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b9", [other]))
        assert len(store.conflicts("st-a")) == 2                          # other content is a new conflict
    finally:
        store.close()


def test_a_failing_copy_raises_sqlalchemys_error_so_the_store_retries_or_refuses_the_batch(pg_schema_url):
    from datetime import datetime, timezone

    from sqlalchemy.exc import DataError
    from hub.database import insert_records
    store = HubStore(pg_schema_url)
    good = ("st-a", "st-a-r1", 1, "visit", TS, "{}", "b1", "hub", datetime.now(timezone.utc))
    try:
        with pytest.raises(DataError), store.engine.begin() as conn:
            insert_records(conn, [good[:8] + ("not a time",)])
        with store.engine.begin() as conn:                 # the session and its staging table still serve
            assert insert_records(conn, [good]) == {"st-a-r1"}
        assert store.count_records("st-a") == 1
    finally:
        store.close()


def test_postgresql_hub_drain_exactly_once(tmp_path, mosquitto, pg_schema_url):
    from sync.publisher import Publisher
    from tests.sync.helpers import fill_journal, load, outbox_depth, station_config
    data = tmp_path / "kiosk"
    data.mkdir()
    ids = fill_journal(data, "st-p", 150)
    hub = HubProcess(pg_schema_url, mosquitto.host, mosquitto.port, name="hub-pg", log_file=tmp_path / "hub.log").start()
    pub = Publisher(load(station_config(tmp_path / "p.toml", "st-p", mosquitto.port, batch_size=20), data),
                    poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 60)
    finally:
        pub.stop()
        hub.stop()
    store = HubStore(pg_schema_url)
    try:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, seq FROM hub_records WHERE station = 'st-p'").fetchall()
    finally:
        store.close()
    assert sorted(r[0] for r in rows) == sorted(ids) and sorted(r[1] for r in rows) == list(range(1, 151))


def test_a_stations_consent_withdrawal_erases_its_own_records_and_the_district_confirms_the_rest(store):
    """Issue 22: a station's withdrawal erases, at once, the person's health records that station
    holds (including one it delivers later); what another station holds stays until the district
    confirms (staff record the withdrawal at the workbench for that station). An erased record keeps
    its row (no hole in the station's sequence); a resent copy of it is a duplicate, not a conflict.
    On the old code station A's withdrawal erased station B's records too."""
    import sqlite3

    from hub.residents import withdraw_consent
    p1, p2 = "b1" * 32, "b2" * 32

    def health(i, station, person):
        return WireRecord(f"{station}-h{i}", station, i, "bp_measurement", TS,
                          json.dumps(complete("bp_measurement", person_key=person, systolic=150, diastolic=95)))

    store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b1", [health(1, "st-a", p1), health(2, "st-a", p2),
                                                                      rec(3)]))
    store.handle_records("yizhan/v1/st-b/records", "st-b", encode_batch("st-b", "b1", [health(1, "st-b", p1)]))
    withdrawal = WireRecord("st-a-w", "st-a", 4, "consent_withdrawn", TS, json.dumps({"person_key": p1, "erased_count": 1}))
    store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b2", [withdrawal]))
    late = health(2, "st-b", p1)                       # queued at another station before the withdrawal
    store.handle_records("yizhan/v1/st-b/records", "st-b", encode_batch("st-b", "b2", [late]))
    ack = decode_ack(store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b3", [health(1, "st-a", p1)])).payload)
    assert (ack.stored, ack.duplicates, ack.refused) == (0, 1, ())     # the station resent it before its ack

    def rows():
        db = sqlite3.connect(store.engine.url.database)
        try:
            return (db.execute("SELECT id, kind, payload FROM hub_records ORDER BY id").fetchall(),
                    dict(db.execute("SELECT station, through FROM hub_station_counts").fetchall()),
                    db.execute("SELECT count(*) FROM hub_conflicts").fetchone()[0])
        finally:
            db.close()
    held, through, conflicts = rows()
    erased = '{"erased":"st-a-w"}'
    assert [(i, k) for i, k, _ in held] == [("st-a-h1", "bp_measurement"), ("st-a-h2", "bp_measurement"),
                                          ("st-a-r3", "visit"), ("st-a-w", "consent_withdrawn"),
                                          ("st-b-h1", "bp_measurement"), ("st-b-h2", "bp_measurement")]
    payloads = {i: p for i, _, p in held}
    assert payloads["st-a-h1"] == erased
    assert p2 in payloads["st-a-h2"]                                 # another person's record is kept
    assert p1 in payloads["st-b-h1"] and p1 in payloads["st-b-h2"]    # station B's: not by station A's word
    assert through == {"st-a": 4, "st-b": 2} and conflicts == 0

    assert withdraw_consent(store.engine, p1, ("st-b",), actor="district") == 2     # the district confirms
    held, _, _ = rows()
    assert not [i for i, k, p in held if p1 in p and k != "consent_withdrawn"]


def test_a_withdrawal_recorded_at_the_workbench_also_erases_the_backlog_a_station_delivers_later(store):
    """Staff withdrew consent for station st-a; st-a was offline and delivers the person's earlier
    measurement afterwards: it is erased on arrival. Station st-b is outside the withdrawal's scope."""
    from hub.residents import withdraw_consent

    person = "ab" * 32

    def health(i, station):
        return WireRecord(f"{station}-h{i}", station, i, "bp_measurement", TS,
                          json.dumps(complete("bp_measurement", person_key=person, systolic=150, diastolic=95)))
    assert withdraw_consent(store.engine, person, ("st-a",), actor="zhang") == 0
    store.handle_records(TOPIC, "st-a", encode_batch("st-a", "b1", [health(1, "st-a")]))
    store.handle_records("yizhan/v1/st-b/records", "st-b", encode_batch("st-b", "b1", [health(1, "st-b")]))
    with store.engine.connect() as conn:
        payloads = dict(conn.exec_driver_sql("SELECT id, payload FROM hub_records").fetchall())
    assert payloads["st-a-h1"].startswith('{"erased":"hub-withdrawal-') and person not in payloads["st-a-h1"]
    assert person in payloads["st-b-h1"]


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_batches_sharing_a_commit_are_stored_as_one_by_one_and_a_refused_one_holds_back_none(db, tmp_path, request):
    """Group commit: the batches a hub process finds waiting share one transaction. Each is acked as
    if stored alone, in order (a record repeated in a later batch of the group is a duplicate); a
    batch the database refuses (a trigger here) gets a HubError and no ack, the others their acks. A
    record set aside as a dead letter in the failed shared attempt is counted once, not again when
    its batch is stored alone."""
    url = request.getfixturevalue("pg_schema_url") if db == "postgresql" else str(tmp_path / "hub.sqlite3")
    store = HubStore(url, name="hub-g")
    refuse = {"sqlite": ["CREATE TRIGGER poison BEFORE INSERT ON hub_records WHEN NEW.id = 'st-a-r5' "
                         "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
              "postgresql": ["CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.id = 'st-a-r5' THEN "
                             "RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                             "CREATE TRIGGER poison BEFORE INSERT ON hub_records FOR EACH ROW EXECUTE FUNCTION poison()"]}
    try:
        with store.engine.begin() as conn:
            for sql in refuse[db]:
                conn.exec_driver_sql(sql)
        raw = {bid: json.loads(encode_batch("st-a", bid, recs)) for bid, recs in (
            ("b1", [rec(1), rec(2)]), ("b2", [rec(2), rec(3)]), ("b3", [rec(5)]), ("b4", [rec(4)]))}
        raw["b2"]["records"].append({"id": "st-a-bad", "station": "st-a", "seq": "not a number"})
        batches = [decode_batch(json.dumps(doc).encode(), "st-a") for doc in raw.values()]
        results = store.store_batches([(TOPIC, b) for b in batches])
        acks = [r if isinstance(r, HubError) else decode_ack(r.payload) for r in results]
        assert [(a.batch_id, a.stored, a.duplicates, a.refused) for a in acks[:2] + acks[3:]] == [
            ("b1", 2, 0, ()), ("b2", 1, 1, ((2, "invalid"),)), ("b4", 1, 0, ())]
        with store.engine.connect() as conn:
            letters = conn.exec_driver_sql("SELECT record_id, count FROM hub_dead_letters").fetchall()
        assert [tuple(row) for row in letters] == [("st-a-bad", 1)] and store.dead == 1
        assert isinstance(acks[2], HubError) and "b3" in str(acks[2]) and "refused by the test" in str(acks[2])
        assert store.count_records("st-a") == 4
        assert [(s["station"], s["records"]) for s in store.stations()] == [("st-a", 4)]
        again = store.store_batches([(TOPIC, batches[0]), (TOPIC, batches[3])])     # resent after a lost ack
        assert [decode_ack(r.payload).duplicates for r in again] == [2, 1]
    finally:
        store.close()
