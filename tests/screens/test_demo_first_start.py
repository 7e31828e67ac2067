"""A fresh demo, as ``make run`` starts it, on a machine whose clock is UTC: at its first start the
kiosk shows the demo's announcement, an activity and the station's information, with nothing
published by hand (the demo publishes its documents retained at start); and the kiosk and the
workbench (real headless Chromium) agree on the activity's time, 09:00 in the district."""
from __future__ import annotations

import dataclasses
import os
import time

import pytest
from selenium.webdriver.common.by import By

from kiosk.documents import applied_versions
from kiosk.settings import load_settings
from tests.support.touch import press, visible_texts

pytestmark = [pytest.mark.services, pytest.mark.browser]


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory):
    from app.demo_hub import ACCOUNTS, start_demo_services
    from app.kiosk_app import HeadlessShell, start_sync
    from hub.web.tour import chromium, sign_in
    from kiosk.context import build_context

    was = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"                        # the machine's own zone; the district's is Asia/Shanghai
    time.tzset()
    data = tmp_path_factory.mktemp("fresh-demo")
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data)})
    services = start_demo_services(settings.data_dir, settings.station.id)      # broker, hub, workbench
    assert services is not None, "mosquitto is installed by make test's set-up"
    sync = dataclasses.replace(settings.sync, enabled=True, host=services.host, port=services.port,
                               document_public_key=services.public_key)
    ctx = build_context(dataclasses.replace(settings, sync=sync))
    h = HeadlessShell(ctx)
    start_sync(ctx)
    driver = chromium()
    try:
        sign_in(driver, services.web.url.rstrip("/"), ACCOUNTS[1][0], ACCOUNTS[1][1])
        yield h, driver, services
    finally:
        driver.quit()
        h.close()
        ctx.close()
        services.stop()
        if was is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = was
        time.tzset()


def test_a_fresh_demo_shows_an_activity_station_info_and_the_announcement_at_its_first_start(fresh_demo):
    h, _driver, _services = fresh_demo
    data = h.ctx.settings.data_dir
    assert h.pump_until(lambda: {"calendar", "catalog", "config", "roster"} <= set(applied_versions(data)), 30)
    h.shell.home()
    h.frames(3)
    assert "公告：本周六上午九点健康讲座" in visible_texts(h.shell)
    press(h, "近期活动")
    assert any("高血压健康讲座" == t for t in visible_texts(h.shell))
    h.shell.home()
    press(h, "驿站信息")
    shown = visible_texts(h.shell)
    assert "周一至周五   08:30-17:00" in shown and "本站尚未发布" not in " ".join(shown)


def test_the_kiosk_on_a_utc_machine_and_the_workbench_agree_on_an_activitys_time(fresh_demo):
    h, driver, services = fresh_demo
    assert h.pump_until(lambda: "calendar" in applied_versions(h.ctx.settings.data_dir), 30)
    h.shell.home()
    press(h, "近期活动")
    kiosk_times = [t for t in visible_texts(h.shell) if "09:00-10:30" in t]
    assert kiosk_times, visible_texts(h.shell)                    # the talk, at 09:00 in the district
    assert time.strftime("%z") == "+0800"                         # the kiosk process keeps the district's clock
    driver.get(services.web.url.rstrip("/") + "/s/demo-001/activities")
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#activities tbody tr") if "高血压健康讲座" in r.text)
    assert " 09:00–10:30" in row.text
    h.shell.home()
