"""A writer SIGKILLed at random moments: every record whose append returned is there, intact."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from kiosk.journal import Journal

pytestmark = pytest.mark.slow

ROUNDS = 20


def test_records_survive_sigkill_at_random_moments(data_dir):
    path = data_dir / "journal.sqlite3"
    rng = random.Random(2026)
    confirmed: dict[str, tuple[int, int]] = {}
    for _ in range(ROUNDS):
        proc = subprocess.Popen([sys.executable, "-m", "tests.kiosk.journal_writer", str(path), "st-1"],
                                stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
        # Kill only once the writer is writing (its first confirmed record is in), however slowly
        # this machine started it; then at a random moment of its work.
        first = proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        for line in [first, *out.splitlines()]:
            parts = line.split()
            if len(parts) == 3:                       # a torn last line was never confirmed
                confirmed[parts[0]] = (int(parts[1]), int(parts[2]))
    assert len(confirmed) >= ROUNDS                   # every round confirmed at least one record
    with Journal(path, "st-1") as journal:
        for rid, (seq, i) in confirmed.items():
            record = journal.get(rid)
            assert record is not None, f"confirmed record {rid} lost"
            assert record.seq == seq and record.payload.person_key == f"key-{i:06d}"
        seqs = [r.seq for r in journal.records(limit=10**6)]
        assert seqs == list(range(1, len(seqs) + 1))   # no gaps, no duplicates
        assert journal.pending_count() == len(seqs)     # every record has its outbox row
