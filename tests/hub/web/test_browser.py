"""The workbench in real headless Chromium, against a real Mosquitto, a real hub process and a
real kiosk publisher: sign-in, scope, an urgent alert appearing without reload and handled,
a shift review that reaches the monthly report, and a catalog a kiosk applies.

One browser for the whole module; each test signs in as the account it needs.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait

from app.doctor import FAIL, OK, Check, summary
from drivers.readings import BloodPressureReading, DeviceInfo
from hub import requests as hr
from hub.publishing import current
from hub.web import work
from hub.web.audit import entries
from hub.web.demo import STATIONS
from hub.web.tour import gone, sign_in
from kiosk.community.kinds import ASAP, ASSIGNED
from kiosk.community.requests import Requests
from kiosk.documents import current_documents
from kiosk.health import assess_bp
from kiosk.health_records import record_measurement
from kiosk.session import Person
from kiosk.settings import VolunteerSettings
from kiosk.timebank.service import TimeBank
from sync.downlink import applied_versions
from tests.hub.web.conftest import PASSWORD, browser_rig
from tests.support.services import wait_for

pytestmark = pytest.mark.browser

KIOSK = STATIONS[0]


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """Broker, hub process, workbench (publishing to the broker), a kiosk publisher, one browser."""
    with browser_rig(tmp_path_factory.mktemp("rig"), KIOSK) as parts:
        yield parts


def as_user(rig, username: str) -> None:
    rig["driver"].delete_all_cookies()
    sign_in(rig["driver"], rig["url"], username, PASSWORD)


def text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def press(driver, by: str, what: str, within: str | None = None) -> None:
    """Click what a person would click, then wait for the next page (the rows under the htmx poll can
    be replaced between finding and clicking: find again then)."""
    def attempt(d):
        try:
            scope = d.find_element(By.CSS_SELECTOR, within) if within else d
            old = d.find_element(By.TAG_NAME, "html")
            scope.find_element(by, what).click()
            return old
        except StaleElementReferenceException:
            return False
    old = WebDriverWait(driver, 10, 0.05).until(attempt)
    WebDriverWait(driver, 15, 0.05).until(lambda d: gone(old) and d.execute_script("return document.readyState")
                                          == "complete")


def test_sign_in_refuses_a_wrong_password_and_lets_the_right_one_in(rig):
    d = rig["driver"]
    d.delete_all_cookies()
    sign_in(d, rig["url"], "zhang", "not-the-password")
    assert "用户名或密码错误" in text(d)
    assert d.current_url.endswith("/login")
    sign_in(d, rig["url"], "zhang", PASSWORD)
    assert d.current_url.endswith(f"/s/{KIOSK}/today")
    assert f"驿站 {KIOSK} 今日" in text(d)


def test_station_staff_see_only_their_station(rig):
    d = rig["driver"]
    as_user(rig, "zhang")
    d.get(f"{rig['url']}/s/{STATIONS[1]}/alerts")
    assert f"驿站 {STATIONS[1]} 不在您的账号权限内" in text(d)
    assert not d.find_elements(By.CSS_SELECTOR, "tr.alert-row")
    d.get(f"{rig['url']}/stations")
    listed = {e.text for e in d.find_elements(By.CSS_SELECTOR, "td a strong")}
    assert listed == {KIOSK}


def test_an_urgent_alert_from_a_kiosk_appears_without_reload_and_is_handled(rig):
    d = rig["driver"]
    as_user(rig, "zhang")
    d.get(f"{rig['url']}/s/{KIOSK}/today")
    d.execute_script("window.__notReloaded = true;")
    device = DeviceInfo(driver="maibobo", model="RBP-9000", serial="T1")
    reading = BloodPressureReading(186, 112, 90, device, taken_at=datetime.now().replace(microsecond=0), device_seq=7)
    _m, alert = record_measurement(rig["journal"], "ab" * 32, reading, assess_bp(186, 112), station_id=KIOSK)
    rig["publisher"].wake()
    WebDriverWait(d, 15, 0.1).until(lambda drv: drv.find_elements(By.CSS_SELECTOR, f'tr[data-alert="{alert.id}"]'))
    assert d.execute_script("return window.__notReloaded === true;"), "the page was reloaded"
    row = f'tr[data-alert="{alert.id}"]'
    assert "186/112 mmHg" in d.find_element(By.CSS_SELECTOR, row).text
    assert "新预警" in d.find_element(By.CSS_SELECTOR, row).text
    press(d, By.CSS_SELECTOR, "a.button", within=row)
    press(d, By.ID, "ack")
    assert "已确认" in text(d)
    d.find_element(By.CSS_SELECTOR, 'input[name="action"][value="called_120"]').click()
    d.find_element(By.ID, "note").send_keys("120 已到场")
    press(d, By.ID, "save-action")
    assert "已拨打 120" in d.find_element(By.ID, "alert-action").text
    press(d, By.ID, "resolve")
    assert "预警已处理完毕" in text(d)
    assert not d.find_elements(By.CSS_SELECTOR, f'tr[data-alert="{alert.id}"]')
    state = work.get_alert(rig["wb"].engine, KIOSK, alert.id)
    assert state.state == "resolved" and state.action == "called_120" and state.acknowledged_by == "zhang"
    actions = [e["action"] for e in entries(rig["wb"].engine) if e["target"] == alert.id]
    assert actions == ["alert.resolve", "alert.action", "alert.acknowledge"]


def test_a_device_fault_the_kiosk_reports_shows_on_today(rig):
    d = rig["driver"]
    as_user(rig, "zhang")
    d.get(f"{rig['url']}/s/{KIOSK}/today")
    assert not d.find_elements(By.ID, "faults")
    checks = [Check("printer", FAIL, "打印机缺纸 (paper out)"), Check("bp", OK, "maibobo answers")]
    rig["publisher"].set_health(summary(checks))
    rig["publisher"].wake()
    WebDriverWait(d, 20, 0.2).until(lambda drv: drv.refresh() or drv.find_elements(By.ID, "faults"))
    faults = d.find_element(By.ID, "faults").text
    assert "printer" in faults and "打印机缺纸" in faults and "bp" not in faults
    assert "设备故障 1 项" in text(d)


def test_a_credited_review_appears_in_the_monthly_report(rig):
    d = rig["driver"]
    as_user(rig, "jiedao")
    d.get(f"{rig['url']}/s/{KIOSK}/reviews")
    row = d.find_element(By.CSS_SELECTOR, "tr[data-review]")
    assert "李芳" in row.text
    hours = row.find_element(By.NAME, "hours")
    hours.clear()
    hours.send_keys("2.5")
    press(d, By.CSS_SELECTOR, "button.credit", within="tr[data-review]")
    assert "已核定 2.5 小时" in text(d)
    assert d.find_elements(By.ID, "nothing-to-review")
    month = (datetime.now(timezone(timedelta(hours=8))) - timedelta(days=1, hours=3)).strftime("%Y-%m")
    cookies = {c["name"]: c["value"] for c in d.get_cookies()}
    resp = requests.get(f"{rig['url']}/reports/volunteers.csv?month={month}", cookies=cookies, timeout=30)
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    li = next(r for r in rows if r["类别"] == "志愿者" and r["编号"] == "v-li")
    assert float(li["核定时长"]) == 2.5


def test_a_published_catalog_is_applied_by_the_kiosk(rig):
    d = rig["driver"]
    as_user(rig, "jiedao")
    d.get(f"{rig['url']}/publish?type=catalog&scope=_all")
    body = {"services": [{"id": "errand", "name": "代办"}, {"id": "haircut", "name": "上门理发"}],
            "announcements": [{"id": "a2", "text": "周三下午免费理发"}]}
    area = d.find_element(By.ID, "body")
    area.clear()
    area.send_keys(json.dumps(body, ensure_ascii=False))
    press(d, By.ID, "preview")
    assert "上门理发" in d.find_element(By.ID, "diff").text
    press(d, By.ID, "publish")
    assert "已发布 catalog 第 3 版" in text(d)
    assert wait_for(lambda: applied_versions(rig["data_dir"]).get("catalog") == 3, 20, 0.1)
    applied = current_documents(rig["data_dir"])["catalog"]
    assert any(s["name"] == "上门理发" for s in applied["body"]["services"])


def test_an_invalid_document_is_refused_with_the_reason_and_nothing_changes(rig):
    d = rig["driver"]
    as_user(rig, "jiedao")
    d.get(f"{rig['url']}/publish?type=catalog&scope=_all")
    before = current(rig["wb"].store, "catalog")
    area = d.find_element(By.ID, "body")
    area.clear()
    area.send_keys('{"services": [{"id": "x"}]}')
    press(d, By.ID, "preview")
    message = d.find_element(By.ID, "publish-error").text
    assert "终端会拒收" in message and "name" in message
    assert not d.find_elements(By.ID, "publish")
    assert current(rig["wb"].store, "catalog") == before                # nothing was published


def test_a_request_asked_at_the_kiosk_is_assigned_in_the_workbench_and_the_kiosk_sees_it(rig):
    bank = TimeBank(rig["journal"], VolunteerSettings(), station_id=KIOSK, data_dir=rig["data_dir"])
    kiosk = Requests(rig["journal"], bank, rig["data_dir"])
    asked = kiosk.ask(Person(role="resident", person_key="c" * 64, display_name="钱*"), "visit-b", "errand", ASAP)
    rig["publisher"].wake()
    assert wait_for(lambda: asked.number in {r["number"] for r in hr.queue(rig["wb"].engine, KIOSK)}, 20, 0.1)
    d = rig["driver"]
    as_user(rig, "zhang")
    d.get(f"{rig['url']}/s/{KIOSK}/requests")
    assert asked.number in text(d) and "代办" in text(d)      # 代办 is in the defaults and the catalog above
    Select(d.find_element(By.ID, f"volunteer-{asked.number}")).select_by_value("v-wang")
    press(d, By.ID, f"assign-{asked.number}")
    assert "已派给 王小明" in text(d) and "志愿者尚未接单" in text(d)
    assert wait_for(lambda: kiosk.view(asked.request_id).state == ASSIGNED, 20, 0.1)
    assert kiosk.view(asked.request_id).volunteer_id == "v-wang"
