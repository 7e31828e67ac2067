"""``yizhan migrate DATA_DIR [--backup-dir DIR]``: bring a journal's schema up to date (package upgrades).

It needs no settings or secrets, so the package's ``postinst`` can run it before the kiosk starts.
A journal that needs migrating is first backed up (online backup, manifest, checksum) into
``--backup-dir``; a journal newer than this version understands is refused and left untouched.

Exit codes: 0 up to date (or no journal yet), 1 refused or failed (message on stderr).
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from kiosk.backup import BackupError, backup
from kiosk.journal import SCHEMA_VERSION, Journal, JournalError, connect, migrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan migrate``."""
    parser.add_argument("data_dir", help="the data directory holding journal.sqlite3")
    parser.add_argument("--backup-dir", metavar="DIR", help="back the journal up here first when it needs migrating")


def _read(path: Path) -> tuple[int, str | None]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        has_records = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'records'").fetchone()[0]
        row = db.execute("SELECT station_id FROM records LIMIT 1").fetchone() if has_records else None
    finally:
        db.close()
    return version, row[0] if row else None


def run(args: argparse.Namespace) -> int:
    """Back up if needed, then migrate."""
    path = Path(args.data_dir) / Journal.FILENAME
    if not path.exists():
        print(f"no journal at {path}; the kiosk creates it on first start")
        return 0
    try:
        version, station = _read(path)
        if version > SCHEMA_VERSION:
            print(f"yizhan migrate: {path} has schema {version}, newer than this Yizhan ({SCHEMA_VERSION}); "
                  "it was left untouched. Install the newer Yizhan again.", file=sys.stderr)
            return 1
        if version == SCHEMA_VERSION:
            print(f"journal {path} is up to date (schema {version})")
            return 0
        if args.backup_dir and station:
            manifest = backup(path, Path(args.backup_dir), station=station)
            print(f"backed up to {Path(args.backup_dir) / manifest.file} before migrating")
        db = connect(path)
        try:
            found = migrate(db, path)
        finally:
            db.close()
    except (sqlite3.Error, JournalError, BackupError) as exc:
        print(f"yizhan migrate: {exc}", file=sys.stderr)
        return 1
    print(f"journal {path} migrated from schema {found} to {SCHEMA_VERSION}")
    return 0
