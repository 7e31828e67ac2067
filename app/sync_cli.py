"""``yizhan sync --data-dir DIR [--config FILE]``: run the outbox publisher alone.

It runs until SIGINT/SIGTERM, then publishes ``offline`` and exits; rows not yet acknowledged stay
in the journal's outbox for the next run. A missing, empty, damaged or newer journal is refused at
start, like the kiosk does, and left byte for byte as it was (exit code 3).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from kiosk.journal import Journal, JournalError, verify_journal
from kiosk.outbox import OutboxError
from kiosk.settings import ConfigError, load_settings
from sync.publisher import Publisher


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan sync``."""
    parser.add_argument("--data-dir", required=True, help="the kiosk data directory (journal.sqlite3 inside)")
    parser.add_argument("--config", help="station settings file (default $YIZHAN_CONFIG, else config/station.toml here, else /etc/yizhan/station.toml)")
    parser.add_argument("--demo", action="store_true", help="use the demo settings")
    parser.add_argument("--batch-size", type=int, default=None, help="records per message (default: [sync] batch_size)")
    parser.add_argument("--window", type=int, default=4, help="batches in flight at once (1: strictly one by one)")
    parser.add_argument("--reconnect-max", type=float, default=30.0,
                        help="longest wait between reconnect attempts, seconds (backoff doubles up to it)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every resend")


def run(args: argparse.Namespace) -> int:
    """Run the publisher until interrupted; returns the exit code."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ, YIZHAN_DATA_DIR=str(args.data_dir))
    try:
        # The publisher uses only the broker password, which may be empty: no secret is required.
        settings = load_settings(args.config, demo=args.demo, env=env, need=frozenset())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.sync.enabled:
        print("sync is disabled: set [sync] enabled = true in the station settings", file=sys.stderr)
        return 2
    try:
        verify_journal(settings.data_dir / Journal.FILENAME)
    except JournalError as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        return 3
    try:
        publisher = Publisher(settings, batch_size=args.batch_size, reconnect_max_s=args.reconnect_max,
                              window=args.window)
    except OutboxError as exc:
        print(f"cannot open the outbox: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    publisher.start()
    print(f"sync: station {settings.station.id} -> {settings.sync.host}:{settings.sync.port} "
          f"({publisher.status().queue_depth} records queued)", flush=True)
    while not stop.wait(1.0):
        pass
    publisher.stop()
    status = publisher.status()
    refused = f", {status.rejected} refused by the hub (see yizhan hub dead-letters)" if status.rejected else ""
    print(f"sync: stopped, {status.queue_depth} records still queued{refused}", flush=True)
    return 0
