"""The demo as ``make run`` starts it — its broker, hub and workbench, the kiosk with its simulated card
reader — on a machine whose clock is UTC; the kiosk moved by real touches, the workbench by real
headless Chromium:

- at its first start the kiosk shows the demo's announcement, an activity and the station's
  information, with nothing published by hand (the demo publishes its documents retained at start);
- the kiosk and the workbench agree on the activity's time, 09:00 in the district;
- a resident asks for 代购 at the kiosk; the clerk assigns it by picking the volunteer in the
  workbench (the page says it is assigned, not accepted); the task shows in the volunteer's
  我的任务 at the kiosk, is marked done, confirmed and rated by the resident's card; the workbench
  shows it confirmed."""
from __future__ import annotations

import dataclasses
import os
import time

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from kiosk.community.kinds import CONFIRMED
from kiosk.documents import applied_versions
from kiosk.settings import load_settings
from tests.screens.test_health_flow import identify, place
from tests.support.touch import press, visible_texts

pytestmark = [pytest.mark.services, pytest.mark.browser]


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory):
    from app.demo import DemoRig
    from app.demo_hub import ACCOUNTS, start_demo_services
    from app.kiosk_app import HeadlessShell, start_device_services, start_sync
    from hub.web.tour import chromium, sign_in
    from kiosk.context import build_context
    from kiosk.identify_sources import IdentitySources

    was = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"                        # the machine's own zone; the district's is Asia/Shanghai
    time.tzset()
    data = tmp_path_factory.mktemp("fresh-demo")
    rig = DemoRig(load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data)}))
    settings = rig.start()                          # as app.main: simulators and the local roster first
    services = start_demo_services(settings.data_dir, settings.station.id)      # broker, hub, workbench
    assert services is not None, "mosquitto is installed by make test's set-up"
    sync = dataclasses.replace(settings.sync, enabled=True, host=services.host, port=services.port,
                               document_public_key=services.public_key)
    ctx = build_context(dataclasses.replace(settings, sync=sync))
    ctx.services["demo"] = rig
    h = HeadlessShell(ctx)
    sources = IdentitySources(ctx.settings, ctx.services["identity"], ctx.status, h.post,
                              on_event=h.shell.on_identity_event)
    ctx.services["identity_sources"] = sources
    sources.start()
    rig.deliver, rig.identity = h.shell.on_identity_event, ctx.services["identity"]
    rig.reader_empty = lambda: ctx.status.get("idcard").get("card") is False
    start_device_services(ctx, h.post)
    start_sync(ctx)
    driver = chromium()
    try:
        sign_in(driver, services.web.url.rstrip("/"), ACCOUNTS[1][0], ACCOUNTS[1][1])
        yield h, driver, services, rig
    finally:
        driver.quit()
        h.close()
        ctx.close()
        rig.stop()
        services.stop()
        if was is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = was
        time.tzset()


def test_a_fresh_demo_shows_an_activity_station_info_and_the_announcement_at_its_first_start(fresh_demo):
    h, _driver, _services, _rig = fresh_demo
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
    h, driver, services, _rig = fresh_demo
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


def test_the_clerk_assigns_by_picking_the_volunteer_who_does_it_and_the_resident_confirms(fresh_demo):
    h, d, services, rig = fresh_demo
    h.ctx.session.set_language("zh_CN")
    identify(h, rig, "请求服务")
    press(h, "请求服务")
    press(h, "代购")
    press(h, "尽快")
    press(h, "请带回小票")
    press(h, "提交请求")
    number = h.screen("request").number
    [asked] = [r for r in h.ctx.journal.records("service_request") if r.payload.number == number]
    base = services.web.url.rstrip("/")
    station = h.ctx.settings.station.id
    row = f'tr[data-request="{number}"]'

    def on_page() -> bool:
        d.get(f"{base}/s/{station}/requests")
        return bool(d.find_elements(By.CSS_SELECTOR, row))
    assert h.pump_until(on_page, 30)
    shown = d.find_element(By.CSS_SELECTOR, row).text
    assert "代购" in shown and "请带回小票" in shown and "测*甲" in shown      # the note and the masked name
    picker = Select(d.find_element(By.ID, f"volunteer-{number}"))
    names = [o.text for o in picker.options]
    assert any(n.startswith("测试乙 · 暖心橙") for n in names) and any(n.startswith("王小明") for n in names)
    picker.select_by_visible_text(next(n for n in names if n.startswith("测试乙")))
    d.find_element(By.ID, f"assign-{number}").click()

    def body_text() -> str:                     # the form posts, then the page loads again
        try:
            return d.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return ""
    assert h.pump_until(lambda: "已派给 测试乙" in body_text(), 30)
    assert "已派给 测试乙（志愿者尚未在终端操作）" in d.find_element(By.CSS_SELECTOR, row).text   # not "accepted"

    community = h.ctx.services["community"]
    assert h.pump_until(lambda: community.view(asked.payload.request_id).volunteer_id == "V0001", 30)
    identify(h, rig, "志愿服务", card="resident_young")              # 测试乙 at the kiosk
    press(h, "我的任务")
    first = next(t for t in visible_texts(h.shell) if t.startswith(number))
    assert "代购" in first
    assert "本站 · 时间：尽快 · 请带回小票" in visible_texts(h.shell)
    press(h, "标记完成")
    assert h.shell.manager.current == "service" and h.screen("service").phase == "confirm"
    place(h, rig, "resident")                                         # the resident who asked
    assert h.pump_until(lambda: h.screen("service").phase == "rate", 10)
    press(h, "非常满意")
    assert community.view(asked.payload.request_id).state == CONFIRMED

    def confirmed() -> bool:
        d.get(f"{base}/s/{station}/requests?all=1")
        rows = d.find_elements(By.CSS_SELECTOR, row)
        return bool(rows) and "居民已确认" in rows[0].text
    assert h.pump_until(confirmed, 30)
    h.shell.home()
