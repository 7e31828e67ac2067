"""Journal backup and restore: online while a writer process appends, refused when foreign or newer."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from pathlib import Path

import pytest

from app.cli import main as yizhan
from kiosk.backup import BackupError, BackupRefused, backup, read_manifest, restore
from kiosk.journal import SCHEMA_VERSION, Journal
from kiosk.records import Visit
from kiosk.settings import hash_pin

PIN_HASH = hash_pin("246813")      # admin PINs have 6-12 digits and are stored hashed (issue 11)

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT id, station_id, seq, kind, created_at, payload FROM records ORDER BY seq").fetchall()
    finally:
        db.close()


def _station_file(tmp_path: Path, data_dir: Path, station: str = "st-a") -> Path:
    secrets = tmp_path / f"secrets-{station}.toml"
    secrets.write_text(f'district_key = "{"ab" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\n')
    secrets.chmod(0o600)
    cfg = tmp_path / f"{station}.toml"
    cfg.write_text(f'version = 1\n[station]\nid = "{station}"\n[paths]\ndata_dir = "{data_dir}"\n'
                   f'secrets_file = "{secrets}"\n')
    return cfg


def test_backup_while_writing_restores_identical_journal(tmp_path, capsys):
    live = tmp_path / "live"
    live.mkdir()
    journal = live / Journal.FILENAME
    writer = subprocess.Popen([sys.executable, "-m", "tests.kiosk.journal_writer", str(journal), "st-a"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(200):                      # the writer is well under way
            writer.stdout.readline()
        assert yizhan(["backup", str(tmp_path / "usb"), "--config", str(_station_file(tmp_path, live))]) == 0
        for _ in range(200):                      # and kept writing after the backup
            writer.stdout.readline()
    finally:
        writer.kill()
        writer.wait()
    copy = next((tmp_path / "usb").glob("yizhan-st-a-*.sqlite3"))
    manifest = read_manifest(copy)
    assert manifest.station == "st-a" and manifest.schema_version == SCHEMA_VERSION
    assert (copy.parent / (copy.name + ".sha256")).read_text().split()[0] == manifest.sha256
    assert 200 <= manifest.records < len(_rows(journal))

    new_dir = tmp_path / "new-pc"
    assert yizhan(["restore", str(copy), "--config", str(_station_file(tmp_path, new_dir))]) == 0
    restored = _rows(new_dir / Journal.FILENAME)
    assert restored == _rows(copy)
    assert len(restored) == manifest.records
    assert restored == _rows(journal)[:len(restored)]          # a prefix of what the kiosk kept writing
    with Journal(new_dir / Journal.FILENAME, "st-a") as j:     # the kiosk opens it and goes on
        assert j.append(Visit(person_key="k-next", source="demo", role="resident")).record.seq == len(restored) + 1
    assert "restored" in capsys.readouterr().out


@pytest.fixture()
def one_backup(tmp_path):
    with Journal(tmp_path / "src" / Journal.FILENAME, "st-a") as j:
        j.append(Visit(person_key="k1", source="demo", role="resident"))
    manifest = backup(tmp_path / "src" / Journal.FILENAME, tmp_path / "usb", station="st-a")
    return tmp_path / "usb" / manifest.file


def test_restore_refuses_a_foreign_station(one_backup, tmp_path, capsys):
    target = tmp_path / "b"
    assert yizhan(["restore", str(one_backup), "--config", str(_station_file(tmp_path, target, "st-b"))]) == 1
    assert "station st-a, not of st-b" in capsys.readouterr().err
    assert not (target / Journal.FILENAME).exists()


def test_restore_refuses_a_newer_backup_and_an_existing_journal(one_backup, tmp_path):
    db = sqlite3.connect(one_backup)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    manifest_file = one_backup.with_name(one_backup.name + ".json")
    doc = json.loads(manifest_file.read_text())
    with pytest.raises(BackupError, match="damaged"):          # the checksum notices the edit
        restore(one_backup, tmp_path / "x", station="st-a")
    from kiosk.backup import sha256_file
    doc.update(schema_version=SCHEMA_VERSION + 1, sha256=sha256_file(one_backup))
    manifest_file.write_text(json.dumps(doc))
    with pytest.raises(BackupRefused, match="newer than this Yizhan"):
        restore(one_backup, tmp_path / "x", station="st-a")
    assert not (tmp_path / "x" / Journal.FILENAME).exists()


def test_restore_never_overwrites_a_journal(one_backup, tmp_path):
    existing = tmp_path / "src" / Journal.FILENAME
    before = existing.read_bytes()
    with pytest.raises(BackupRefused, match="already exists"):
        restore(one_backup, tmp_path / "src", station="st-a")
    assert existing.read_bytes() == before


def test_prune_keeps_the_newest(tmp_path):
    from datetime import datetime, timedelta, timezone

    from kiosk.backup import prune
    with Journal(tmp_path / Journal.FILENAME, "st-a"):
        pass
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for day in range(4):
        backup(tmp_path / Journal.FILENAME, tmp_path / "b", station="st-a", now=t0 + timedelta(days=day))
    gone = prune(tmp_path / "b", "st-a", keep=2)
    assert [p.name for p in gone] == ["yizhan-st-a-20261101T000000Z.sqlite3", "yizhan-st-a-20261102T000000Z.sqlite3"]
    assert len(list((tmp_path / "b").iterdir())) == 6        # 2 backups x (file, manifest, checksum)



def test_migrate_refuses_a_newer_journal_and_leaves_it_alone(tmp_path, capsys):
    import hashlib
    with Journal(tmp_path / Journal.FILENAME, "st-a") as j:
        j.append(Visit(person_key="k1", source="demo", role="resident"))
    db = sqlite3.connect(tmp_path / Journal.FILENAME)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = hashlib.sha256((tmp_path / Journal.FILENAME).read_bytes()).hexdigest()
    assert yizhan(["migrate", str(tmp_path), "--backup-dir", str(tmp_path / "b")]) == 1
    assert "newer than this Yizhan" in capsys.readouterr().err
    assert hashlib.sha256((tmp_path / Journal.FILENAME).read_bytes()).hexdigest() == before
    assert not (tmp_path / "b").exists()
    assert yizhan(["migrate", str(tmp_path / "none")]) == 0 and "no journal" in capsys.readouterr().out
