"""Downlink documents: validate, apply atomically, keep the current one on bad or older input."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


from sync.downlink import DownlinkStore, applied_versions, current_documents
from sync.documents import make_document
from sync.messages import ALL_STATIONS
from tests.support.signing import HUB_PUBLIC, signed, write_key
from sync.publisher import Publisher
from tests.support.services import wait_for
from tests.sync.helpers import ROOT, load, station_config

TS = "2026-11-22T08:00:00.000+00:00"
CATALOG = {"services": [{"id": "bp", "name": "血压测量"}], "announcements": [{"id": "a1", "text": "周六义诊"}]}


def doc(version, scope="st-a", body=None, doc_type="catalog"):
    return signed(make_document(doc_type, version, scope, TS, body or CATALOG))


def test_apply_newer_reject_older_and_malformed(tmp_path):
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    assert store.apply("catalog", "st-a", doc(2)).applied
    older = store.apply("catalog", "st-a", doc(1))
    assert not older.applied and "not newer" in older.reason
    assert not store.apply("catalog", "st-a", b'{"v":1,"type":"catalog"').applied
    bad_date = b'{"v":1,"type":"catalog","version":9,"scope":"st-a","issued":"x","body":{}}'
    assert not store.apply("catalog", "st-a", bad_date).applied
    assert store.apply("catalog", "st-a", doc(2)).reason == "already applied"
    assert store.rejected == 3
    current = current_documents(tmp_path)["catalog"]
    assert current["version"] == 2 and current["body"] == CATALOG
    assert store.apply("catalog", "st-a", doc(3, body={"services": []})).applied
    assert current_documents(tmp_path)["catalog"]["body"] == {"services": []}


def test_wrong_station_or_type_is_rejected(tmp_path):
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    assert not store.apply("catalog", "st-b", doc(1, scope="st-b")).applied
    assert not store.apply("roster", "st-a", doc(1)).applied                  # a catalog on the roster topic
    assert not store.apply("catalog", ALL_STATIONS, doc(1)).applied           # scope says st-a, topic says all
    assert current_documents(tmp_path) == {"config": None, "roster": None, "catalog": None, "requests": None, "calendar": None}


def test_station_document_wins_over_all_stations(tmp_path):
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    store.apply("catalog", ALL_STATIONS, doc(5, scope=ALL_STATIONS))
    assert applied_versions(tmp_path) == {"catalog": 5}
    store.apply("catalog", "st-a", doc(1, body={"services": []}))
    assert current_documents(tmp_path)["catalog"]["scope"] == "st-a"
    assert applied_versions(tmp_path) == {"catalog": 1}


def test_apply_is_atomic_no_temp_files_left(tmp_path):
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    for v in range(1, 6):
        store.apply("config", "st-a", doc(v, doc_type="config", body={"ui": {"idle_reset_s": 60 + v}}))
    files = sorted(p.name for p in (tmp_path / "downlink").iterdir())
    assert files == ["config.st-a.json"]
    assert json.loads((tmp_path / "downlink" / "config.st-a.json").read_text())["version"] == 5


def test_a_damaged_stored_file_is_ignored_and_replaced(tmp_path):
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    store.apply("catalog", "st-a", doc(4))
    (tmp_path / "downlink" / "catalog.st-a.json").write_text("{half")
    assert current_documents(tmp_path)["catalog"] is None
    assert store.apply("catalog", "st-a", doc(1)).applied


@pytest.mark.services
def test_hub_publish_reaches_the_kiosk_and_its_status(tmp_path, mosquitto):
    data = tmp_path / "kiosk"
    data.mkdir()
    settings = load(station_config(tmp_path / "a.toml", "st-a", mosquitto.port), data)
    pub = Publisher(settings, poll_s=0.05)
    pub.start()
    db = tmp_path / "hub.sqlite3"
    body = tmp_path / "roster.json"
    body.write_text(json.dumps({"volunteers": [{"id": "v1", "name": "王*明", "card_uid": "04A1B2C3",
                                                "teams": ["red"]}], "teams": [{"id": "red", "name": "党旗红"}]}))

    key = write_key(tmp_path / "hub-signing.key")

    def publish(*extra):
        return subprocess.run([sys.executable, "-m", "app.cli", "hub", "publish", "roster", str(body), "--db",
                               str(db), "--port", str(mosquitto.port), "--signing-key", key, *extra], capture_output=True, text=True,
                              cwd=ROOT, timeout=60)
    try:
        assert pub.link.wait_connected(10)
        assert publish().returncode == 0                          # version 1 for every station
        assert publish("--station", "st-a").returncode == 0       # version 1 for st-a only
        assert publish("--station", "st-a").returncode == 0       # version 2 for st-a
        assert wait_for(lambda: pub.status().applied_versions.get("roster") == 2, 10)
        versions = {p.name for p in (data / "downlink").iterdir()}
        assert versions == {"roster._all.json", "roster.st-a.json"}
        assert current_documents(data)["roster"]["body"]["teams"][0]["name"] == "党旗红"
    finally:
        pub.stop()
