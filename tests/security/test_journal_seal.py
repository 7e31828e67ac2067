"""Issue 27, item 5: a journal damaged while the kiosk was stopped is refused at every start.

The kiosk ran ``PRAGMA quick_check`` only on the first start of a UTC day or after an unclean stop,
so a journal damaged after a clean stop earlier the same day (random bytes mid-file, a flipped last
page) was opened and used silently, though ``yizhan sync`` refused it. Now a clean stop seals the
file (size and CRC-32, ``kiosk.journal_seal``) and every start compares: each damaged shape the
sync path's check refuses is refused by the kiosk too, and the file is left byte for byte as it was.
"""
from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys

import pytest

from kiosk.journal import Journal, JournalCorrupt, verify_journal
from kiosk.journal_seal import seal_path
from kiosk.records import ConsentDecision, Visit

PAGE = 4096


def _journal(tmp_path):
    """A real journal closed cleanly today (so the daily check and the unclean-stop check are done)."""
    path = tmp_path / Journal.FILENAME
    with Journal(path, "st-seal") as journal:
        for i in range(600):
            journal.append(Visit(person_key=f"{i:064x}", source="idcard", role="resident", age_band="70-79"))
    with Journal(path, "st-seal") as journal:                  # a second start the same day, no damage
        assert journal.seal_intact and not journal.integrity_checked
    assert seal_path(path).exists()
    return path


def _damage(path, shape: str) -> None:
    raw = bytearray(path.read_bytes())
    pages = len(raw) // PAGE
    rng = random.Random(27)
    if shape == "random_bytes_mid_file":
        at = (pages // 2) * PAGE + 700
        raw[at:at + 1500] = bytes(rng.randrange(256) for _ in range(1500))
    elif shape == "page_overwritten":
        raw[3 * PAGE:4 * PAGE] = b"\xa5" * PAGE
    elif shape == "page_zeroed":
        raw[(pages // 2) * PAGE:(pages // 2 + 1) * PAGE] = bytes(PAGE)
    elif shape == "last_page_flipped":
        raw[-PAGE:] = bytes(b ^ 0xFF for b in raw[-PAGE:])
    elif shape == "truncated_at_a_page":
        del raw[-2 * PAGE:]
    elif shape == "truncated_mid_page":
        del raw[-PAGE - 1000:]
    elif shape == "header_damaged":
        raw[16:100] = bytes(rng.randrange(256) for _ in range(84))
    elif shape == "schema_page_damaged":
        raw[100:PAGE] = bytes(rng.randrange(256) for _ in range(PAGE - 100))
    elif shape == "garbage":
        raw = bytearray(b"\0garbage" * 2048)
    else:
        raise AssertionError(shape)
    path.write_bytes(bytes(raw))


SHAPES = ["random_bytes_mid_file", "page_overwritten", "page_zeroed", "last_page_flipped", "truncated_at_a_page",
          "truncated_mid_page", "header_damaged", "schema_page_damaged", "garbage"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_journal_damaged_after_a_clean_stop_the_same_day_is_refused_at_the_next_start(tmp_path, shape):
    path = _journal(tmp_path)
    _damage(path, shape)
    before = path.read_bytes()
    with pytest.raises(JournalCorrupt):
        verify_journal(path)                                    # the sync path refuses this shape...
    with pytest.raises(JournalCorrupt, match="left untouched"):
        Journal(path, "st-seal")                                # ...and so does the kiosk's start
    assert path.read_bytes() == before
    with pytest.raises(JournalCorrupt):                         # and again at the start after that
        Journal(path, "st-seal")


def test_a_journal_changed_while_the_kiosk_was_stopped_is_checked_in_full_and_then_used(tmp_path):
    """A legitimate change after the stop (the publisher's last acks, a migration) fails the seal:
    the full check runs, passes, and the kiosk starts with every record."""
    path = _journal(tmp_path)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO meta (key, value) VALUES ('sync.last_ack', 'x') "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    con.commit()
    con.close()
    with Journal(path, "st-seal") as journal:
        assert not journal.seal_intact and journal.integrity_checked
        assert journal.count("visit") == 600


def test_without_a_seal_the_full_check_runs(tmp_path):
    path = _journal(tmp_path)
    seal_path(path).unlink()
    with Journal(path, "st-seal") as journal:
        assert journal.integrity_checked


def test_a_crash_leaves_no_seal_and_the_next_start_checks(tmp_path):
    path = _journal(tmp_path)
    journal = Journal(path, "st-seal")                          # the seal is taken at the start
    journal.append(ConsentDecision(person_key="c" * 64, granted=True))
    assert not seal_path(path).exists()
    journal._db.close()                                         # the process dies: no clean close
    with Journal(path, "st-seal") as again:
        assert again.integrity_checked and again.count("consent") == 1


def test_the_kiosk_command_refuses_a_journal_damaged_since_its_clean_stop(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = _journal(data)
    _damage(path, "last_page_flipped")
    before = path.read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    res = subprocess.run([sys.executable, "-m", "app.cli", "kiosk", "--demo", "--no-hub", "--data-dir", str(data),
                          "--tour", str(tmp_path / "tour")], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 3 and res.stderr.startswith("yizhan: ") and "left untouched" in res.stderr
    assert path.read_bytes() == before
