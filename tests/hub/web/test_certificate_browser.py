"""志愿服务证明 from the workbench in real headless Chromium: the picker offers every volunteer with
credited hours (by name, with the hours) and no one with 0 h; the chosen certificate downloads and
renders (pdftoppm) with the volunteer's name, the station's name and the hours. The volunteers CSV
names the volunteers and their stations."""
from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from hub.publishing import current
from hub.web.app import create_app
from hub.web.demo import STATION_NAMES
from hub.web.server import BackgroundServer
from hub.web.tour import chromium, sign_in
from tests.hub.web.conftest import PASSWORD, make_workbench

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    wb = make_workbench(str(tmp_path_factory.mktemp("cert") / "hub.sqlite3"))
    server = BackgroundServer(create_app(wb)).start()
    driver = chromium()
    try:
        sign_in(driver, server.url, "jiedao", PASSWORD)
        yield wb, server, driver
    finally:
        driver.quit()
        server.stop()
        wb.store.close()


def test_a_certificate_for_a_volunteer_with_credited_hours_downloads_and_renders(office, tmp_path):
    _wb, server, d = office
    d.get(server.url + "/reports")
    picker = Select(d.find_element(By.CSS_SELECTOR, "#certificate-form select[name=volunteer]"))
    offered = {o.get_attribute("value"): o.text for o in picker.options}
    assert offered["v-wang"] == "王小明（v-wang）· 3 小时"
    assert "v-zhao" in offered and "v-li" in offered                 # every volunteer with credited hours …
    picker.select_by_value("v-wang")
    form = d.find_element(By.ID, "certificate-form")
    url = f"{server.url}{form.get_attribute('action').split(server.url, 1)[-1]}?volunteer=v-wang"
    cookies = {c["name"]: c["value"] for c in d.get_cookies()}
    pdf = requests.get(url, cookies=cookies, timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    (tmp_path / "c.pdf").write_bytes(pdf.content)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-singlefile", str(tmp_path / "c.pdf"), str(tmp_path / "c")],
                   check=True)
    assert (tmp_path / "c.png").stat().st_size > 10_000                # it renders
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "姓名：王小明" in text and f"服务驿站：{STATION_NAMES[0]}" in text and "累计 3 小时" in text
    assert "—至—" not in text


def test_no_certificate_for_zero_hours_and_the_volunteers_csv_names_people_and_stations(office):
    wb, server, d = office
    roster = current(wb.store, "roster")[1]
    wb.store.prepare_document("roster", {**roster, "volunteers": [*roster["volunteers"],
                                                                  {"id": "v-new", "name": "周新", "card_uid": "04FFEE01"}]})   # 0 h so far
    d.get(server.url + "/reports")
    offered = [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#certificate-form option")]
    assert "v-wang" in offered and "v-new" not in offered
    cookies = {c["name"]: c["value"] for c in d.get_cookies()}
    refused = requests.get(f"{server.url}/reports/certificate.pdf?volunteer=v-new", cookies=cookies, timeout=30)
    assert refused.status_code == 400 and not refused.content.startswith(b"%PDF")
    assert "no credited hours" in refused.text or "没有" in refused.text
    month = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).strftime("%Y-%m")
    raw = requests.get(f"{server.url}/reports/volunteers.csv?month={month}", cookies=cookies, timeout=30)
    rows = list(csv.DictReader(io.StringIO(raw.content.decode("utf-8-sig"))))
    wang = next(r for r in rows if r["类别"] == "志愿者" and r["编号"] == "v-wang")
    assert (wang["名称"], wang["队伍"], wang["驿站"]) == ("王小明", "党旗红", STATION_NAMES[0])
    station = next(r for r in rows if r["类别"] == "驿站")
    assert station["名称"] in STATION_NAMES
