"""The journal's costs follow today's work: lookups by index, integrity checks when they are due."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from kiosk.journal import INDEXED_FIELDS, SCHEMA_VERSION, Journal, JournalCorrupt
from kiosk.records import ConsentDecision, Visit
from tests.sync.helpers import ROOT


def _crash_after_open(path) -> None:
    """Open the journal in another process and die without closing it (a power cut)."""
    code = f"import os; from kiosk.journal import Journal; Journal({str(path)!r}, 'st-1'); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_quick_check_runs_on_the_first_open_of_a_day_and_after_an_unclean_shutdown(tmp_path):
    path = tmp_path / Journal.FILENAME
    with Journal(path, "st-1") as j:
        assert j.integrity_checked                               # a new file is checked
        j.append(Visit("k" * 64, "qr", "resident"))
    with Journal(path, "st-1") as j:
        assert not j.integrity_checked                           # closed cleanly, checked today: skipped
    _crash_after_open(path)
    with Journal(path, "st-1") as j:
        assert j.integrity_checked                               # the last session did not close
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '2000-01-01' WHERE key = 'journal.checked_on'")
    con.commit()
    con.close()
    with Journal(path, "st-1") as j:
        assert j.integrity_checked                               # a new day
        assert j.count() == 1


@pytest.mark.slow
def test_a_journal_damaged_before_an_unclean_shutdown_is_refused_untouched(tmp_path):
    path = tmp_path / Journal.FILENAME
    with Journal(path, "st-1") as j:
        for i in range(3000):
            j.append(Visit(f"{i:064x}", "qr", "resident"))
    _crash_after_open(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records_kind'").fetchone()[0]
    con.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page
    data[start:start + 100] = b"\xff" * 100                      # the index b-tree's root page header
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="left untouched"):
        Journal(path, "st-1")
    assert path.read_bytes() == bytes(data)


def test_an_older_journal_gains_its_lookup_indexes_and_keeps_its_records(tmp_path):
    path = tmp_path / Journal.FILENAME
    with Journal(path, "st-1") as j:
        j.append(ConsentDecision("a" * 64, granted=False))
        j.append(ConsentDecision("a" * 64, granted=True))
        j.append(ConsentDecision("b" * 64, granted=False))
    con = sqlite3.connect(path)
    for f in INDEXED_FIELDS:                                     # a journal from before the lookup indexes
        con.execute(f"DROP INDEX records_{f}")
    con.execute("PRAGMA user_version = 3")                    # version 4 added them
    con.commit()
    con.close()
    with Journal(path, "st-1") as j:
        last = j.records("consent", where={"person_key": "a" * 64}, newest_first=True, limit=1)
        assert last[0].payload.granted is True and j.count() == 3
    con = sqlite3.connect(path)
    names = {r[1] for r in con.execute("PRAGMA index_list(records)")}
    plan = con.execute("EXPLAIN QUERY PLAN SELECT * FROM records WHERE seq > 0 AND kind = 'consent' AND "
                       "json_extract(payload, '$.person_key') = 'x' ORDER BY seq DESC LIMIT 1").fetchall()
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
    assert {f"records_{f}" for f in INDEXED_FIELDS} <= names
    assert "records_person_key" in str(plan)
