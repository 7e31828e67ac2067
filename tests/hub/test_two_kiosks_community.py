"""Done-means test of the two-way station: two kiosks, one real Mosquitto, one hub process and the
staff workbench in real headless Chromium.

A resident asks for 代购 at A; staff assign a volunteer on the workbench's request page; the
volunteer sees the task at B and marks it done; the resident confirms and rates at A. A wish posted
at A is put on the wish board, claimed and fulfilled in the browser, and the resident sees it at A.
An activity the street office types into the calendar page is signed up for at A and B, attendance
is taken at A. The monthly report page (and the report itself) shows each exactly once, also after
B resends everything.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from hub.monthly import monthly_rows
from hub.store import HubStore
from hub.timebank import volunteer_balance
from hub.web.accounts import add_user
from hub.web.app import BrokerOptions, Workbench, create_app
from hub.web.server import BackgroundServer
from hub.web.tour import chromium, sign_in
from kiosk.community.activities import Activities
from kiosk.community.kinds import ASAP, ASSIGNED, DONE
from kiosk.community.requests import Requests
from kiosk.community.wishes import FULFILLED, WISH, Wishes
from kiosk.documents import current_documents
from kiosk.journal import Journal
from sync.downlink import applied_versions
from tests.hub.test_two_kiosks_timebank import Station, hub_db, publish_roster  # noqa: F401  (fixture)
from tests.hub.web.test_browser import press, text
from tests.kiosk.test_volunteer import LI, RESIDENT, ROSTER, WANG, Clock
from tests.support.services import wait_for
from tests.support.signing import HUB_KEY
from tests.sync.helpers import hub_rows

pytestmark = pytest.mark.services

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "two-way-station-2026"


class Kiosk(Station):
    """A station with the community services over its journal and time bank."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.requests = Requests(self.journal, self.bank)
        clock = args[3]
        self.wishes = Wishes(self.journal, self.requests.hub_wishes, clock.now)
        self.activities = Activities(self.journal, lambda: current_documents(self.data_dir), clock.now)

    def has(self, doc_type: str, predicate=lambda: True, timeout: float = 20) -> bool:
        return wait_for(lambda: doc_type in applied_versions(self.data_dir) and predicate(), timeout, 0.05)


class Staff:
    """The workbench over the hub's database, publishing to the broker, and one headless Chromium."""

    def __init__(self, db, port: int) -> None:
        self.wb = Workbench(db=str(db), broker=BrokerOptions(host="127.0.0.1", port=port), secure_cookies=False,
                            signing_key=HUB_KEY)
        add_user(self.wb.engine, "zhang", PASSWORD, "staff", ["st-a"], display_name="张站长", actor="test")
        add_user(self.wb.engine, "jiedao", PASSWORD, "district", display_name="街道", actor="test")
        self.server = BackgroundServer(create_app(self.wb)).start()
        self.driver = chromium()

    def as_user(self, username: str) -> None:
        self.driver.delete_all_cookies()
        sign_in(self.driver, self.server.url, username, PASSWORD)

    def open(self, path: str) -> None:
        self.driver.get(self.server.url + path)

    def type(self, css: str, value: str) -> None:
        """Type into a text field; a date or time field gets its value as its picker sets it."""
        field = self.driver.find_element(By.CSS_SELECTOR, css)
        if field.get_attribute("type") in ("date", "time"):
            self.driver.execute_script("arguments[0].value = arguments[1];", field, value)
        else:
            field.clear()
            field.send_keys(value)

    def report(self, month: str) -> dict[tuple[str, str], float]:
        """The district column of the monthly report page: (category, item) -> value."""
        self.open(f"/reports/monthly?month={month}")
        out = {}
        for row in self.driver.find_elements(By.CSS_SELECTOR, "table#monthly tr[data-item]"):
            category, item = row.get_attribute("data-item").split("/", 1)
            out[(category, item)] = float(row.find_element(By.CSS_SELECTOR, 'td[data-scope="全区"]').text)
        return out

    def close(self) -> None:
        self.driver.quit()
        self.server.stop()
        self.wb.store.close()


def slot(after: datetime) -> tuple[datetime, datetime]:
    """An hour on one day (the form takes a date and two times) starting on the minute after ``after``."""
    start = (after.astimezone(DISTRICT_TZ) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    end = min(start + timedelta(hours=1), start.replace(hour=23, minute=59))
    if end - start < timedelta(minutes=10):
        start = (start + timedelta(days=1)).replace(hour=0, minute=10)
        end = start + timedelta(hours=1)
    return start, end


@pytest.fixture()
def staff(hub_db, mosquitto):
    s = Staff(hub_db, mosquitto.port)
    yield s
    s.close()


def test_request_wish_and_activity_across_two_kiosks_counted_once(tmp_path, mosquitto, hub_db, staff):
    clock = Clock(datetime.now(timezone.utc).replace(microsecond=0))
    began = clock.now()
    a = Kiosk(tmp_path, "st-a", mosquitto.port, clock).start()
    b = Kiosk(tmp_path, "st-b", mosquitto.port, clock).start()
    try:
        v = publish_roster(hub_db, mosquitto.host, mosquitto.port, ROSTER)
        assert a.has_roster(v) and b.has_roster(v)

        asked = a.requests.ask(RESIDENT, "visit-1", "purchase", ASAP)
        posted = a.wishes.post(RESIDENT, "visit-1", WISH, "class", "phone")
        assert a.drained(hub_db)
        staff.as_user("zhang")
        staff.open("/s/st-a/requests")
        assert "代购" in text(staff.driver) and RESIDENT.display_name in text(staff.driver)
        Select(staff.driver.find_element(By.ID, f"volunteer-{asked.number}")).select_by_value("v-wang")
        press(staff.driver, By.ID, f"assign-{asked.number}")
        assert "已派给" in text(staff.driver)
        assert b.has("requests", lambda: b.requests.view(asked.request_id).state == ASSIGNED)
        mine, _free = b.requests.tasks(WANG)
        assert [t.number for t in mine] == [asked.number]
        b.requests.mark_done(WANG, asked.request_id)
        assert b.drained(hub_db)                         # the hub republishes the requests document itself
        assert a.has("requests", lambda: a.requests.view(asked.request_id).state == DONE)
        a.requests.confirm(asked.request_id, RESIDENT, 5)

        staff.open("/s/st-a/wishes")
        row = f'tr[data-wish="{posted.wish_id}"]'
        press(staff.driver, By.CSS_SELECTOR, "button.publish", within=row)
        staff.type(f'{row} input[name="claimed_by"]', "张江科技公司")
        Select(staff.driver.find_element(By.CSS_SELECTOR, f'{row} select[name="claimer_kind"]')).select_by_value("unit")
        press(staff.driver, By.CSS_SELECTOR, "button.claim", within=row)
        staff.type(f'{row} input[name="note"]', "手机课 12月5日 开课")
        press(staff.driver, By.CSS_SELECTOR, "button.fulfil", within=row)
        assert "已保存并下发到终端" in text(staff.driver)
        assert a.has("requests", lambda: a.wishes.mine(RESIDENT)[0].state == FULFILLED)
        assert a.wishes.mine(RESIDENT)[0].note == "手机课 12月5日 开课"

        start, end = slot(clock.now() + timedelta(hours=2))
        staff.as_user("jiedao")
        press(staff.driver, By.ID, "nav-activities")
        for css, value in (("#title", "健康讲座"), ("#place", "活动室"), ("#day", f"{start:%Y-%m-%d}"),
                           ("#start", f"{start:%H:%M}"), ("#end", f"{end:%H:%M}"), ("#capacity", "30")):
            staff.type(css, value)                   # no station ticked: every station
        press(staff.driver, By.ID, "publish-activity")
        assert "已发布日程（第 1 版）" in text(staff.driver)
        assert a.has("calendar") and b.has("calendar")
        (talk,) = a.activities.upcoming()
        assert talk.title == "健康讲座" and [x.id for x in b.activities.upcoming()] == [talk.id]
        a.activities.sign_up(RESIDENT, talk.id)
        b.activities.sign_up(LI, talk.id)
        clock.advance(seconds=(start - clock.now()).total_seconds() + 300)
        a.activities.attend(RESIDENT, talk.id)
        assert a.drained(hub_db) and b.drained(hub_db)
        assert a.has("requests", lambda: a.activities.upcoming()[0].taken == 2)   # seats pooled

        stored = len(hub_rows(hub_db))
        b.stop()
        with sqlite3.connect(b.data_dir / Journal.FILENAME) as con:     # B resends everything it ever sent
            con.execute("UPDATE outbox SET state = 'ready', batch_id = NULL")
        b = Kiosk(tmp_path, "st-b", mosquitto.port, clock).start()
        assert b.drained(hub_db)
        assert len(hub_rows(hub_db)) == stored
    finally:
        a.stop()
        b.stop()

    store = HubStore(str(hub_db))
    try:
        rows: Counter = Counter()
        page: Counter = Counter()
        for month in {t.astimezone(DISTRICT_TZ).strftime("%Y-%m") for t in (began, clock.now())}:
            rows.update({(s, c, i): v for s, c, i, v in monthly_rows(store.engine, month)})   # a run across midnight
            page.update(staff.report(month))
    finally:
        store.close()
    for key in (("四代服务", "代购：已确认"), ("四代服务", "请求合计"), ("服务评价", "非常满意"), ("微心愿", "发布"),
                ("微心愿", "已实现"), ("近期活动", "场次"), ("近期活动", "人次")):
        assert page[key] == 1, key                                  # the workbench page, as the street office sees it
    assert page[("近期活动", "报名")] == 2
    assert rows[("全区", "四代服务", "代购：已确认")] == 1 and rows[("全区", "四代服务", "请求合计")] == 1
    assert rows[("全区", "服务评价", "非常满意")] == 1
    assert rows[("全区", "微心愿", "发布")] == 1 and rows[("全区", "微心愿", "已实现")] == 1
    assert rows[("全区", "近期活动", "报名")] == 2
    assert rows[("全区", "近期活动", "场次")] == 1 and rows[("全区", "近期活动", "人次")] == 1
    assert float(volunteer_balance(str(hub_db), "v-wang")) == 1.0
