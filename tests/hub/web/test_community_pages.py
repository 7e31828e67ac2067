"""The wish board, the activity calendar and the monthly report, by crafted requests like a browser's
posts: each action does what it says and is audited; bad input gets its message and changes
nothing; a station's staff cannot see or act on another station's wishes, activities or report, by
URL or by form; CSRF is enforced. (The same pages in Chromium: test_community_browser.py.)"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from hub import wishes as hw
from hub.monthly import CATEGORY_CN, monthly_rows, sort_key
from kiosk.health import CATEGORY_ORDER
from hub.publishing import current
from hub.web.app import BrokerOptions, Workbench, create_app
from hub.web.audit import entries
from hub.web.calendar import CalendarRefused, NewActivity, build
from hub.web.demo import STATIONS
from hub.web.server import BackgroundServer
from tests.hub.web.conftest import Client, make_workbench
from tests.support.services import Mosquitto, free_port

A, B = STATIONS[0], STATIONS[1]
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The demo workbench publishing to its own Mosquitto (never whatever listens on 1883)."""
    tmp = tmp_path_factory.mktemp("community-pages")
    broker = Mosquitto(tmp / "mosquitto").start()
    wb = make_workbench(str(tmp / "hub.sqlite3"), BrokerOptions(host=broker.host, port=broker.port))
    server = BackgroundServer(create_app(wb)).start()
    yield wb, server
    server.stop()
    wb.store.close()
    broker.stop()


def _client(server, who: str) -> Client:
    c = Client(server.url)
    assert c.sign_in(who).status_code == 303
    return c


def _flash(c: Client, resp) -> str:
    assert resp.status_code == 303, resp.text[:400]
    return c.get(resp.headers["location"]).text


def _activity(day: datetime, **over) -> dict:
    form = {"title": "剪纸课", "place": "三楼教室", "day": day.strftime("%Y-%m-%d"), "start": "14:00", "end": "15:30",
            "capacity": "20", "stations": A}
    return {**form, **over}


def test_a_wish_is_put_on_the_board_claimed_and_fulfilled_and_the_kiosks_document_carries_the_note(workbench):
    wb, server = workbench
    c = _client(server, "zhang")
    page = c.get(f"/s/{A}/wishes").text
    assert "学用智能手机" in page and "钱*" in page and "冯*" not in page      # B's wish is not on A's board
    assert c.post(f"/s/{A}/wishes/wish-demo-1/claim", {"claimed_by": "x", "claimer_kind": "unit"}).status_code == 303
    assert hw.find(wb.engine, "wish-demo-1")["state"] == "posted"              # not on the board yet: refused
    assert "已保存并下发到终端" in _flash(c, c.post(f"/s/{A}/wishes/wish-demo-1/publish"))
    text = _flash(c, c.post(f"/s/{A}/wishes/wish-demo-1/claim", {"claimed_by": "", "claimer_kind": "unit"}))
    assert "请填写认领人" in text and hw.find(wb.engine, "wish-demo-1")["state"] == "published"
    c.post(f"/s/{A}/wishes/wish-demo-1/claim", {"claimed_by": "张江科技公司", "claimer_kind": "unit"})
    text = _flash(c, c.post(f"/s/{A}/wishes/wish-demo-1/fulfil", {"note": " "}))
    assert "请给居民写一句说明" in text and hw.find(wb.engine, "wish-demo-1")["state"] == "claimed"
    c.post(f"/s/{A}/wishes/wish-demo-1/fulfil", {"note": "手机课 12月5日 开课"})
    row = hw.find(wb.engine, "wish-demo-1")
    assert (row["state"], row["claimed_by"], row["claimer_kind"], row["note"], row["updated_by"]) == \
        ("fulfilled", "张江科技公司", "unit", "手机课 12月5日 开课", "zhang")
    version, body = current(wb.store, "requests", A)          # the station's own document (issue 22)
    entry = next(w for w in body["wishes"] if w["id"] == "wish-demo-1")
    assert entry["state"] == "fulfilled" and entry["note"] == "手机课 12月5日 开课"
    assert [e["action"] for e in entries(wb.engine) if e["target"] == "wish-demo-1"] == \
        ["wish.fulfil", "wish.claim", "wish.publish"]
    assert "学用智能手机" not in c.get(f"/s/{A}/wishes").text                     # done: off the open board
    assert "手机课 12月5日 开课" in c.get(f"/s/{A}/wishes?all=1").text


def test_a_suggestion_is_answered_and_a_wish_cannot_be_answered(workbench):
    wb, server = workbench
    c = _client(server, "zhang")
    assert "少放盐" in c.get(f"/s/{A}/wishes").text or "Less salt" in c.get(f"/s/{A}/wishes").text
    text = _flash(c, c.post(f"/s/{A}/wishes/wish-demo-2/answer", {"note": "好的"}))
    assert "页面已过时" in text and hw.find(wb.engine, "wish-demo-2")["state"] == "published"
    c.post(f"/s/{A}/wishes/wish-demo-5/answer", {"note": "食堂从下周起少盐"})
    row = hw.find(wb.engine, "wish-demo-5")
    assert row["state"] == "closed" and row["note"] == "食堂从下周起少盐"


def test_station_staff_cannot_see_or_act_on_another_stations_wishes(workbench):
    wb, server = workbench
    c = _client(server, "zhang")
    resp = c.get(f"/s/{B}/wishes")
    assert resp.status_code == 403 and "冯*" not in resp.text and "不在您的账号权限内" in resp.text
    assert c.post(f"/s/{B}/wishes/wish-demo-6/publish").status_code == 403           # B's URL
    resp = c.post(f"/s/{A}/wishes/wish-demo-6/publish")                                # B's wish under A's URL
    assert resp.status_code == 400 and "wish-demo-6" in resp.text
    assert c.post(f"/s/{A}/wishes/wish-demo-7/answer", {"note": "x"}).status_code == 400
    assert c.post(f"/s/{A}/wishes/wish-demo-1/delete").status_code == 400              # no such action
    assert hw.find(wb.engine, "wish-demo-6")["state"] == "posted"
    assert hw.find(wb.engine, "wish-demo-7")["state"] == "posted"


def test_wish_actions_need_the_forms_csrf_token(workbench):
    wb, server = workbench
    c = _client(server, "jiedao")
    for token in ("forged", ""):
        resp = c.post(f"/s/{B}/wishes/wish-demo-6/publish", csrf=token)
        assert resp.status_code == 403 and "表单已过期" in resp.text
    assert hw.find(wb.engine, "wish-demo-6")["state"] == "posted"


def test_the_calendar_shows_pooled_sign_ups_and_a_station_only_its_activities(workbench):
    _wb, server = workbench
    page = _client(server, "zhang").get(f"/s/{A}/activities").text
    assert "高血压健康讲座" in page and "书法班" in page and "旧物集市" not in page     # 旧物集市 is for B only
    talk = re.search(r'<tr data-activity="act-demo-talk".*?</tr>', page, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', talk, re.S)
    assert [re.sub(r"<[^>]+>", "", x).strip() for x in cells] == ["30", "31", "1", "0"]   # pooled: 31 for 30 seats
    assert f"{A}：15" in talk and f"{B}：" not in talk                                  # B's own share is B's
    assert _client(server, "zhang").get(f"/s/{A}/activities?month=2026-13").status_code == 400
    district = _client(server, "jiedao").get("/activities").text
    assert "旧物集市" in district and f"{B}：16" in district


def test_activity_form_refuses_past_overlapping_out_of_scope_and_stale_and_publishes_a_good_one(workbench):
    wb, server = workbench
    c = _client(server, "zhang")
    version = current(wb.store, "calendar")[0]
    tomorrow = datetime.now(TZ) + timedelta(days=1)
    yesterday = datetime.now(TZ) - timedelta(days=1)
    path = f"/s/{A}/activities/new"
    cases = [(_activity(yesterday), "已经过去"),
             (_activity(tomorrow, place="二楼活动室", start="09:30", end="10:00"), "时间重叠"),
             (_activity(tomorrow, end="13:00"), "结束时间必须晚于开始时间"),
             (_activity(tomorrow, capacity="0"), "名额须在 1 到 10000"),
             (_activity(tomorrow, title=""), "请填写活动名称"),
             (_activity(tomorrow, stations=B), f"驿站 {B} 不在您的账号权限内"),
             ({k: v for k, v in _activity(tomorrow).items() if k != "stations"}, "只能为本驿站发布活动"),
             (_activity(tomorrow, based_on=str(version - 1)), f"现在已被改为第 {version} 版")]
    for form, message in cases:
        resp = c.post(path, {"based_on": str(version), **form})
        assert resp.status_code == 400 and message in resp.text, message
        assert "剪纸课" in resp.text or not form.get("title")           # what was typed is kept
    assert c.post(f"/s/{B}/activities/new", {"based_on": str(version), **_activity(tomorrow, stations=B)}
                  ).status_code == 403
    assert c.post("/activities/new", {"based_on": str(version), **_activity(tomorrow)}).status_code == 403
    assert c.post(path, {"based_on": str(version), **_activity(tomorrow)}, csrf="forged").status_code == 403
    assert current(wb.store, "calendar")[0] == version                  # nothing was published
    text = _flash(c, c.post(path, {"based_on": str(version), **_activity(tomorrow)}))
    assert f"已发布日程（第 {version + 1} 版）" in text and "剪纸课" in text
    new_version, body = current(wb.store, "calendar")
    added = next(a for a in body["activities"] if a["title"] == "剪纸课")
    assert new_version == version + 1 and added["stations"] == [A] and added["capacity"] == 20
    assert datetime.fromisoformat(added["start"]) == tomorrow.replace(hour=14, minute=0, second=0, microsecond=0)
    assert {a["id"] for a in body["activities"]} >= {"act-demo-talk", "act-demo-market"}   # the rest kept
    assert [e["action"] for e in entries(wb.engine) if e["target"] == added["id"]] == ["activity.add"]
    resp = c.post(path, {"based_on": str(version), **_activity(tomorrow, start="16:00", end="17:00")})
    assert resp.status_code == 400 and "现在已被改为" in resp.text      # a page showing the old version


def test_the_monthly_report_page_and_downloads_follow_the_accounts_scope(workbench):
    wb, server = workbench
    month = (datetime.now(TZ) - timedelta(days=5)).strftime("%Y-%m")      # every demo station has records then
    staff, district = _client(server, "zhang"), _client(server, "jiedao")
    page = staff.get(f"/reports/monthly?month={month}").text
    assert f'data-scope="{A}"' in page and f'data-scope="{B}"' not in page and 'data-scope="全区"' not in page
    assert staff.get(f"/reports/monthly?station={B}").status_code == 400
    assert staff.get(f"/reports/monthly.csv?station={B}").status_code == 400
    rows = list(csv.reader(io.StringIO(staff.get(f"/reports/monthly.csv?month={month}").content.decode("utf-8-sig"))))
    assert rows[0] == ["范围", "类别", "项目", "数值"] and {r[0] for r in rows[1:]} == {A}
    every = monthly_rows(wb.engine, month, wb.tz)
    full = district.get(f"/reports/monthly.csv?month={month}")
    assert full.headers["content-type"].startswith("text/csv")
    got = list(csv.reader(io.StringIO(full.content.decode("utf-8-sig"))))[1:]
    assert got == [[str(v) for v in r] for r in every] and {r[0] for r in got} == {A, B, STATIONS[2], "全区"}
    district_items = [(r[1], r[2]) for r in got if r[0] == "全区"]
    results = [item.split("：")[1] for cat, item in district_items if item.startswith("血压结果：")]
    assert results and not any(r.startswith("bp_") for r in results)       # named as the kiosk names them
    known = [CATEGORY_CN[c] for c in CATEGORY_ORDER]
    assert results == sorted(results, key=known.index)                     # from the best result to the worst
    assert [c for c, _ in district_items] == sorted((c for c, _ in district_items), key=lambda c: sort_key(c, "")[0])
    assert district_items.index(("健康自测", "血压测量（次）")) < district_items.index(("健康自测", f"血压结果：{results[0]}"))
    sheet = load_workbook(io.BytesIO(district.get(f"/reports/monthly.xlsx?month={month}&station={B}").content)).active
    assert {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)} == {B}
    pdf = district.get(f"/reports/monthly.pdf?month={month}")
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    page = district.get(f"/reports/monthly?month={month}").text
    assert 'data-scope="全区"' in page and "健康自测" in page and "血压测量（次）" in page
    assert f"血压结果：{results[0]}" in page
    district.get("/lang/en")
    english = district.get(f"/reports/monthly?month={month}").text
    assert "<td>BP result: Blood pressure" in english and "<td>血压结果" not in english
    assert district.get("/reports/monthly.doc").status_code == 400
    assert district.get("/reports/monthly?month=2026-13").status_code == 400


@pytest.mark.services
def test_without_a_broker_the_activity_is_kept_and_the_page_says_so_and_without_a_key_nothing_is_published(workbench):
    wb, _server = workbench
    port = free_port()                                       # nothing listens there
    day = datetime.now(TZ) + timedelta(days=4)
    for key, message in ((wb.signing_key, "消息服务恢复后终端即可看到"), (None, "signing key")):
        other = Workbench(db=wb.db, broker=BrokerOptions(port=port), secure_cookies=False, signing_key=key)
        server = BackgroundServer(create_app(other)).start()
        try:
            c = _client(server, "zhang")
            version = current(wb.store, "calendar")[0]
            resp = c.post(f"/s/{A}/activities/new", {"based_on": str(version), **_activity(day, title="折纸课")})
            text = _flash(c, resp) if resp.status_code == 303 else resp.text
            assert message in text
            expected = version + 1 if key else version
            assert current(wb.store, "calendar")[0] == expected
        finally:
            server.stop()
            other.store.close()
        day += timedelta(days=1)


def test_a_new_activity_keeps_the_calendar_but_drops_activities_long_over():
    now = datetime(2026, 11, 30, 2, 0, tzinfo=ZoneInfo("UTC"))
    old = {"id": "old", "title": "旧活动", "place": "三楼教室", "start": "2026-09-01T09:00:00+08:00",
           "end": "2026-09-01T10:00:00+08:00", "capacity": 5}
    recent = dict(old, id="recent", start="2026-11-20T09:00:00+08:00", end="2026-11-20T10:00:00+08:00")
    body = build(NewActivity("剪纸课", "三楼教室", "2026-12-02", "14:00", "15:00", "20", (A,)),
                 {"activities": [old, recent]}, "Asia/Shanghai", now)
    assert [a["id"] for a in body["activities"]][:1] == ["recent"] and len(body["activities"]) == 2
    assert body["activities"][1]["start"] == "2026-12-02T14:00:00+08:00"
    with pytest.raises(CalendarRefused) as refused:
        build(NewActivity("剪纸课", "三楼教室", "2026-11-20", "09:30", "10:30", "20", (A,)),
              {"activities": [recent]}, "Asia/Shanghai", datetime(2026, 11, 19, tzinfo=ZoneInfo("UTC")))
    assert refused.value.msgid.startswith("{title} overlaps {other}") and refused.value.values["other"] == "旧活动"
