"""Issue 22 item 8: one order across scopes (the document issued last wins; an older one is refused
whatever its scope) and expiry (the kiosk keeps the last good document and says so to staff)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kiosk.documents import expired_documents
from sync.documents import decode_document, expiry_of, make_document
from sync.downlink import DownlinkStore, current_documents
from sync.messages import ALL_STATIONS
from sync.publisher import LINE_EXPIRED, SyncStatus
from tests.support.signing import HUB_KEY, HUB_PUBLIC, signed

CATALOG = {"services": [{"id": "haircut", "name": "理发"}]}
NEWER = {"services": [{"id": "haircut", "name": "理发（新）"}]}


def _doc(version: int, scope: str, issued: datetime, body=None, expires: str | None = None):
    stamp = issued.isoformat(timespec="milliseconds")
    return signed(make_document("catalog", version, scope, stamp, body or CATALOG,
                                expiry_of("catalog", stamp) if expires is None else expires))


def test_an_old_station_document_does_not_outrank_a_newer_district_one(tmp_path):
    """Before: a genuinely signed station-scoped document (say version 1, issued last month, replayed
    from a captured retained message) outranked a newer ``_all`` one whatever its date."""
    now = datetime.now(timezone.utc)
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    assert store.apply("catalog", ALL_STATIONS, _doc(7, ALL_STATIONS, now - timedelta(hours=1), NEWER)).applied
    old = store.apply("catalog", "st-a", _doc(1, "st-a", now - timedelta(days=30)))
    assert not old.applied and "before the applied one" in old.reason
    assert current_documents(tmp_path)["catalog"]["body"] == NEWER
    newest = store.apply("catalog", "st-a", _doc(2, "st-a", now - timedelta(minutes=5)))
    assert newest.applied and current_documents(tmp_path)["catalog"]["scope"] == "st-a"     # newest wins


def test_a_document_past_its_expiry_is_kept_and_staff_are_told(tmp_path):
    now = datetime.now(timezone.utc)
    issued = now - timedelta(days=100)
    store = DownlinkStore(tmp_path, "st-a", HUB_PUBLIC)
    raw = _doc(3, ALL_STATIONS, issued)
    assert decode_document(raw, public_key=HUB_KEY.public_key()).expires == expiry_of("catalog", issued.isoformat(
        timespec="milliseconds"))
    assert store.apply("catalog", ALL_STATIONS, raw).applied
    assert store.expired() == ["catalog"] and expired_documents(tmp_path, now - timedelta(days=20)) == []
    assert current_documents(tmp_path)["catalog"]["body"] == CATALOG           # still in use
    status = SyncStatus(True, True, 0, 0, None, None, expired=tuple(store.expired()))
    assert status.line == LINE_EXPIRED
