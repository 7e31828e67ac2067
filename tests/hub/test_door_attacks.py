"""Issue 11, items 3-7, 10 and 17: attacks on the hub's door with a station's (or the hub's) broker
login, against the shipped broker set-up, a real ``yizhan hub run`` and a real kiosk publisher."""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import deadletters
from kiosk.i18n import Translator
from kiosk.journal import Journal, RecordRefused
from kiosk.privacy import id_check_char
from kiosk.records import MAX_PAYLOAD_BYTES, AdminEvent, payload_to_json
from sync.documents import make_document, sign_document
from sync.messages import decode_ack
from sync.publisher import Publisher, status_text
from sync.status import Status, encode_status
from tests.hub.test_timebank import Kiosk
from tests.kiosk.test_volunteer import ROSTER, WANG, Clock
from tests.support.broker import PASSWORDS, RawClient, SecuredBroker, start_hub, station_settings, tools_missing
from tests.support.services import wait_for
from tests.support.signing import HUB_KEY, signed, write_key
from tests.sync.helpers import ROOT, fill_journal, hub_rows, outbox_depth

pytestmark = pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "-")

TS = "2026-11-22T08:00:00.000+00:00"
FIRST17 = "31010419500101123"
ID = FIRST17 + id_check_char(FIRST17)


@pytest.fixture()
def broker(tmp_path):
    b = SecuredBroker(tmp_path).start()
    yield b
    b.stop()


@pytest.fixture()
def hub(tmp_path, broker):
    db = tmp_path / "hub.sqlite3"
    proc = start_hub(broker, db, tmp_path / "hub.log")
    proc.db = db
    proc.log = tmp_path / "hub.log"
    yield proc
    proc.stop()


def yizhan(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def raw_station(broker, station="st-a"):
    """A bare client with a station's login, listening to its ack topic."""
    c = RawClient(broker, station, PASSWORDS[station], f"kiosk-{station}")
    assert c.connect_rc == "Success"
    assert c.subscribe(f"yizhan/v1/{station}/ack") == ["Granted QoS 1"]
    return c


def record(rid, station="st-a", seq=1, kind="admin_event", ts=TS, payload=None):
    return {"id": rid, "station": station, "seq": seq, "kind": kind, "ts": ts,
            "payload": payload if payload is not None else {"action": "note", "detail": rid}}


def send(client, station, batch_id, records, raw=None):
    body = raw if raw is not None else json.dumps({"v": 1, "station": station, "batch": batch_id,
                                                   "records": records}).encode()
    client.client.publish(f"yizhan/v1/{station}/records", body, qos=1).wait_for_publish(5)


def acks(client):
    return [decode_ack(p) for t, p in client.messages if t.endswith("/ack")]


def db_rows(db, sql, args=()):
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


# --- item 3: records are keyed by (station, id); a same-key, different-content arrival is a conflict

def test_another_station_cannot_pre_store_a_record_id_and_conflicts_are_kept_aside(tmp_path, broker, hub):
    data = tmp_path / "kiosk-a"
    with Journal(data / Journal.FILENAME, "st-a") as journal:                    # A's check-out id is computable
        journal.append(AdminEvent(action="checkout", detail="A's real record"), record_id="co-v1-20261122")
    b = raw_station(broker, "st-b")
    try:
        send(b, "st-b", "b-squat", [record("co-v1-20261122", "st-b", payload={"action": "squat", "detail": "B"})])
        assert wait_for(lambda: acks(b), 10)
    finally:
        b.close()
    pub = Publisher(station_settings(tmp_path, broker, "st-a", data), poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 20), pub.status()
    finally:
        pub.stop()
    stored = db_rows(hub.db, "SELECT station, payload FROM hub_records WHERE id = 'co-v1-20261122' ORDER BY station")
    assert [s for s, _ in stored] == ["st-a", "st-b"]
    assert "A's real record" in stored[0][1]

    a = raw_station(broker, "st-a")                                # the same key again, other content
    try:
        send(a, "st-a", "a-again", [record("co-v1-20261122", payload={"action": "checkout", "detail": "forged"}),
                                    record("fresh-1", seq=2)])
        assert wait_for(lambda: acks(a), 10)
    finally:
        a.close()
    ack = acks(a)[0]
    assert (ack.stored, ack.rejected, ack.refused) == (1, 1, ((0, "conflict"),))
    assert "A's real record" in db_rows(hub.db, "SELECT payload FROM hub_records WHERE station = 'st-a' "
                                                "AND id = 'co-v1-20261122'")[0][0]
    out = yizhan("hub", "conflicts", "--db", str(hub.db))
    assert out.returncode == 0 and "co-v1-20261122" in out.stdout and "st-a" in out.stdout, out.stderr


# --- item 4: only stored records are acked; refused ones stay visible and can be replayed ----------

@pytest.mark.services
def test_refused_records_stay_at_the_kiosk_until_replayed_at_the_hub(tmp_path, broker, hub):
    data = tmp_path / "kiosk"
    ids = fill_journal(data, "st-a", 6)                             # journaled as st-a …
    settings = station_settings(tmp_path, broker, "st-b", data)      # … then station.id changed to st-b
    pub = Publisher(settings, poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: pub.status().rejected == 6, 20), pub.status()
        status = pub.status()
        assert status.queue_depth == 0 and outbox_depth(data) == 6      # nothing lost: not marked synced
        assert "6" in status_text(status, Translator("en")) and "refused" in status_text(status, Translator("en"))
        assert "6" in status_text(status, Translator("zh_CN")) and "拒收" in status_text(status, Translator("zh_CN"))
        assert {r.reason for r in pub.rejected_records()} == {"station"}
    finally:
        pub.stop()
    assert hub_rows(hub.db, "st-a") == []
    listing = yizhan("hub", "dead-letters", "--db", str(hub.db))
    assert listing.returncode == 0 and listing.stdout.count("names station 'st-a'") == 6, listing.stdout
    dead = [int(line.split()[0]) for line in listing.stdout.splitlines()]
    replay = yizhan("hub", "dead-letters", "replay", *map(str, dead), "--db", str(hub.db))
    assert replay.returncode == 0, replay.stderr
    assert sorted(r[0] for r in hub_rows(hub.db, "st-a")) == sorted(ids)

    pub = Publisher(settings, poll_s=0.05)                          # next start: offered again, now duplicates
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0 and pub.status().rejected == 0, 20), pub.status()
    finally:
        pub.stop()
    assert len(hub_rows(hub.db, "st-a")) == 6


# --- item 5: time fields are bounded at the door; reports never meet year 1 or 9999 ---------------

@pytest.mark.services
def test_absurd_times_are_refused_and_reports_keep_working(tmp_path, broker, hub):
    clock = Clock(datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc))
    k = Kiosk(tmp_path, "st-a", clock)
    k.apply("roster", ROSTER, 1)
    k.bank.check_in(WANG, "orange", "duty")
    clock.advance(hours=2)
    k.bank.check_out(WANG)
    moves = [r for r in k.journal.records() if r.kind in ("ledger_movement", "volunteer_check_out")]
    k.close()
    payloads = {r.kind: json.loads(payload_to_json(r.payload)) for r in moves}
    a = raw_station(broker, "st-a")
    try:
        send(a, "st-a", "old", [record("m-year1", kind="ledger_movement", ts="0001-01-01T00:00:00+14:00",
                                       payload={**payloads["ledger_movement"], "movement_id": "m-year1"}),
                                record("co-9999", seq=2, kind="volunteer_check_out", ts="9999-12-31T23:59:59+00:00",
                                       payload=payloads["volunteer_check_out"])])
        a.client.publish("yizhan/v1/st-a/status", encode_status(Status("st-a", "online", "9999-12-31T23:59:59+00:00")),
                         qos=1, retain=True).wait_for_publish(5)
        assert wait_for(lambda: acks(a), 10)
        wait_for(lambda: False, 0.5)
        a.client.publish("yizhan/v1/st-a/status", encode_status(Status("st-a", "offline", TS)), qos=1,
                         retain=True).wait_for_publish(5)
        wait_for(lambda: False, 0.5)
    finally:
        a.close()
    assert acks(a)[0].refused == ((0, "invalid"), (1, "invalid"))
    assert hub_rows(hub.db, "st-a") == []
    assert db_rows(hub.db, "SELECT state FROM hub_stations WHERE station = 'st-a'") == [("offline",)]
    report = yizhan("hub", "report", "volunteers", "--month", "2026-11", "--db", str(hub.db), "--format", "csv",
                    "--out", str(tmp_path / "r.csv"))
    assert report.returncode == 0, report.stderr
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps(ROSTER, ensure_ascii=False))
    publish = yizhan("hub", "publish", "roster", str(roster), "--db", str(hub.db), "--port", str(broker.port),
                     "--username", "hub", "--signing-key", write_key(tmp_path / "k.pem"),
                     env={"YIZHAN_MQTT_PASSWORD": PASSWORDS["hub"]})
    assert publish.returncode == 0, publish.stderr


# --- item 6: a junk flood cannot fill the hub's disk ---------------------------------------------

@pytest.mark.services
def test_dead_letters_keep_digests_not_floods(tmp_path, broker, hub):
    con = sqlite3.connect(hub.db)                                   # a dead letter from 100 days ago
    con.execute("INSERT INTO hub_dead_letters (received_at, topic, station, reason, size, payload, count) "
                "VALUES ('2026-08-01 00:00:00.000000', 't', 'st-a', 'old', 1, x'00', 1)")
    con.commit()
    con.close()
    a = raw_station(broker, "st-a")
    try:
        for i in range(12):                                       # 12 distinct messages of 4 MB
            send(a, "st-a", "", [], raw=bytes([65 + i]) * (4 * 1024 * 1024 - 64))
        for _ in range(20):                                       # the same small junk, again and again
            send(a, "st-a", "", [], raw=b"{not json")
        for i in range(150):                                      # distinct 60 kB junk: 9 MB > the station cap
            send(a, "st-a", "", [], raw=b"[" + f"{i:03d},".encode() * 15_000 + b"]")
        assert wait_for(lambda: db_rows(hub.db, "SELECT coalesce(sum(count), 0) FROM hub_dead_letters")[0][0] == 182,
                        60)
    finally:
        a.close()
    assert db_rows(hub.db, "SELECT count(*) FROM hub_dead_letters WHERE reason = 'old'") == [(0,)]
    rows = db_rows(hub.db, "SELECT size, length(payload), count, digest FROM hub_dead_letters")
    assert len(rows) == 12 + 1 + 150
    assert all(kept == 0 and len(digest) == 64 for size, kept, _, digest in rows if size > 64 * 1024)
    assert [c for size, _, c, _ in rows if size == len(b"{not json")] == [20]
    assert sum(kept for _, kept, _, _ in rows) <= deadletters.STATION_BYTES
    assert (hub.db.stat().st_size + Path(str(hub.db) + "-wal").stat().st_size) < 40 * 1024 * 1024


# --- item 7: no ID number passes the door, is stored, echoed or logged, in any disguise ------------

def _disguises():
    fullwidth = ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    return {"escaped": "".join(f"\\u{ord(c):04x}" for c in ID),
            "fullwidth": fullwidth,
            "spaced": f"{ID[:6]} {ID[6:14]} {ID[14:]}",
            "zero-width": "\u200b".join(ID),
            "dashed": f"{ID[:6]}-{ID[6:14]}-{ID[14:]}"}


def test_id_numbers_in_any_disguise_are_refused_never_stored_echoed_or_logged(tmp_path, broker, hub):
    a = raw_station(broker, "st-a")
    try:
        for i, (name, disguised) in enumerate(_disguises().items()):
            if name == "escaped":                                   # JSON escapes must be written by hand
                raw = ('{"v":1,"station":"st-a","batch":"b-esc","records":[{"id":"r-esc","station":"st-a","seq":1,'  # noqa: UP031
                       '"kind":"admin_event","ts":"%s","payload":{"action":"note","detail":"%s"}}]}' % (TS, disguised))
                send(a, "st-a", "", [], raw=raw.encode())
            else:
                send(a, "st-a", f"b-{name}", [record(f"r-{name}", seq=i + 1, payload={"action": "note",
                                                                                      disguised: "as a key"})])
        send(a, "st-a", "b-id", [record(ID, seq=10)])                            # as the record id
        send(a, "st-a", ID, [record("r-batch", seq=11)])                          # as the batch id
        send(a, "st-a", "b-ok", [record("r-ok", seq=12)])
        assert wait_for(lambda: "b-ok" in [x.batch_id for x in acks(a)], 15)
    finally:
        a.close()
    got = acks(a)
    assert {x.batch_id for x in got} == {"b-esc", "b-fullwidth", "b-spaced", "b-zero-width", "b-dashed", "b-id", "b-ok"}
    assert all(x.refused == ((0, "privacy"),) for x in got if x.batch_id != "b-ok")
    assert [r[0] for r in hub_rows(hub.db)] == ["r-ok"]
    wire = b"".join(p for _, p in a.messages)
    hub.stop()
    blobs = {"acks": wire, "database": b"".join(p.read_bytes() for p in hub.db.parent.glob("hub.sqlite3*")),
             "log": hub.log.read_bytes()}
    for where, blob in blobs.items():
        text = unicodedata.normalize("NFKC", blob.decode("utf-8", "replace"))
        flat = "".join(ch for ch in text if ch.isalnum())
        assert FIRST17 not in flat, f"an ID number reached the {where}"
    dead = db_rows(hub.db, "SELECT length(payload), reason FROM hub_dead_letters")
    assert dead and all(kept == 0 for kept, _ in dead)


# --- item 10: downlink documents are signed; forged, absurd and NaN ones are refused ---------------

def sign_raw(doc: dict) -> bytes:
    """A document the hub's key signed without the hub's checks (what a stolen key could make)."""
    canonical = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return json.dumps({**doc, "sig": base64.b64encode(HUB_KEY.sign(canonical)).decode()}).encode()


@pytest.mark.services
def test_forged_documents_from_the_hub_login_are_refused_signed_ones_applied(tmp_path, broker, hub):
    data = tmp_path / "kiosk"
    data.mkdir()
    pub = Publisher(station_settings(tmp_path, broker, "st-a", data), poll_s=0.05)
    pub.start()
    thief = RawClient(broker, "hub", PASSWORDS["hub"], "hub-thief")
    rich = {"volunteers": [{"id": "v1", "name": "王*明", "card_uid": "04A1B2C3",
                            "balance": {"hours": 10000.0, "as_of": TS}}], "teams": []}

    def forge(raw):
        thief.client.publish("yizhan/v1/_all/roster", raw, qos=1, retain=True).wait_for_publish(5)
        wait_for(lambda: False, 0.4)
        return pub.status().applied_versions.get("roster")
    try:
        assert pub.link.wait_connected(10)
        doc = make_document("roster", 5, "_all", TS, rich)
        unsigned = json.dumps(doc.to_dict()).encode()
        assert forge(unsigned) is None
        assert forge(signed(doc).replace(b"10000.0", b"20000.0")) is None                     # altered after signing
        assert forge(json.dumps({**doc.to_dict(), "sig": sign_document(
            doc, Ed25519PrivateKey.generate()).sig}).encode()) is None                          # another key
        huge = {**make_document("roster", 1, "_all", TS, {"volunteers": [], "teams": []}).to_dict(),
                "version": 2**62 - 1}
        assert forge(sign_raw(huge)) is None                               # signed by the hub's key, yet absurd
        nan = make_document("roster", 6, "_all", TS, {"teams": []}).to_dict()
        nan["body"]["volunteers"] = [{"id": "v", "name": "n", "card_uid": "0401", "balance": {"hours": float("nan")}}]
        assert forge(sign_raw(nan)) is None                                 # signed, yet NaN
        assert forge(sign_raw(nan).replace(b"NaN", b"1e999")) is None        # Infinity by overflow
        roster = tmp_path / "roster.json"
        roster.write_text(json.dumps({"volunteers": [{"id": "v1", "name": "王*明", "card_uid": "04A1B2C3"}],
                                      "teams": []}, ensure_ascii=False))
        key = write_key(tmp_path / "hub-signing.key")
        env = {"YIZHAN_MQTT_PASSWORD": PASSWORDS["hub"]}
        common = ["--db", str(hub.db), "--port", str(broker.port), "--username", "hub", "--signing-key", key]
        absurd = yizhan("hub", "publish", "roster", str(roster), "--version", str(2**62 - 1), *common, env=env)
        assert absurd.returncode == 2 and "jumps more than" in absurd.stderr
        real = yizhan("hub", "publish", "roster", str(roster), *common, env=env)
        assert real.returncode == 0, real.stderr
        assert wait_for(lambda: pub.status().applied_versions.get("roster") == 1, 10)
    finally:
        thief.close()
        pub.stop()
    applied = json.loads((data / "downlink" / "roster._all.json").read_text())
    assert applied["body"]["volunteers"][0]["balance"]["hours"] == 0.0


def test_the_kiosk_refuses_nan_and_oversized_records_when_journaling(tmp_path):
    with Journal(tmp_path / Journal.FILENAME, "st-a") as journal:
        with pytest.raises(RecordRefused):
            journal.append(AdminEvent(action="note", detail="x" * (MAX_PAYLOAD_BYTES + 1)))
        assert journal.count() == 0


# --- item 17: batches are split by bytes; an urgent alert is never stuck behind a big batch --------

def test_big_records_travel_in_batches_under_the_limit_and_the_alert_goes_first(tmp_path, broker, hub):
    data = tmp_path / "kiosk"
    with Journal(data / Journal.FILENAME, "st-a") as journal:
        for i in range(200):
            journal.append(AdminEvent(action="note", detail=f"{i:04d}" + "x" * 30_000))
        alert = journal.append(AdminEvent(action="alert", detail="urgent"), priority=10).record.id
        with pytest.raises(RecordRefused):
            journal.append(AdminEvent(action="note", detail="y" * (MAX_PAYLOAD_BYTES + 10)))
    pub = Publisher(station_settings(tmp_path, broker, "st-a", data, batch_size=200), poll_s=0.05)
    pub.start()
    try:
        assert wait_for(lambda: outbox_depth(data) == 0, 60), pub.status()
    finally:
        pub.stop()
    rows = db_rows(hub.db, "SELECT id, batch_id, received_at FROM hub_records WHERE station = 'st-a'")
    assert len(rows) == 201
    batches = {}
    for rid, batch_id, received in rows:
        batches.setdefault(batch_id, []).append((received, rid))
    assert len(batches) >= 2
    first = min(batches.values(), key=lambda b: min(b))
    assert alert in [rid for _, rid in first]
