"""The wish board, the activity calendar and the monthly report in real headless Chromium, against a
real Mosquitto, a real hub process and a kiosk publisher: a wish posted at the kiosk is put on the
board, claimed and fulfilled by clicks and the kiosk shows the note; an activity typed into the form
reaches the kiosk's 近期活动, a past or overlapping time is explained on the page; a station's staff
cannot see another station's board nor smuggle another station into a form; English works.

One browser for the module; each test signs in as the account it needs.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from hub import wishes as hw
from hub.publishing import current
from hub.web.demo import STATIONS
from hub.web.tour import sign_in
from kiosk.community.activities import Activities
from kiosk.community.requests import Requests
from kiosk.community.wishes import FULFILLED, WISH, Wishes
from kiosk.documents import current_documents
from kiosk.session import Person
from kiosk.settings import VolunteerSettings
from kiosk.timebank.service import TimeBank
from sync.downlink import applied_versions
from tests.hub.web.conftest import PASSWORD, browser_rig
from tests.hub.web.test_browser import press, text
from tests.support.services import wait_for

pytestmark = pytest.mark.browser

KIOSK, OTHER = STATIONS[0], STATIONS[1]
DISTRICT = ZoneInfo("Asia/Shanghai")
RESIDENT = Person(role="resident", person_key="d" * 64, display_name="钱*")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """The browser rig (see ``browser_rig``) with the kiosk's community services."""
    with browser_rig(tmp_path_factory.mktemp("community"), KIOSK) as parts:
        journal, data_dir = parts["journal"], parts["data_dir"]
        requests_ = Requests(journal, TimeBank(journal, VolunteerSettings(), station_id=KIOSK, data_dir=data_dir),
                             data_dir)
        yield {**parts, "wishes": Wishes(journal, requests_.hub_wishes),
               "activities": Activities(journal, lambda: current_documents(data_dir))}


def as_user(rig, username: str) -> None:
    rig["driver"].delete_all_cookies()
    sign_in(rig["driver"], rig["url"], username, PASSWORD)


def fill(driver, element_id: str, value: str) -> None:
    """Type into a text field; a date or time field gets its value as its picker would set it (the
    typed form of a date depends on the browser's locale)."""
    field = driver.find_element(By.ID, element_id)
    if field.get_attribute("type") in ("date", "time", "month"):
        driver.execute_script("arguments[0].value = arguments[1];", field, value)
    else:
        field.clear()
        field.send_keys(value)


def test_a_wish_from_the_kiosk_is_claimed_and_fulfilled_in_the_browser_and_the_kiosk_shows_the_note(rig):
    posted = rig["wishes"].post(RESIDENT, "visit-w", WISH, "daily", "walker")
    rig["publisher"].wake()
    assert wait_for(lambda: hw.find(rig["wb"].engine, posted.wish_id) is not None, 20, 0.1)
    d = rig["driver"]
    as_user(rig, "zhang")
    press(d, By.ID, "nav-wishes")
    row = f'tr[data-wish="{posted.wish_id}"]'
    assert "钱*" in d.find_element(By.CSS_SELECTOR, row).text and "待发布" in d.find_element(By.CSS_SELECTOR, row).text
    press(d, By.CSS_SELECTOR, "button.publish", within=row)
    assert "已保存并下发到终端" in text(d) and "心愿墙上" in d.find_element(By.CSS_SELECTOR, row).text
    d.find_element(By.CSS_SELECTOR, f'{row} input[name="claimed_by"]').send_keys("李芳")
    Select(d.find_element(By.CSS_SELECTOR, f'{row} select[name="claimer_kind"]')).select_by_value("volunteer")
    press(d, By.CSS_SELECTOR, "button.claim", within=row)
    assert "李芳" in d.find_element(By.CSS_SELECTOR, row).text and "志愿者" in d.find_element(By.CSS_SELECTOR, row).text
    d.find_element(By.CSS_SELECTOR, f'{row} input[name="note"]').send_keys("助行器已送到家")
    press(d, By.CSS_SELECTOR, "button.fulfil", within=row)
    assert "已保存并下发到终端" in text(d) and not d.find_elements(By.CSS_SELECTOR, row)   # off the open board
    assert wait_for(lambda: rig["wishes"].mine(RESIDENT)[0].state == FULFILLED, 20, 0.1)
    mine = rig["wishes"].mine(RESIDENT)[0]
    assert (mine.wish_id, mine.claimed_by, mine.note) == (posted.wish_id, "李芳", "助行器已送到家")


def test_an_activity_typed_in_the_browser_reaches_the_kiosk_and_bad_times_are_explained(rig):
    d = rig["driver"]
    as_user(rig, "zhang")
    press(d, By.ID, "nav-activities")
    before = current(rig["wb"].store, "calendar")[0]
    tomorrow = datetime.now(DISTRICT) + timedelta(days=1)       # the form's times are the district's
    for field, value in (("title", "智能手机课"), ("place", "二楼活动室"), ("day", tomorrow.strftime("%Y-%m-%d")),
                         ("start", "09:30"), ("end", "10:30"), ("capacity", "12")):
        fill(d, field, value)
    press(d, By.ID, "publish-activity")
    error = d.find_element(By.ID, "calendar-error").text
    assert "时间重叠" in error and "高血压健康讲座" in error                          # the demo talk, 09:00-10:30
    assert d.find_element(By.ID, "title").get_attribute("value") == "智能手机课"     # what was typed is kept
    fill(d, "day", (datetime.now(DISTRICT) - timedelta(days=2)).strftime("%Y-%m-%d"))
    press(d, By.ID, "publish-activity")
    assert "已经过去" in d.find_element(By.ID, "calendar-error").text
    assert current(rig["wb"].store, "calendar")[0] == before
    fill(d, "day", tomorrow.strftime("%Y-%m-%d"))
    fill(d, "start", "14:00")
    fill(d, "end", "15:00")
    press(d, By.ID, "publish-activity")
    assert f"已发布日程（第 {before + 1} 版）" in text(d)
    assert d.find_element(By.ID, "calendar-version").text == str(before + 1)
    assert wait_for(lambda: applied_versions(rig["data_dir"]).get("calendar") == before + 1, 20, 0.1)
    offered = {a.title: a for a in rig["activities"].upcoming()}
    assert offered["智能手机课"].capacity == 12 and offered["智能手机课"].place == "二楼活动室"
    assert "旧物集市" not in offered                                                 # for the other station only


def test_station_staff_cannot_open_another_station_nor_smuggle_it_into_a_form(rig):
    d = rig["driver"]
    as_user(rig, "zhang")
    d.get(f"{rig['url']}/s/{OTHER}/wishes")
    assert f"驿站 {OTHER} 不在您的账号权限内" in text(d) and not d.find_elements(By.CSS_SELECTOR, "tr[data-wish]")
    d.get(f"{rig['url']}/s/{OTHER}/activities")
    assert f"驿站 {OTHER} 不在您的账号权限内" in text(d)
    d.get(f"{rig['url']}/s/{KIOSK}/activities")
    assert "旧物集市" not in text(d)
    before = current(rig["wb"].store, "calendar")
    box = d.find_element(By.CSS_SELECTOR, 'input[name="stations"]')
    d.execute_script("arguments[0].value = arguments[1];", box, OTHER)              # a tampered form
    tomorrow = datetime.now(DISTRICT) + timedelta(days=2)
    for field, value in (("title", "越权活动"), ("place", "别处"), ("day", tomorrow.strftime("%Y-%m-%d")),
                         ("start", "10:00"), ("end", "11:00")):
        fill(d, field, value)
    press(d, By.ID, "publish-activity")
    assert f"驿站 {OTHER} 不在您的账号权限内" in d.find_element(By.ID, "calendar-error").text
    assert current(rig["wb"].store, "calendar") == before
    d.get(f"{rig['url']}/s/{KIOSK}/wishes")
    row = 'tr[data-wish="wish-demo-1"]'
    d.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'forged');")
    press(d, By.CSS_SELECTOR, "button.publish", within=row)
    assert "表单已过期或不是来自本站" in text(d)
    assert hw.find(rig["wb"].engine, "wish-demo-1")["state"] == "posted"
    d.get(f"{rig['url']}/reports/monthly?month={(datetime.now(DISTRICT) - timedelta(days=5)):%Y-%m}")
    scopes = {e.get_attribute("data-scope") for e in d.find_elements(By.CSS_SELECTOR, "th[data-scope]")}
    assert scopes == {KIOSK}


def test_the_monthly_report_page_for_the_street_office_in_both_languages(rig):
    d = rig["driver"]
    as_user(rig, "jiedao")
    press(d, By.ID, "nav-monthly")
    assert "街道月报" in text(d)
    fill(d, "month", (datetime.now(DISTRICT) - timedelta(days=5)).strftime("%Y-%m"))   # every station has records
    press(d, By.CSS_SELECTOR, "form.toolbar button")
    scopes = [e.get_attribute("data-scope") for e in d.find_elements(By.CSS_SELECTOR, "th[data-scope]")]
    assert scopes[-1] == "全区" and {KIOSK, OTHER} <= set(scopes)
    assert "健康自测" in text(d) and "血压测量（次）" in text(d)
    Select(d.find_element(By.ID, "station-choice")).select_by_value(OTHER)
    press(d, By.CSS_SELECTOR, "form.toolbar button")
    assert [e.get_attribute("data-scope") for e in d.find_elements(By.CSS_SELECTOR, "th[data-scope]")] == [OTHER]
    assert f"station={OTHER}" in d.find_element(By.ID, "monthly-pdf").get_attribute("href")
    press(d, By.LINK_TEXT, "English")
    assert "Monthly report for the street office" in text(d) and "BP measurements" in text(d)
    d.get(f"{rig['url']}/lang/zh?next=/reports/monthly")
