"""Shared pieces of the sync tests: station settings files, journals, publisher and hub processes."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk.journal import Journal
from kiosk.records import AdminEvent, Visit
from tests.support.services import stop_pid, wait_for
from tests.support.signing import HUB_PUBLIC

DISTRICT_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
ENV = {"YIZHAN_DISTRICT_KEY": DISTRICT_KEY, "YIZHAN_ADMIN_PIN": "246813"}
ROOT = Path(__file__).resolve().parents[2]


def station_config(path: Path, station: str, port: int, *, ack_timeout_s: float = 1.0, batch_size: int = 10,
                   extra: str = "") -> Path:
    """Write a station settings file pointing at a local broker."""
    path.write_text(f"""version = 1
[station]
id = "{station}"
[sync]
enabled = true
host = "127.0.0.1"
port = {port}
ack_timeout_s = {ack_timeout_s}
batch_size = {batch_size}
keepalive_s = 5
document_public_key = "{HUB_PUBLIC}"
{extra}
""")
    return path


def load(config: Path, data_dir: Path):
    """Settings from a station file with test secrets."""
    from kiosk.settings import load_settings
    return load_settings(config, env={**ENV, "YIZHAN_DATA_DIR": str(data_dir)})


def fill_journal(data_dir: Path, station: str, n: int, urgent_every: int = 0) -> list[str]:
    """Journal ``n`` visit records (every ``urgent_every``-th an urgent admin event); returns their ids."""
    ids = []
    with Journal(data_dir / Journal.FILENAME, station) as journal:
        for i in range(n):
            if urgent_every and i % urgent_every == urgent_every - 1:
                res = journal.append(AdminEvent(action="alert", detail=f"urgent {i}"), priority=10)
            else:
                res = journal.append(Visit(person_key=f"{i:064x}", source="idcard", role="resident"))
            ids.append(res.record.id)
    return ids


def outbox_depth(data_dir: Path) -> int:
    """Unacknowledged outbox rows of a kiosk journal."""
    con = sqlite3.connect(data_dir / Journal.FILENAME, timeout=10)
    try:
        return con.execute("SELECT count(*) FROM outbox WHERE state != 'acked'").fetchone()[0]
    finally:
        con.close()


def hub_rows(db: Path, station: str | None = None) -> list[tuple[str, int]]:
    """(id, seq) of every record the hub stored (for one station)."""
    con = sqlite3.connect(db, timeout=10)
    try:
        if station:
            return con.execute("SELECT id, seq FROM hub_records WHERE station = ?", (station,)).fetchall()
        return con.execute("SELECT id, seq FROM hub_records").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def assert_exactly_once(db: Path, station: str, ids: list[str]) -> None:
    """The hub holds every record id exactly once and every seq 1..n once."""
    rows = hub_rows(db, station)
    got = [r[0] for r in rows]
    assert len(got) == len(set(got)), "a record id is stored twice"
    assert set(got) == set(ids), f"missing {len(set(ids) - set(got))}, unexpected {len(set(got) - set(ids))}"
    seqs = sorted(r[1] for r in rows)
    assert seqs == list(range(1, len(ids) + 1)), "sequence numbers are missing or doubled"


class PublisherProcess:
    """``yizhan sync`` as a child process (stopped by PID)."""

    def __init__(self, data_dir: Path, config: Path, *extra: str) -> None:
        self.cmd = [sys.executable, "-m", "app.cli", "sync", "--data-dir", str(data_dir), "--config", str(config),
                    "--reconnect-max", "2", *extra]
        self.log = data_dir / "publisher.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> PublisherProcess:
        """Start it; returns once it printed its start line."""
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
                                         env={**os.environ, **ENV, "PYTHONUNBUFFERED": "1"})
        line = self.proc.stdout.readline()
        assert line.startswith("sync:"), f"publisher did not start: {line!r} {self.log.read_text()[-2000:]}"
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no offline message from the process itself."""
        if self.proc:
            stop_pid(self.proc, sig=signal.SIGKILL)
            self.proc.stdout.close()
            self.proc = None

    def stop(self) -> None:
        """SIGTERM, as an operator would."""
        if self.proc:
            stop_pid(self.proc)
            self.proc.stdout.close()
            self.proc = None


def wait_drained(data_dir: Path, db: Path, station: str, n: int, timeout: float = 60.0) -> bool:
    """Wait until the hub holds ``n`` records of the station and the kiosk has nothing unacknowledged."""
    return wait_for(lambda: len(hub_rows(db, station)) >= n and outbox_depth(data_dir) == 0, timeout, 0.05)


def settle(seconds: float) -> None:
    """Let background traffic happen (never a pass/fail criterion)."""
    time.sleep(seconds)
