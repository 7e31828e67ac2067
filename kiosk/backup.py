"""Online backup and restore of a SQLite database (the station journal, or a hub's SQLite file).

:func:`backup` copies the database with SQLite's online backup API in one step, so the copy is one
consistent snapshot even while the kiosk keeps writing (WAL readers never block the writer). Next
to the copy it writes a manifest (``<name>.json``: format, kind, station, schema version, record
count, SHA-256, time) and a ``<name>.sha256`` file that ``sha256sum -c`` understands.

:func:`restore` checks the checksum, refuses another station's backup and a backup whose schema is
newer than this version understands, refuses to overwrite an existing journal, and only then puts
the copy in place (written to a temporary name, synced, checked, renamed). No Kivy, no MQTT.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from kiosk.journal import SCHEMA_VERSION, Journal

#: Version of the manifest format.
MANIFEST_FORMAT = 1
KIND_JOURNAL = "journal"
KIND_HUB = "hub-sqlite"


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


class BackupRefused(BackupError):
    """The backup does not belong here (another station, a newer schema, a journal already there)."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds; written beside it as JSON."""

    format: int
    kind: str
    station: str
    schema_version: int
    records: int
    sha256: str
    created_at: str
    file: str


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BackupError(f"{path} does not exist; nothing to back up")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        return db
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from exc


def _describe(db: sqlite3.Connection, kind: str) -> tuple[int, int, set[str]]:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if kind == KIND_JOURNAL:
        records = db.execute("SELECT count(*) FROM records").fetchone()[0]
        stations = {r[0] for r in db.execute("SELECT DISTINCT station_id FROM records")}
    else:
        records = db.execute("SELECT count(*) FROM hub_records").fetchone()[0]
        stations = set()
    return version, records, stations


def backup(source: Path | str, dest_dir: Path | str, *, station: str, kind: str = KIND_JOURNAL,
           now: datetime | None = None) -> Manifest:
    """Copy ``source`` into ``dest_dir`` as one consistent snapshot, with manifest and checksum.

    Args:
        source: the live database (it may be written to meanwhile).
        dest_dir: a directory (a mounted USB stick, a network share); created if missing.
        station: the station id written into the manifest ("hub" for a hub database).
        kind: :data:`KIND_JOURNAL` or :data:`KIND_HUB`.

    Returns:
        The manifest written beside the copy.

    Raises:
        BackupError: the source cannot be read or the destination cannot be written.
    """
    source, dest_dir = Path(source), Path(dest_dir)
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    name = f"yizhan-{station}-{stamp.strftime('%Y%m%dT%H%M%SZ')}.sqlite3"
    target = dest_dir / name
    partial = dest_dir / (name + ".partial")
    src = _open_readonly(source)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise BackupError(f"{target} already exists; wait a second and run the backup again")
        partial.unlink(missing_ok=True)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)            # one step: a single read transaction, a consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")
            version, records, stations = _describe(dst, kind)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write the backup to {dest_dir}: {exc.strerror or exc}") from exc
    finally:
        src.close()
    if stations - {station}:
        partial.unlink(missing_ok=True)
        raise BackupRefused(f"{source} holds records of {', '.join(sorted(stations - {station}))}, "
                            f"not only of station {station}; check the settings' station id")
    _fsync(partial)
    partial.replace(target)
    digest = sha256_file(target)
    manifest = Manifest(MANIFEST_FORMAT, kind, station, version, records, digest,
                        stamp.isoformat(timespec="seconds"), name)
    _write_synced(target.with_name(name + ".sha256"), f"{digest}  {name}\n")
    _write_synced(manifest_path(target), json.dumps(asdict(manifest), indent=1) + "\n")
    return manifest


def manifest_path(backup_file: Path) -> Path:
    """Where the manifest of a backup file lives."""
    return backup_file.with_name(backup_file.name + ".json")


def read_manifest(backup_file: Path | str) -> Manifest:
    """The manifest beside a backup file.

    Raises:
        BackupError: missing or malformed.
    """
    path = manifest_path(Path(backup_file))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(**{k: doc[k] for k in Manifest.__dataclass_fields__})
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: a backup is only restored with its manifest") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} is not a Yizhan backup manifest ({exc})") from exc


def verify(backup_file: Path | str) -> Manifest:
    """Check a backup against its manifest (checksum, kind, integrity).

    Raises:
        BackupError: the file is missing, damaged or does not match its manifest.
    """
    backup_file = Path(backup_file)
    manifest = read_manifest(backup_file)
    if manifest.format > MANIFEST_FORMAT:
        raise BackupRefused(f"{backup_file} was written by a newer Yizhan (manifest format {manifest.format})")
    if not backup_file.is_file():
        raise BackupError(f"{backup_file} does not exist")
    digest = sha256_file(backup_file)
    if digest != manifest.sha256:
        raise BackupError(f"{backup_file} is damaged: its SHA-256 is {digest[:16]}…, the manifest says "
                          f"{manifest.sha256[:16]}…. Use another backup.")
    return manifest


def restore(backup_file: Path | str, data_dir: Path | str, *, station: str) -> Manifest:
    """Put a journal backup in place as ``<data_dir>/journal.sqlite3``.

    Raises:
        BackupRefused: another station's backup, a newer schema, a hub backup, or a journal
            already in ``data_dir`` (nothing is changed).
        BackupError: the backup is damaged or the data directory is not writable.
    """
    backup_file, data_dir = Path(backup_file), Path(data_dir)
    manifest = verify(backup_file)
    if manifest.kind != KIND_JOURNAL:
        raise BackupRefused(f"{backup_file} is a {manifest.kind} backup, not a station journal")
    if manifest.station != station:
        raise BackupRefused(f"{backup_file} is the journal of station {manifest.station}, not of {station}. "
                            "Set the station id in the settings first, or pick this station's backup.")
    if manifest.schema_version > SCHEMA_VERSION:
        raise BackupRefused(f"{backup_file} has journal schema {manifest.schema_version}, newer than this "
                            f"Yizhan understands ({SCHEMA_VERSION}). Install the newer Yizhan first.")
    target = data_dir / Journal.FILENAME
    for existing in (target, target.with_name(target.name + "-wal")):
        if existing.exists():
            raise BackupRefused(f"{existing} already exists; it was not touched. Stop the kiosk and move the "
                                "data directory aside (or restore into an empty one).")
    partial = target.with_name(target.name + ".restoring")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with backup_file.open("rb") as src, partial.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if sha256_file(partial) != manifest.sha256:
            raise BackupError(f"copying {backup_file} to {data_dir} changed it; check the disk")
        db = sqlite3.connect(partial)
        try:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            stations = {r[0] for r in db.execute("SELECT DISTINCT station_id FROM records")}
        finally:
            db.close()
        if check != "ok":
            raise BackupError(f"{backup_file} fails SQLite's integrity check ({check}); use another backup")
        if stations - {station}:
            raise BackupRefused(f"{backup_file} holds records of {', '.join(sorted(stations))}, not of {station}")
        partial.replace(target)
    except OSError as exc:
        raise BackupError(f"cannot write to {data_dir}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return manifest


def prune(dest_dir: Path | str, station: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``station`` in ``dest_dir``; returns what went."""
    files = sorted(Path(dest_dir).glob(f"yizhan-{station}-*.sqlite3"))
    gone = files[:-keep] if keep > 0 else []
    for f in gone:
        for p in (f, manifest_path(f), f.with_name(f.name + ".sha256")):
            p.unlink(missing_ok=True)
    return gone
