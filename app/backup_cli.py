"""``yizhan backup DIR`` and ``yizhan restore FILE``: the station journal to and from a USB stick or share.

    yizhan backup /media/usb --config /etc/yizhan/station.toml      # online: the kiosk may keep running
    yizhan backup /var/backups/yizhan --keep 14                       # the nightly timer's call
    yizhan backup /var/backups/yizhan-hub --hub-db /var/lib/yizhan-hub/hub.sqlite3
    yizhan restore /media/usb/yizhan-sh-pd-zj-001-20261130T020000Z.sqlite3 --config …

Exit codes: 0 done, 1 the backup or restore failed or was refused (message on stderr), 2 bad settings.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kiosk.backup import KIND_HUB, KIND_JOURNAL, BackupError, backup, prune, restore
from kiosk.journal import Journal
from kiosk.settings import ConfigError, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan backup`` and ``yizhan restore`` (the command name picks the action)."""
    parser.add_argument("path", help="backup: the directory to write into; restore: the backup file")
    parser.add_argument("--config", metavar="FILE", help="station file (default $YIZHAN_CONFIG, else config/station.toml here, else /etc/yizhan/station.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (overrides the settings)")
    parser.add_argument("--keep", type=int, default=0, metavar="N",
                        help="backup: afterwards delete all but the newest N backups of this station there")
    parser.add_argument("--hub-db", metavar="FILE", help="backup: a hub's SQLite file instead of the station journal")


def _settings(args: argparse.Namespace):
    env = dict(os.environ)
    if args.data_dir:
        env["YIZHAN_DATA_DIR"] = args.data_dir
    return load_settings(args.config, env=env)


def run(args: argparse.Namespace) -> int:
    """Run ``yizhan backup`` or ``yizhan restore``."""
    try:
        if args.command == "backup" and args.hub_db:
            manifest = backup(Path(args.hub_db), Path(args.path), station="hub", kind=KIND_HUB)
            gone = prune(args.path, "hub", args.keep) if args.keep else []
            print(f"hub backup {Path(args.path) / manifest.file}: {manifest.records} records, "
                  f"sha256 {manifest.sha256[:16]}…; {len(gone)} old backups removed")
            return 0
        try:
            settings = _settings(args)
        except ConfigError as exc:
            print("yizhan: the settings have problems:\n  " + "\n  ".join(exc.errors), file=sys.stderr)
            return 2
        station = settings.station.id
        if args.command == "backup":
            manifest = backup(settings.data_dir / Journal.FILENAME, Path(args.path), station=station,
                              kind=KIND_JOURNAL)
            gone = prune(args.path, station, args.keep) if args.keep else []
            print(f"backup {Path(args.path) / manifest.file}: station {station}, schema {manifest.schema_version}, "
                  f"{manifest.records} records, sha256 {manifest.sha256[:16]}…; {len(gone)} old backups removed")
            return 0
        manifest = restore(Path(args.path), settings.data_dir, station=station)
        print(f"restored {manifest.records} records of station {station} (schema {manifest.schema_version}, "
              f"backed up {manifest.created_at}) into {settings.data_dir}. Start the kiosk; records not yet "
              "acknowledged are sent again and the hub stores each once.")
        return 0
    except BackupError as exc:
        print(f"yizhan {args.command}: {exc}", file=sys.stderr)
        return 1
