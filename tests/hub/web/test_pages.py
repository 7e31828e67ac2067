"""Every page answers in Chinese and English for the accounts that may open it, downloads are what
they say, and the follow-up and review forms do what they say (crafted like a browser's posts)."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from hub.reviews import pending_reviews
from hub.web import work
from hub.web.audit import entries
from hub.web.demo import STATIONS, person
from tests.hub.web.conftest import Client

A = STATIONS[0]
PAGES = ["/today", f"/s/{A}/today", f"/s/{A}/requests", f"/s/{A}/requests?all=1", f"/s/{A}/alerts",
         f"/s/{A}/alerts?all=1", f"/s/{A}/followups",
         f"/s/{A}/followups?all=1", "/volunteers", f"/s/{A}/reviews", "/reports", "/reports?month=2026-01",
         "/stations", f"/s/{STATIONS[1]}/station", "/publish", "/publish?type=roster&scope=_all",
         "/publish?type=config&scope=" + A, f"/residents?q={person(90)[:10]}", f"/residents/{person(91)}", "/audit",
         "/admin/users", f"/s/{A}/wishes", f"/s/{A}/wishes?all=1", f"/s/{A}/activities", "/activities",
         "/activities?month=2026-01", "/reports/monthly", f"/reports/monthly?station={A}&month=2026-01"]


@pytest.fixture(scope="module")
def admin(workbench):
    c = Client(workbench[1].url)
    assert c.sign_in("admin").status_code == 303
    return c


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_answers_in_both_languages(workbench, admin, lang):
    admin.get(f"/lang/{lang}")
    try:
        for path in PAGES:
            resp = admin.get(path)
            assert resp.status_code == 200, path
            assert ("驿站工作台" in resp.text) == (lang == "zh"), path
            assert "Traceback" not in resp.text
    finally:
        admin.get("/lang/zh")


def test_an_alert_page_of_an_unknown_id_says_so(workbench, admin):
    resp = admin.get(f"/s/{A}/alerts/not-an-alert")
    assert resp.status_code == 400 and "no health alert" in resp.text


def test_switching_the_language_keeps_the_month_and_station_chosen(workbench, admin):
    page = admin.get(f"/reports/monthly?month=2026-01&station={A}")
    link = re.search(r'href="(/lang/en\?next=[^"]+)"', page.text).group(1)
    back = admin.get(html.unescape(link))
    assert back.status_code == 303 and back.headers["location"] == f"/reports/monthly?month=2026-01&station={A}"
    assert admin.get("/lang/zh?next=//evil.example/").headers["location"] == "/"


def test_reports_download_as_csv_xlsx_and_pdf(workbench, admin):
    # The demo's records are of the last eleven days: yesterday's month (in the district) holds some,
    # the current one may not yet (just after midnight on the 1st).
    page = admin.get(f"/reports?month={datetime.now(ZoneInfo('Asia/Shanghai')) - timedelta(days=1):%Y-%m}")
    assert "<svg" in page.text and "健康筛查统计" in page.text
    month = re.search(r'name="month" value="([0-9-]+)"', page.text).group(1)
    raw = admin.get(f"/reports/volunteers.csv?month={month}").content
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["编号"] for r in rows if r["类别"] == "志愿者"} >= {"v-wang", "v-zhao"}
    book = load_workbook(io.BytesIO(admin.get(f"/reports/volunteers.xlsx?month={month}").content))
    assert book.sheetnames == ["志愿者", "队伍", "驿站", "服务项目"]
    pdf = admin.get("/reports/certificate.pdf?volunteer=v-wang")
    assert pdf.content.startswith(b"%PDF") and "certificate-v-wang.pdf" in pdf.headers["content-disposition"]
    assert admin.get("/reports?month=2026-13").status_code == 400
    assert admin.get("/reports/certificate.pdf?volunteer=nobody").status_code == 400


def test_a_follow_up_is_noted_then_closed_only_with_a_note(workbench):
    wb, server = workbench
    c = Client(server.url)
    c.sign_in("zhang")
    item = work.follow_ups(wb.engine, (A,))[0]
    resp = c.post(f"/s/{A}/followups/{item.id}", {"assignee": "", "note": "", "close": "1"})
    assert resp.status_code == 400 and "关闭回访前请写明处理情况" in resp.text
    assert c.post(f"/s/{A}/followups/{item.id}", {"assignee": "小张", "note": "", "close": "0"}).status_code == 303
    assert c.post(f"/s/{A}/followups/{item.id}", {"assignee": "小张", "note": "已电话回访，居民满意",
                                                  "close": "1"}).status_code == 303
    assert item.id not in {f.id for f in work.follow_ups(wb.engine, (A,))}
    closed = next(f for f in work.follow_ups(wb.engine, (A,), open_only=False) if f.id == item.id)
    assert closed.closed_by == "zhang" and closed.assignee == "小张"
    assert [e["action"] for e in entries(wb.engine) if e["target"] == item.id] == ["follow_up.close",
                                                                                  "follow_up.update"]


def test_a_review_is_refused_only_with_a_reason(workbench):
    wb, server = workbench
    c = Client(server.url)
    c.sign_in("zhang")
    (item,) = pending_reviews(wb.engine, (A,))
    resp = c.post(f"/s/{A}/reviews/{item['record_id']}/reject", {"reason": ""})
    assert resp.status_code == 400 and "不予核定时请填写原因" in resp.text
    resp = c.post(f"/s/{A}/reviews/{item['record_id']}/credit", {"hours": "30"})
    assert resp.status_code == 400 and pending_reviews(wb.engine, (A,)) == [item]
    assert c.post(f"/s/{A}/reviews/{item['record_id']}/reject", {"reason": "当天未到岗"}).status_code == 303
    assert pending_reviews(wb.engine, (A,)) == []
    entry = entries(wb.engine)[0]
    assert entry["action"] == "review.reject" and "当天未到岗" in entry["after"]


def test_an_error_with_values_gets_a_chinese_lead_and_keeps_its_evidence(workbench, admin):
    resp = admin.get(f"/s/{A}/alerts/no-such-id")
    assert "无法完成此操作：no health alert" in resp.text and "no-such-id" in resp.text
    admin.get("/lang/en")
    try:
        assert "无法完成" not in admin.get(f"/s/{A}/alerts/no-such-id").text
    finally:
        admin.get("/lang/zh")
