"""Monthly volunteer report (CSV, XLSX) and the 志愿服务证明 (text, PDF rendered to PNG and read back)."""
from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hub.reports import ReportError, certificate, certificate_data, report_volunteers
from hub.reports_cli import add_arguments, run
from hub.store import HubStore
from hub.timebank import review_shift
from kiosk.session import Person
from tests.hub.test_timebank import Kiosk
from tests.kiosk.test_volunteer import RESIDENT, ROSTER, WANG, Clock

TZ8 = timezone(timedelta(hours=8))
#: Where the rendered certificate is kept for a person to look at.
ARTIFACTS = Path(os.environ.get("YIZHAN_ARTIFACTS", "/tmp/yizhan-artifacts"))
LI = Person(role="volunteer", person_key="", display_name="李*", volunteer_id="v-li")
OTHER_RESIDENT = Person(role="resident", person_key="c" * 64, display_name="钱*", source="idcard")


@pytest.fixture()
def hub_db(tmp_path):
    """A hub with one month of service at two stations (and a shift in the month before)."""
    clock = Clock(datetime(2025, 4, 30, 9, 0, tzinfo=TZ8))
    store = HubStore(str(tmp_path / "hub.sqlite3"))
    store.prepare_document("roster", ROSTER)                       # names for the report come from the roster
    a, b = Kiosk(tmp_path, "st-a", clock), Kiosk(tmp_path, "st-b", clock)
    for k in (a, b):
        k.apply("roster", ROSTER, 1)
    a.bank.check_in(WANG, "orange", "duty")                        # April: not in the May report
    clock.advance(hours=1)
    a.bank.check_out(WANG)
    clock.wall = datetime(2025, 5, 6, 9, 0, tzinfo=TZ8)
    a.bank.check_in(WANG, "orange", "duty")
    clock.advance(hours=2, minutes=20)
    a.bank.check_out(WANG)                                         # 2.5 h shift at A
    s1 = a.bank.record_service(WANG, "purchase", 40)
    a.bank.confirm_service(s1.service_id, RESIDENT, 5)              # 1 h, 非常满意
    s2 = b.bank.record_service(LI, "bp", 10)
    b.bank.confirm_service(s2.service_id, OTHER_RESIDENT, 2)        # 0.5 h, 不满意
    clock.wall = datetime(2025, 5, 7, 18, 0, tzinfo=TZ8)
    b.bank.check_in(LI, "green", "event")
    b.bank.auto_close_open_shifts(datetime(2025, 5, 7, 21, 0, tzinfo=TZ8))   # needs review: 1 h once reviewed
    for k in (a, b):
        k.ship(store)
        k.close()
    with store.engine.connect() as conn:
        rid = conn.exec_driver_sql("SELECT id FROM hub_records WHERE kind = 'volunteer_check_out' "
                                   "AND station = 'st-b'").scalar_one()
    review_shift(store.engine, rid)
    store.close()
    return tmp_path / "hub.sqlite3"


def test_csv_report_has_hours_per_volunteer_team_station_and_ratings(hub_db, tmp_path):
    out = report_volunteers(str(hub_db), "2025-05", "csv", tmp_path / "may.csv")
    text = out.read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by = {(r["类别"], r["编号"]): r for r in rows}
    wang = by[("志愿者", "v-wang")]
    assert (wang["名称"], wang["队伍"]) == ("王小明", "暖心橙")
    assert (wang["值班时长"], wang["服务时长"], wang["合计时长"], wang["服务次数"], wang["非常满意"]) == \
        ("2.5", "1.0", "3.5", "1", "1")
    li = by[("志愿者", "v-li")]
    assert (li["服务时长"], li["核定时长"], li["合计时长"], li["不满意"], li["平均评分"]) == ("0.5", "1.0", "1.5", "1", "2.0")
    assert by[("驿站", "st-a")]["合计时长"] == "3.5" and by[("驿站", "st-b")]["合计时长"] == "1.5"
    assert by[("队伍", "orange")]["名称"] == "暖心橙" and by[("队伍", "green")]["合计时长"] == "1.5"
    assert by[("服务", "bp")]["名称"] == "测血压" and by[("服务", "bp")]["不满意"] == "1"
    april = list(csv.DictReader(io.StringIO(report_volunteers(str(hub_db), "2025-04", "csv",
                                                              tmp_path / "apr.csv").read_text("utf-8-sig"))))
    assert [(r["类别"], r["合计时长"]) for r in april if r["类别"] == "志愿者"] == [("志愿者", "1.0")]


def test_xlsx_report_has_a_sheet_per_view(hub_db, tmp_path):
    out = report_volunteers(str(hub_db), "2025-05", "xlsx", tmp_path / "may.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames == ["志愿者", "队伍", "驿站", "服务项目"]
    rows = list(wb["志愿者"].iter_rows(values_only=True))
    assert rows[0][:3] == ("类别", "编号", "名称")
    wang = next(r for r in rows if r[1] == "v-wang")
    assert wang[8] == 3.5
    stations = {r[1]: r[8] for r in list(wb["驿站"].iter_rows(values_only=True))[1:]}
    assert stations == {"st-a": 3.5, "st-b": 1.5}


def test_bad_month_and_format_are_refused(hub_db, tmp_path):
    with pytest.raises(ReportError):
        report_volunteers(str(hub_db), "2025-13", "csv", tmp_path / "x.csv")
    with pytest.raises(ReportError):
        report_volunteers(str(hub_db), "2025-05", "ods", tmp_path / "x.ods")
    with pytest.raises(ReportError):
        certificate(str(hub_db), "v-nobody", "txt", tmp_path / "x.txt", issuer="驿站")


def test_certificate_text_has_what_the_rules_ask_for(hub_db, tmp_path):
    data = certificate_data(str(hub_db), "v-wang", issuer="张江镇市民驿站", issued=date(2025, 6, 1))
    assert (data.period_from, data.period_to, float(data.hours)) == (date(2025, 4, 30), date(2025, 5, 6), 4.5)
    out = certificate(str(hub_db), "v-wang", "txt", tmp_path / "c.txt", issuer="张江镇市民驿站",
                      issued=date(2025, 6, 1))
    text = out.read_text("utf-8")
    for expected in ("志愿服务证明", "姓名：王小明", "证件号码：（已脱敏）", "所属志愿服务组织：张江镇市民驿站暖心橙志愿服务队",
                     "服务时间：2025年4月30日至2025年5月6日", "累计 4.5 小时", "驿站值班：3.5 小时（2 次）",
                     "代购：1 小时（1 次）", "出具单位：张江镇市民驿站（盖章）", "出具日期：2025年6月1日"):
        assert expected in text, expected


def test_certificate_pdf_renders_chinese(hub_db, tmp_path):
    out = certificate(str(hub_db), "v-wang", "pdf", tmp_path / "c.pdf", issuer="张江镇市民驿站",
                      period_from=date(2025, 5, 1), period_to=date(2025, 5, 31), issued=date(2025, 6, 1))
    assert out.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True,
                          timeout=30).stdout
    for expected in ("志愿服务证明", "王小明", "已脱敏", "2025年5月1日至2025年5月31日", "3.5 小时", "张江镇市民驿站"):
        assert expected in text, expected
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(out), str(tmp_path / "certificate")],
                   check=True, timeout=30)
    png = tmp_path / "certificate.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, ARTIFACTS / "certificate.png")
    shutil.copy(out, ARTIFACTS / "certificate.pdf")


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="yizhan hub")
    add_arguments(parser.add_subparsers(dest="hub_command", required=True))
    return parser.parse_args(argv)


def test_cli_report_certificate_and_review(hub_db, tmp_path, capsys):
    assert run(_cli("report", "volunteers", "--month", "2025-05", "--format", "xlsx", "--db", str(hub_db),
                    "--out", str(tmp_path / "r.xlsx"))) == 0
    assert load_workbook(tmp_path / "r.xlsx").sheetnames[0] == "志愿者"
    assert run(_cli("certificate", "v-li", "--format", "txt", "--issuer", "张江镇", "--db", str(hub_db),
                    "--out", str(tmp_path / "li.txt"))) == 0
    assert "累计 1.5 小时" in (tmp_path / "li.txt").read_text("utf-8")
    assert run(_cli("report", "volunteers", "--month", "May", "--db", str(hub_db))) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert run(_cli("review", "--db", str(hub_db))) == 0              # nothing left to review
    assert run(_cli("review", "no-such-record", "--db", str(hub_db))) == 1
