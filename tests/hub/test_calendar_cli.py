"""``yizhan hub calendar``: the street office's command-line path to 近期活动, against a real Mosquitto.

A good calendar is stored and sent retained, signed with the hub key; an overlapping one, one with an
activity moved into the past, or a file that is not JSON is refused with a message and changes nothing;
``counts`` prints 场次 and 人次 as JSON (none before anyone attends; attendance counting itself is
tested in tests/hub/test_requests.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from hub.publishing import current
from hub.store import HubStore
from sync.documents import decode_document, public_key_from_hex
from tests.support.signing import HUB_PUBLIC, write_key


def _cli(*args, db, broker, key) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "hub", "calendar", *args, "--db", str(db),
                           "--host", broker.host, "--port", str(broker.port), "--signing-key", key],
                          capture_output=True, text=True, timeout=60)


def _activity(ident: str, title: str, place: str, start: datetime, hours: int = 1) -> dict:
    return {"id": ident, "title": title, "place": place, "start": start.isoformat(),
            "end": (start + timedelta(hours=hours)).isoformat(), "capacity": 20}


def _retained_calendar(broker) -> bytes:
    out = subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", "yizhan/v1/#",
                          "--retained-only", "-C", "1", "-W", "10", "-v"], capture_output=True, timeout=30)
    topic, _, payload = out.stdout.partition(b" ")
    assert b"calendar" in topic, out
    return payload.rstrip(b"\n")


def test_calendar_publish_refusals_and_counts(tmp_path, mosquitto):
    db, key = tmp_path / "hub.sqlite3", write_key(tmp_path / "hub-signing.key")
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    good = {"activities": [_activity("talk", "健康讲座", "活动室", soon),
                           _activity("law", "法律咨询日", "大厅", soon)]}
    (tmp_path / "good.json").write_text(json.dumps(good, ensure_ascii=False), encoding="utf-8")

    out = _cli("publish", str(tmp_path / "good.json"), db=db, broker=mosquitto, key=key)
    assert out.returncode == 0, out.stderr
    assert "published calendar version 1" in out.stdout
    doc = decode_document(_retained_calendar(mosquitto), "calendar", public_key=public_key_from_hex(HUB_PUBLIC))
    assert (doc.version, [a["id"] for a in doc.body["activities"]]) == (1, ["talk", "law"])

    overlapping = {"activities": [*good["activities"],
                                  _activity("dance", "广场舞", "活动室", soon + timedelta(minutes=30))]}
    moved_to_past = {"activities": [_activity("talk", "健康讲座", "活动室", soon - timedelta(days=10)),
                                    good["activities"][1]]}
    for name, body, says in (("overlap", overlapping, "overlaps"), ("past", moved_to_past, "in the past")):
        (tmp_path / f"{name}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        out = _cli("publish", str(tmp_path / f"{name}.json"), db=db, broker=mosquitto, key=key)
        assert out.returncode == 2 and "not published" in out.stderr and says in out.stderr, out.stderr
    (tmp_path / "broken.json").write_text("{\"activities\": [", encoding="utf-8")
    out = _cli("publish", str(tmp_path / "broken.json"), db=db, broker=mosquitto, key=key)
    assert out.returncode == 2 and "not published" in out.stderr and "Traceback" not in out.stderr

    store = HubStore(str(db))
    try:
        version, body = current(store, "calendar")
    finally:
        store.close()
    assert (version, body) == (1, good)                                  # the refusals changed nothing

    out = _cli("counts", "--month", soon.strftime("%Y-%m"), db=db, broker=mosquitto, key=key)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"sessions": 0, "attendances": 0}            # no one has attended yet
    out = _cli("counts", "--month", "2026-13", db=db, broker=mosquitto, key=key)
    assert out.returncode == 2 and "YYYY-MM" in out.stderr
