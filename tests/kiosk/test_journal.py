"""Journal: WAL + synchronous=FULL, record + outbox in one transaction, immutability, idempotent ids,
migrations, and clear refusals for damaged, foreign or newer files."""
from __future__ import annotations

import sqlite3
import uuid

import pytest

from kiosk.journal import (SCHEMA_VERSION, Journal, JournalCorrupt, JournalTooNew, PrivacyViolation, connect)
from kiosk.records import ConsentDecision, PayloadError, Visit, payload_from_dict


def test_append_writes_record_and_outbox_row_with_a_monotonic_sequence(data_dir):
    with Journal(data_dir / "j.sqlite3", "st-1") as j:
        r1 = j.append(Visit("k1", "idcard", "resident")).record
        r2 = j.append(ConsentDecision("k1", True)).record
        assert (r1.seq, r2.seq) == (1, 2)
        assert uuid.UUID(r1.id) and r1.station_id == "st-1"
        assert j.pending_count() == 2
        assert [r.payload for r in j.records()] == [r1.payload, r2.payload]
        assert j.records("consent", where={"person_key": "k1"})[0].payload.granted is True
    db = connect(data_dir / "j.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    assert db.execute("SELECT count(*) FROM outbox o JOIN records r ON r.id = o.record_id").fetchone()[0] == 2


def test_records_are_immutable(data_dir):
    with Journal(data_dir / "j.sqlite3", "st-1") as j:
        j.append(Visit("k1", "idcard", "resident"))
    db = connect(data_dir / "j.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        db.execute("UPDATE records SET kind = 'x'")


def test_deterministic_ids_make_appends_idempotent(data_dir):
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, "st-1/device-123/2026-11-22T08:00"))
    with Journal(data_dir / "j.sqlite3", "st-1") as j:
        first = j.append(Visit("k1", "pcsc", "volunteer"), record_id=rid)
        second = j.append(Visit("k1", "pcsc", "volunteer"), record_id=rid)
        assert first.created and not second.created
        assert second.record == first.record
        assert j.count() == 1 and j.pending_count() == 1


def test_a_full_id_number_is_refused_and_nothing_is_written(data_dir):
    with Journal(data_dir / "j.sqlite3", "st-1") as j:
        with pytest.raises(PrivacyViolation):
            j.append(Visit("11010519491231002X", "idcard", "resident"))
        assert j.count() == 0 and j.pending_count() == 0


def test_newer_schema_is_refused_untouched(data_dir):
    path = data_dir / "j.sqlite3"
    Journal(path, "st-1").close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalTooNew, match="newer"):
        Journal(path, "st-1")
    assert path.read_bytes() == before


def test_corrupt_and_foreign_files_are_refused_untouched(data_dir):
    garbage = data_dir / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalCorrupt, match="left untouched"):
        Journal(garbage, "st-1")
    assert garbage.read_bytes() == b"this is not a database" * 100

    foreign = data_dir / "foreign.sqlite3"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE accounts (x)")
    db.commit()
    db.close()
    with pytest.raises(JournalCorrupt, match="not a Yizhan journal"):
        Journal(foreign, "st-1")


def test_payloads_round_trip_and_bad_payloads_are_typed_errors():
    assert payload_from_dict("visit", {"person_key": "k", "source": "qr", "role": "resident"}) == Visit("k", "qr", "resident")
    for bad in ({"person_key": "k"}, {"person_key": 1, "source": "qr", "role": "r"},
                {"person_key": "k", "source": "qr", "role": "r", "extra": 1}, []):
        with pytest.raises(PayloadError):
            payload_from_dict("visit", bad)


def test_a_consent_withdrawal_erases_the_persons_health_payloads_and_nothing_else(tmp_path):
    """The journal stays append-only: a health record's payload may become an erasure tombstone,
    once; its id, sequence and time stay; no other record can change; readers skip tombstones;
    the old values are not left in the file."""
    import sqlite3

    from drivers.readings import BloodPressureReading, DeviceInfo
    from kiosk.health import assess_bp
    from kiosk.health_records import record_measurement
    from kiosk.identity import IdentityService  # noqa: F401  (the service wraps this; tested in flows)
    from kiosk.records import ConsentWithdrawn, Visit

    path = tmp_path / "j.sqlite3"
    with Journal(path, "st-1") as journal:
        mine, _ = record_measurement(journal, "a" * 64, BloodPressureReading(151, 97, 70, DeviceInfo("d", "D")),
                                     assess_bp(151, 97), station_id="st-1")
        other, _ = record_measurement(journal, "b" * 64, BloodPressureReading(122, 78, 70, DeviceInfo("d", "D")),
                                      assess_bp(122, 78), station_id="st-1")
        visit = journal.append(Visit(person_key="a" * 64, source="demo", role="resident")).record
        withdrawal = journal.append(ConsentWithdrawn(person_key="a" * 64, erased_count=1)).record
        assert journal.erase_person("a" * 64, withdrawal.id) == 1
        assert journal.erase_person("a" * 64, withdrawal.id) == 0            # idempotent
        assert journal.get(mine.id) is None and journal.get(other.id) is not None
        assert [r.id for r in journal.records("bp_measurement")] == [other.id]
        assert journal.count("bp_measurement") == 1 and journal.get(visit.id) is not None
        assert journal.records("consent_withdrawn", where={"person_key": "a" * 64})    # the withdrawal stays
        db = sqlite3.connect(path)
        try:
            row = db.execute("SELECT seq, kind, payload FROM records WHERE id = ?", (mine.id,)).fetchone()
            assert row[0] == mine.seq and row[1] == "bp_measurement" and "151" not in row[2]
            for sql in ("UPDATE records SET payload = '{}' WHERE id = ?",                      # not a tombstone
                        "UPDATE records SET payload = json_object('erased', 'x') WHERE id = ?"):   # a visit
                target = mine.id if "'{}'" in sql else visit.id
                try:
                    db.execute(sql, (target,))
                    raise AssertionError(f"the journal allowed {sql}")
                except sqlite3.IntegrityError as exc:
                    assert "immutable" in str(exc)
        finally:
            db.close()
    raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                               if path.with_name(path.name + "-wal").exists() else b"")
    assert b'"systolic": 151' not in raw and b'"systolic":151' not in raw
