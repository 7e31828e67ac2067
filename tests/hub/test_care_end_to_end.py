"""Done-means test of screening to care: two kiosks, one real Mosquitto, one hub process, the care
worklist in real headless Chromium, the street office's figures and a FHIR Bundle.

A resident at station A reads 150/95 and is told to come back (with the date); reads 148/92 two
days later at station B and 152/96 a week after that at A (test clock). The care team's worklist
shows "referral suggested" with the three readings; the referral and its outcome are recorded in
the browser; the month's figures count each step once, also after B resends everything; the
resident's FHIR Bundle validates against the FHIR model library, its LOINC codes against a table.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from drivers.readings import BloodPressureReading, DeviceInfo
from hub import care
from hub.web.accounts import add_user
from hub.web.app import Workbench, create_app
from hub.web.server import BackgroundServer
from hub.web.tour import chromium, sign_in
from kiosk.care import advice_after, record_care_consent
from kiosk.health import assess_bp
from kiosk.health_records import record_measurement
from kiosk.journal import Journal
from tests.hub.test_two_kiosks_timebank import Station, hub_db  # noqa: F401  (fixture)
from tests.hub.web.test_browser import press, text
from tests.kiosk.test_volunteer import Clock
from tests.support.signing import HUB_KEY
from tests.sync.helpers import hub_rows

pytestmark = [pytest.mark.services, pytest.mark.browser]

TZ = ZoneInfo("Asia/Shanghai")
KEY = "c3" * 32
PASSWORD = "care-team-2026-12"
DEVICE = DeviceInfo(driver="sim", model="Sim BP")
#: The LOINC codes a blood-pressure Observation must carry (docs/protocols.md §5.3), checked here
#: against the export, not against the code that wrote it.
LOINC = {"85354-9": "Blood pressure panel", "8480-6": "Systolic blood pressure",
         "8462-4": "Diastolic blood pressure", "8867-4": "Heart rate"}


def measure(station: Station, clock: Clock, systolic: int, diastolic: int):
    reading = BloodPressureReading(systolic, diastolic, 70, device=DEVICE)
    record, _ = record_measurement(station.journal, KEY, reading, assess_bp(systolic, diastolic),
                                   station_id=station.name, rested=True, created_at=clock.now())
    return advice_after(station.journal, (KEY,), record)


def test_three_high_readings_at_two_stations_lead_to_a_referral_followed_up_and_counted_once(tmp_path, mosquitto,
                                                                                              hub_db):
    day0 = (datetime.now(TZ) - timedelta(days=12)).replace(hour=9, minute=30, second=0, microsecond=0)
    clock = Clock(day0.astimezone(timezone.utc))
    a = Station(tmp_path, "st-a", mosquitto.port, clock).start()
    b = Station(tmp_path, "st-b", mosquitto.port, clock).start()
    wb = Workbench(db=str(hub_db), secure_cookies=False, signing_key=HUB_KEY)
    add_user(wb.engine, "doc", PASSWORD, "care", ["st-a"], display_name="李医生", actor="test")
    add_user(wb.engine, "jiedao", PASSWORD, "district", display_name="街道", actor="test")
    server = BackgroundServer(create_app(wb)).start()
    driver = chromium()
    try:
        record_care_consent(a.journal, KEY, True, now=clock.now())
        first = measure(a, clock, 150, 95)
        tomorrow = (day0 + timedelta(days=1)).date()
        assert first is not None and (first.due, first.number) == (tomorrow, 2)
        assert f"请在{tomorrow.month}月{tomorrow.day}日以后再来复测一次" in first.text("zh_CN")
        assert "Sit quietly for 5 minutes" in first.text("en")
        clock.advance(days=2)
        measure(b, clock, 148, 92)
        clock.advance(days=7)
        third = measure(a, clock, 152, 96)
        assert third is not None and third.status == "two_of_three"     # A alone has seen two of them
        assert a.drained(hub_db) and b.drained(hub_db)

        sign_in(driver, server.url, "doc", PASSWORD)
        driver.get(server.url + "/care")
        page = text(driver)
        assert "建议转诊" in page and KEY[:8] in page
        press(driver, By.CSS_SELECTOR, "#care-worklist a")
        page = text(driver)
        for date_, station, value in ((day0, "st-a", "150/95"), (day0 + timedelta(days=2), "st-b", "148/92"),
                                      (day0 + timedelta(days=9), "st-a", "152/96")):
            assert f"{date_.date().isoformat()} {station} {value} mmHg" in page
        assert driver.find_elements(By.CSS_SELECTOR, "#track-bp svg.chart rect")
        press(driver, By.ID, "refer-bp")
        assert "已转诊" in text(driver)
        Select(driver.find_element(By.ID, "outcome-bp")).select_by_value("confirmed")
        press(driver, By.ID, "record-outcome-bp")
        assert "已登记结果" in text(driver) and "确诊，已在医疗机构管理" in text(driver)
        driver.get(server.url + "/care")
        assert "目前没有需要跟进的居民" in text(driver)

        def figures() -> dict[str, int]:
            months = sorted({(day0 + timedelta(days=d)).strftime("%Y-%m") for d in range(0, 13)})
            total: dict[str, int] = {}
            for month in months:
                for step, n in care.month_figures(wb.engine, month).get("st-a", {}).items():
                    total[step] = total.get(step, 0) + n
            return total
        expected = {"elevated": 1, "rechecked": 1, "referral_suggested": 1, "referred": 1, "outcome": 1,
                    "outcome_on_time": 1}
        assert figures() == expected
        stored = len(hub_rows(hub_db))
        b.stop()
        with sqlite3.connect(b.data_dir / Journal.FILENAME) as con:      # B resends everything it ever sent
            con.execute("UPDATE outbox SET state = 'ready', batch_id = NULL")
        b = Station(tmp_path, "st-b", mosquitto.port, clock).start()
        assert b.drained(hub_db)
        assert len(hub_rows(hub_db)) == stored and figures() == expected

        driver.delete_all_cookies()                                        # the street office's monthly report
        sign_in(driver, server.url, "jiedao", PASSWORD)
        report: dict[str, float] = {}
        for month in sorted({(day0 + timedelta(days=d)).strftime("%Y-%m") for d in range(0, 13)}):
            driver.get(server.url + f"/reports/monthly?month={month}")
            for row in driver.find_elements(By.CSS_SELECTOR, "table#monthly tr[data-item]"):
                category, item = row.get_attribute("data-item").split("/", 1)
                if category == "公共卫生":
                    value = float(row.find_element(By.CSS_SELECTOR, 'td[data-scope="全区"]').text)
                    report[item] = report.get(item, 0) + value
        assert report == {"首次测得偏高（人）": 1, "非同日复测（人）": 1, "三次偏高建议转诊（人）": 1, "已转诊（人）": 1,
                          "转诊结果已登记（人）": 1, "两周内随访到结果（人）": 1}
        driver.delete_all_cookies()
        sign_in(driver, server.url, "doc", PASSWORD)

        out = tmp_path / "bundle.json"
        done = subprocess.run([sys.executable, "-m", "app.cli", "hub", "export", "fhir", KEY, "--db", str(hub_db),
                               "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        body = json.loads(out.read_text("utf-8"))
        Bundle.model_validate(body)
        resources = [e["resource"] for e in body["entry"]]
        observations = [r for r in resources if r["resourceType"] == "Observation"]
        assert len(observations) == 3
        for obs in observations:
            codes = [obs["code"]["coding"][0]] + [c["code"]["coding"][0] for c in obs["component"]]
            assert all(c["system"] == "http://loinc.org" and LOINC[c["code"]] == c["display"] for c in codes)
            assert [c["valueQuantity"]["code"] for c in obs["component"][:2]] == ["mm[Hg]", "mm[Hg]"]
            assert obs["subject"]["identifier"] == {"system": "urn:yizhan:person-key", "value": KEY}
            assert obs["interpretation"][0]["coding"][0]["code"].startswith("bp_")
        [referral] = [r for r in resources if r["resourceType"] == "ServiceRequest"]
        assert referral["status"] == "completed" and len(referral["reasonReference"]) == 3
        driver.get(server.url + f"/care/{KEY}")
        href = driver.find_element(By.ID, "fhir-export").get_attribute("href")   # the workbench's export link
        got = driver.execute_async_script(
            "fetch(arguments[0]).then(r => r.text()).then(arguments[arguments.length - 1])", href)
        from_page = json.loads(got)
        Bundle.model_validate(from_page)
        assert [e["resource"]["id"] for e in from_page["entry"]] == [e["resource"]["id"] for e in body["entry"]]
    finally:
        driver.quit()
        server.stop()
        wb.store.close()
        a.stop()
        b.stop()
