"""``yizhan hub web --tour DIR``: a screenshot of every workbench page, over demo data, in the
system's headless Chromium (Selenium), in Chinese and a few in English, full page height.

Selenium is imported here only: it is a heavy optional library the workbench itself never needs.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from hub.web.app import Workbench, create_app
from hub.web.demo import ACCOUNTS, STATIONS, person, seed
from hub.web.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

#: (file name, path, account) in the order a clerk would walk them.
PAGES = (
    ("01-login", "/login", None),
    ("02-overview", "/today", "jiedao"),
    ("03-today", f"/s/{STATIONS[0]}/today", "jiedao"),
    ("04-alerts", f"/s/{STATIONS[0]}/alerts", "jiedao"),
    ("05-alert", None, "jiedao"),
    ("06-followups", f"/s/{STATIONS[0]}/followups", "jiedao"),
    ("07-volunteers", "/volunteers", "jiedao"),
    ("08-reviews", f"/s/{STATIONS[0]}/reviews", "jiedao"),
    ("09-reports", "/reports", "jiedao"),
    ("10-stations", "/stations", "jiedao"),
    ("11-station", f"/s/{STATIONS[1]}/station", "jiedao"),
    ("12-publish", "/publish?type=catalog&scope=_all", "jiedao"),
    ("13-residents", f"/residents?q={person(90)[:10]}", "jiedao"),
    ("14-resident", f"/residents/{person(90)}", "jiedao"),
    ("15-audit", "/audit", "jiedao"),
    ("16-users", "/admin/users", "admin"),
    ("17-staff-today", f"/s/{STATIONS[0]}/today", "zhang"),
    ("18-staff-other-station", f"/s/{STATIONS[1]}/today", "zhang"),
    ("23-staff-requests", f"/s/{STATIONS[0]}/requests", "zhang"),
    ("24-staff-wishes", f"/s/{STATIONS[0]}/wishes", "zhang"),
    ("25-staff-activities", f"/s/{STATIONS[0]}/activities", "zhang"),
    ("26-staff-monthly", "/reports/monthly", "zhang"),
    ("27-staff-other-station-wishes", f"/s/{STATIONS[1]}/wishes", "zhang"),
    ("28-activities-district", "/activities", "jiedao"),
    ("29-monthly-district", "/reports/monthly", "jiedao"),
    ("30-wishes-all", f"/s/{STATIONS[0]}/wishes?all=1", "jiedao"),
    ("34-care", "/care", "jiedao"),
    ("35-care-resident", f"/care/{person(95)}", "jiedao"),
)
#: Pages shown again in English (after the Chinese walk, signed in as the street office).
ENGLISH = (("20-en-today", f"/s/{STATIONS[0]}/today"), ("21-en-reports", "/reports"),
           ("31-en-wishes", f"/s/{STATIONS[0]}/wishes"), ("32-en-activities", f"/s/{STATIONS[0]}/activities"),
           ("33-en-monthly", "/reports/monthly"))


def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium driven by Selenium (the Debian packages ``chromium`` and ``chromium-driver``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                "--lang=zh-CN", "--disable-gpu"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def sign_in(driver, base: str, username: str, password: str) -> None:
    """Sign in through the form, as a person does, and wait for the page that answers."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    form = driver.find_element(By.TAG_NAME, "form")
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 15, 0.05).until(lambda d: gone(form) and d.execute_script(
        "return document.readyState") == "complete")


def gone(element) -> bool:
    """True once ``element`` no longer belongs to the page shown (the browser moved on)."""
    from selenium.common.exceptions import WebDriverException
    try:
        element.is_enabled()
        return False
    except WebDriverException:        # stale, or "node does not belong to the document" mid-navigation
        return True


def _full_page(driver, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    frame = driver.execute_script("return window.outerHeight - window.innerHeight")    # the window's own bars
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(600, min(height + frame + 8, 4000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 900)


def tour(out_dir: str | Path) -> list[Path]:
    """Write the screenshots into ``out_dir``; returns their paths."""
    from selenium.webdriver.common.by import By
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    passwords = {a[0]: a[1] for a in ACCOUNTS}
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="yizhan-tour-") as tmp:
        wb = Workbench(db=str(Path(tmp) / "hub.sqlite3"), secure_cookies=False, issuer="浦东新区张江镇市民驿站")
        seed(wb.engine)
        server = BackgroundServer(create_app(wb)).start()
        driver = chromium()
        try:
            who = None
            for name, path, account in PAGES:
                if account != who:
                    driver.delete_all_cookies()
                    if account:
                        sign_in(driver, server.url, account, passwords[account])
                    who = account
                if path is None:       # the first alert of the list
                    driver.get(f"{server.url}/s/{STATIONS[0]}/alerts")
                    path = driver.find_element(By.CSS_SELECTOR, "tr.alert-row a.button").get_attribute("href")
                    driver.get(path)
                else:
                    driver.get(server.url + path)
                written.append(out / f"{name}.png")
                _full_page(driver, written[-1])
            driver.get(server.url + "/lang/en?next=" + f"/s/{STATIONS[0]}/today")
            for name, path in ENGLISH:
                driver.get(server.url + path)
                written.append(out / f"{name}.png")
                _full_page(driver, written[-1])
            driver.set_window_size(820, 1180)         # a tablet, portrait
            driver.get(server.url + "/lang/zh?next=" + f"/s/{STATIONS[0]}/alerts")
            written.append(out / "22-tablet-alerts.png")
            _full_page(driver, written[-1])
        finally:
            driver.quit()
            server.stop()
    return written
