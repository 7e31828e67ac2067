"""End to end on the real window with the demo rig's simulators (real protocols over ptys), moved
only by touches on what is visible (found by label) and cards placed on the simulated reader:
card → consent → health menu → blood pressure with a live gauge → result journaled; an urgent
reading raises an alert that jumps the outbox queue; glucose with its meal context; a health-check
day; a volunteer's shift, service and rating; registration; spending hours."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from drivers.readings import BloodPressureReading, DeviceInfo
from drivers.sim.idcard import SAMPLE_CARDS
from drivers.sim.printer import Text, parse_escpos
from kiosk.care import care_consent
from kiosk.health import assess_bp
from kiosk.health_records import record_measurement
from kiosk.settings import DEMO_ADMIN_PIN, load_settings
from kiosk.speech.numbers import read_int
from tests.support.touch import hold, press, press_keys, visible_texts


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from app.kiosk_app import HeadlessShell, start_device_services
    from kiosk.context import build_context
    from app.demo import DemoRig
    from kiosk.identify_sources import IdentitySources

    data = tmp_path_factory.mktemp("health-demo")
    rig = DemoRig(load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data)}))
    settings = rig.start()
    ctx = build_context(settings)
    ctx.services["demo"] = rig
    h = HeadlessShell(ctx)
    sources = IdentitySources(settings, ctx.services["identity"], ctx.status, h.post,
                              on_event=h.shell.on_identity_event)
    ctx.services["identity_sources"] = sources
    sources.start()
    rig.deliver, rig.identity = h.shell.on_identity_event, ctx.services["identity"]
    rig.reader_empty = lambda: ctx.status.get("idcard").get("card") is False
    start_device_services(ctx, h.post)
    assert h.pump_until(lambda: ctx.status.get("bp").get("state") == "connected", 10)
    yield h, rig
    h.close()
    ctx.close()


def place(h, rig, kind):
    """Take any card off the simulated reader, then place the sample card ``kind`` on it."""
    rig.remove_card()
    if h.ctx.status.get("idcard").get("card"):
        assert h.pump_until(lambda: h.ctx.status.get("idcard").get("card") is False, 5)
    rig.place_card(kind)


def identify(h, rig, tile="健康自测", card="resident"):
    """From home: tap a tile, place a card, agree to the consent if asked; ends on the greeting."""
    h.shell.home()
    h.frames(2)
    press(h, tile)
    assert h.shell.manager.current == "identify"
    place(h, rig, card)
    assert h.pump_until(lambda: h.shell.manager.current in ("consent", "greeting"), 10)
    h.frames(2)
    if h.shell.manager.current == "greeting" and "我现在同意" in visible_texts(h.shell):
        press(h, "我现在同意")                  # this person declined in an earlier test: agree now
    if h.shell.manager.current == "consent":
        press(h, "同意，继续")
    assert h.shell.manager.current == "greeting"


def open_admin(h):
    """Hold the hidden admin area, then type the demo PIN on the keypad."""
    corner = h.shell.ids.corner
    hold(h, *corner.to_window(*corner.center), seconds=h.ctx.settings.ui.admin_hold_s + 0.2)
    assert h.shell.manager.current == "admin_pin"
    press_keys(h, DEMO_ADMIN_PIN)
    press(h, "确定")
    assert h.shell.manager.current == "admin"


def test_blood_pressure_end_to_end_with_live_gauge_and_urgent_alert(demo):
    h, rig = demo
    identify(h, rig)
    press(h, "开始健康自测")
    press(h, "量血压")
    assert h.shell.manager.current == "measure"
    measure = h.screen("measure")
    gauge_values = []
    measure.bind(cuff=lambda _w, v: gauge_values.append(v))
    rig._bp_index = 3                      # the demo's next reading is the urgent one: 186/112
    press(h, "开始测量")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    assert any(v > 0 for v in gauge_values)   # the cuff pressure reached the gauge live, before the result
    result = h.screen("result")
    assert result.value == "186/112" and result.urgent
    assert result.follow_up == ""                 # an emergency now, not a recheck another day
    journal = h.ctx.journal
    record = journal.records("bp_measurement", newest_first=True, limit=1)[0]
    assert (record.payload.systolic, record.payload.diastolic) == (186, 112)
    assert record.payload.person_key == h.ctx.session.person.person_key
    alerts = journal.records("health_alert", where={"measurement_id": record.id})
    assert len(alerts) == 1
    from kiosk.outbox import Outbox
    outbox = Outbox(journal.path)
    try:
        first = outbox.claim_batch(1, 4 * 1024 * 1024)
        assert [r.id for r in first.records] == [alerts[0].id]     # the alert leaves first
    finally:
        outbox.close()
    h.frames(2)
    press(h, "看看变化")                          # the first tap works
    assert h.shell.manager.current == "records"
    assert "最近一次 186/112 毫米汞柱，" in h.screen("records").bp_latest
    press(h, "回到本次结果")                      # back to the result, where the slip can be printed
    assert h.shell.manager.current == "result" and h.screen("result").value == "186/112"
    press(h, "打印小票")
    assert h.pump_until(lambda: "打印好了" in h.screen("result").print_text, 10)


def test_stop_while_the_cuff_inflates_returns_to_the_start_button(demo):
    h, rig = demo
    identify(h, rig)
    press(h, "开始健康自测")
    press(h, "量血压")
    measurements = h.ctx.journal.count("bp_measurement")
    rig.bp.step_s = 0.5                          # a slow cuff, so the test is not a race with the monitor
    try:
        press(h, "开始测量")
        measure = h.screen("measure")
        assert measure.phase == "measuring"
        press(h, "停止")                         # the cuff deflates, nothing is measured
    finally:
        rig.bp.step_s = 0.12
    assert measure.phase == "ready"
    h.frames(30)
    assert h.shell.manager.current == "measure" and h.ctx.journal.count("bp_measurement") == measurements
    press(h, "返回")
    assert h.shell.manager.current == "health_menu"


def test_glucose_with_meal_context(demo):
    h, rig = demo
    identify(h, rig)
    press(h, "开始健康自测")
    press(h, "测血糖")
    press(h, "昨晚以后没吃东西", frames=2)
    assert h.shell.manager.current == "measure"
    rig._glucose_index = 1                 # 119 mg/dL = 6.6 mmol/L: impaired fasting glucose
    press(h, "读取结果")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    assert h.screen("result").value == "6.6"
    assert h.screen("result").second == "测量时间：空腹"          # the meal context it was judged by
    record = h.ctx.journal.records("glucose_measurement", newest_first=True, limit=1)[0]
    assert record.payload.category == "glu_ifg" and record.payload.meal.value == "fasting"


def test_records_show_the_trend(demo):
    h, rig = demo
    identify(h, rig, "健康自测")             # 我的记录 is one tap from the greeting (not a default home tile)
    press(h, "开始健康自测")                  # measure first: the test stands on its own in any order
    press(h, "量血压")
    rig._bp_index = 0
    press(h, "开始测量")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    value = h.screen("result").value
    h.shell.home()
    identify(h, rig, "健康自测")
    press(h, "我的记录")
    assert h.shell.manager.current == "records"
    records = h.screen("records")
    assert records.bp_series and f"最近一次 {value} 毫米汞柱" in records.bp_latest


@pytest.mark.slow
def test_health_check_day_attributes_measurements_and_closes_with_a_summary(demo):
    h, rig = demo
    h.shell.home()
    open_admin(h)
    press(h, "健康筛查日")
    day_screen = h.screen("health_day")
    assert h.shell.manager.current == "health_day"
    place(h, rig, "resident")                   # a resident cannot open the day
    assert h.pump_until(lambda: bool(day_screen.message), 10)
    assert day_screen.phase in ("closed", "summary")      # the last day's summary stays until a new day opens
    place(h, rig, "resident_young")             # the demo volunteer opens it
    assert h.pump_until(lambda: day_screen.phase == "open", 10)
    day = h.ctx.services["health_day"]
    place(h, rig, "resident")                   # first resident of the day
    assert h.pump_until(lambda: h.shell.manager.current in ("health_menu", "consent"), 10)
    h.frames(2)
    if h.shell.manager.current == "consent":     # a first visit: agreeing goes straight on to measuring
        press(h, "同意，继续")
    assert h.shell.manager.current == "health_menu"
    press(h, "量血压")
    rig._bp_index = 2                           # 162/101: grade 2, abnormal but not urgent
    press(h, "开始测量")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    record = h.ctx.journal.records("bp_measurement", newest_first=True, limit=1)[0]
    assert record.payload.session_id == day.session_id
    h.frames(2)
    press(h, "完成")                             # back to the day's queue, person wiped
    assert h.shell.manager.current == "health_day" and h.ctx.session.person is None
    assert "1" in day_screen.counts
    press(h, "结束健康筛查日")
    closed = h.ctx.journal.records("health_session_closed", where={"session_id": day.session_id})
    assert len(closed) == 1
    summary = closed[0].payload
    assert (summary.residents_measured, summary.measurements, summary.abnormal, summary.urgent) == (1, 1, 1, 0)
    assert day_screen.phase == "summary"


def test_volunteer_checks_in_records_a_service_and_the_resident_rates_it(demo):
    h, rig = demo
    identify(h, rig, "志愿服务", card="resident_young")     # the demo volunteer's ID card
    assert h.ctx.session.person.role == "volunteer"
    press(h, "志愿服务")
    page = h.screen("volunteer")
    if "签退" in visible_texts(h.shell):          # an earlier test left this volunteer on shift
        press(h, "签退")
        press(h, "完成")
        identify(h, rig, "志愿服务", card="resident_young")
        press(h, "志愿服务")
    checked_in = h.ctx.journal.count("volunteer_check_in")
    press(h, "签到")                             # no open shift: choose team and activity
    assert page.phase == "choose"
    press(h, "签到")
    assert page.phase == "done" and ":" in page.big
    assert h.ctx.journal.count("volunteer_check_in") == checked_in + 1
    press(h, "完成")
    assert h.shell.manager.current == "home"
    identify(h, rig, "志愿服务", card="resident_young")
    press(h, "志愿服务")
    press(h, "记录一次服务")
    service = h.screen("service")
    assert h.shell.manager.current == "service"
    press(h, "请居民确认")
    assert service.phase == "confirm"
    place(h, rig, "resident")                   # the resident confirms with their own card
    assert h.pump_until(lambda: service.phase == "rate", 10)
    h.frames(2)
    press(h, "不满意")                           # a follow-up for staff
    assert service.phase == "done"
    confirmation = h.ctx.journal.records("service_confirmation")[-1].payload
    assert confirmation.rating == 2
    assert h.ctx.journal.count("service_follow_up") == 1
    assert h.ctx.session.person.role == "volunteer"   # the volunteer's session carries on


@pytest.mark.slow
def test_staff_registers_a_volunteer_who_can_then_check_in(demo):
    h, rig = demo
    sources = h.ctx.services["identity_sources"]
    h.shell.home()
    open_admin(h)
    press(h, "登记志愿者")
    page = h.screen("register")
    assert sources.capture_names
    place(h, rig, "foreign_2023")               # not yet a volunteer
    assert h.pump_until(lambda: page.phase == "details", 10)
    h.frames(2)
    assert page.who == "测*新"
    press_keys(h, "13912345678")
    press(h, "登记")
    assert page.phase == "done" and not sources.capture_names
    record = h.ctx.journal.records("volunteer_registered")[-1].payload
    assert record.name == "测试新" and record.phone_masked.startswith("139") and "5678" in record.phone_masked
    assert "12345" not in record.phone_masked
    # The new volunteer is recognised at once by their card.
    identify(h, rig, "志愿服务", card="foreign_2023")
    assert h.ctx.session.person.role == "volunteer"


def test_open_shifts_are_auto_closed_for_review_past_the_cut_off(demo):
    from datetime import timedelta
    h, rig = demo
    timebank = h.ctx.services["timebank"]

    def open_shifts():
        return [r for r in h.ctx.journal.records("volunteer_check_in")
                if not h.ctx.journal.records("volunteer_check_out", where={"shift_id": r.payload.shift_id})]
    if not open_shifts():                        # check in by card and touches, as a volunteer does
        identify(h, rig, "志愿服务", card="resident_young")
        press(h, "志愿服务")
        press(h, "签到")
        press(h, "签到")
        press(h, "完成")
    open_before = open_shifts()
    assert open_before
    closed = timebank.auto_close_open_shifts(now=open_before[0].created_at + timedelta(days=2))
    assert closed and all(c.needs_review for c in closed)


def test_a_lost_volunteer_card_is_replaced_by_the_next_unregistered_card(demo):
    from kiosk.identify_sources import IdentityEvent

    h, rig = demo
    h.shell.home()
    open_admin(h)
    press(h, "登记志愿者")
    page = h.screen("register")
    place(h, rig, "resident_young")             # the demo volunteer's ID card
    assert h.pump_until(lambda: page.phase == "rebind", 10)
    identity = h.ctx.services["identity"]
    new_card = identity.from_card_uid("0A0B0C0D")
    assert new_card.reason == "unknown_card" and new_card.detail == "0A0B0C0D"
    page.on_identity(IdentityEvent(new_card, "pcsc", 0.0))   # a contactless card event, as the PC/SC source sends it
    assert page.phase == "done"
    tapped = identity.from_card_uid("0a0b0c0d")
    assert tapped.person.role == "volunteer" and tapped.person.volunteer_id == "V0001"
    old = identity.from_card_uid("04A1B2C3")
    assert getattr(old, "reason", "") == "unknown_card"      # the old card stops working here


@pytest.mark.slow
def test_every_card_wait_offers_the_fitting_sample_cards_by_name(demo):
    """Demo mode has no dead end: wherever the kiosk waits for a card, the sample cards that fit are
    offered by name; the same card placed again is read again; the one expired card says so."""
    from tests.support.touch import buttons
    from screens.widgets import KButton

    h, rig = demo

    def demo_buttons():
        return sorted(b.text for b in buttons(h.shell) if isinstance(b, KButton) and b.bg_color == list(DEMO))

    from screens.theme import DEMO
    h.shell.home()
    h.frames(2)
    press(h, "健康自测")
    assert demo_buttons() == sorted(["居民 测*甲", "志愿者 测*乙", "过期证件 测*丙丁"])
    press(h, "过期证件 测*丙丁")
    identify = h.screen("identify")
    assert h.pump_until(lambda: "过期" in identify.message, 10)
    press(h, "居民 测*甲")
    assert h.pump_until(lambda: h.shell.manager.current in ("consent", "greeting"), 10)
    assert h.ctx.session.person.display_name == "测*甲"
    h.shell.home()
    h.frames(2)
    press(h, "健康自测")
    press(h, "居民 测*甲")                      # already on the reader: read again, not skipped to another card
    assert h.pump_until(lambda: h.shell.manager.current in ("consent", "greeting"), 10)
    assert h.ctx.session.person.display_name == "测*甲"

    h.shell.home()
    open_admin(h)
    press(h, "健康筛查日")
    if h.screen("health_day").phase == "open":
        press(h, "结束健康筛查日")
    assert demo_buttons() == ["志愿者 测*乙"]          # to open the (next) day
    press(h, "志愿者 测*乙")
    assert h.pump_until(lambda: h.screen("health_day").phase == "open", 10)
    h.frames(2)
    assert demo_buttons() == sorted(["居民 测*甲", "居民 测*港"])
    press(h, "结束健康筛查日")

    h.shell.home()
    open_admin(h)
    press(h, "登记志愿者")
    assert demo_buttons() == sorted(["未登记 测*新", "志愿者 测*乙"])
    press(h, "志愿者 测*乙")
    assert h.pump_until(lambda: h.screen("register").phase == "rebind", 10)
    h.frames(2)
    assert demo_buttons() == ["刷一张新卡"]
    press(h, "刷一张新卡")
    assert h.screen("register").phase == "done"


def test_declining_needs_a_second_tap_away_from_not_me_and_consent_can_be_given_later(demo):
    from tests.support.touch import find_button

    h, rig = demo

    def box(button):
        x, y = button.to_window(button.x, button.y)
        return x, y, x + button.width, y + button.height

    def overlap(a, b):
        return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])

    h.shell.home()
    h.frames(2)
    press(h, "健康自测")
    place(h, rig, "hmt_permit")                 # first visit: consent is asked
    assert h.pump_until(lambda: h.shell.manager.current == "consent", 10)
    h.frames(2)
    consent_buttons = [box(find_button(h.shell, "不同意")), box(find_button(h.shell, "同意，继续"))]
    press(h, "不同意")
    assert h.shell.manager.current == "consent"   # not yet: asked once more
    assert not h.ctx.journal.records("consent", where={"person_key": h.ctx.session.person.person_key})
    press(h, "确定，不同意")
    assert h.shell.manager.current == "greeting"
    not_me = box(find_button(h.shell, "不是我"))
    assert not [b for b in consent_buttons if overlap(b, not_me)]   # a double tap cannot decline or leave
    assert "开始健康自测" not in [getattr(b, "text", "") for b in h.shell.walk(restrict=True) if hasattr(b, "icon")]
    press(h, "我现在同意")                          # changed their mind
    assert h.shell.manager.current == "consent"
    press(h, "同意，继续")
    assert h.shell.manager.current == "greeting"
    press(h, "开始健康自测")
    assert h.shell.manager.current == "health_menu"
    decisions = [r.payload.granted for r in h.ctx.journal.records(
        "consent", where={"person_key": h.ctx.session.person.person_key})]
    assert decisions == [False, True]


@pytest.mark.slow
def test_staff_record_a_withdrawal_and_the_persons_health_records_are_erased(demo):
    h, rig = demo
    identify(h, rig)                             # measure first: the test stands on its own in any order
    press(h, "开始健康自测")
    press(h, "量血压")
    rig._bp_index = 0
    press(h, "开始测量")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    identity = h.ctx.services["identity"]
    key = identity.from_document(__import__("drivers.sim.idcard", fromlist=["SAMPLE_CARDS"])
                                 .SAMPLE_CARDS["resident"].expected).person.person_key
    before = h.ctx.journal.count("bp_measurement")
    mine = len(h.ctx.journal.records("bp_measurement", where={"person_key": key}))
    assert mine, "this test measured the resident"
    h.shell.home()
    open_admin(h)
    press(h, "撤回同意")
    press(h, "居民 测*甲")
    page = h.screen("withdraw")
    assert h.pump_until(lambda: page.phase == "confirm", 10)
    h.frames(2)
    assert f"有 {mine + len(h.ctx.journal.records('glucose_measurement', where={'person_key': key})) + len(h.ctx.journal.records('health_alert', where={'person_key': key}))} 条健康记录" in page.summary
    press(h, "撤回并删除")
    assert page.phase == "done"
    assert not h.ctx.journal.records("bp_measurement", where={"person_key": key})
    assert h.ctx.journal.count("bp_measurement") == before - mine
    withdrawal = h.ctx.journal.records("consent_withdrawn", where={"person_key": key})
    assert len(withdrawal) == 1 and identity.consent_status(key) is False


def test_a_card_that_is_not_a_volunteers_is_refused_up_front(demo):
    from tests.support.touch import NotPressable, find_button

    h, rig = demo
    identify(h, rig, "志愿服务", card="hmt_permit")
    press(h, "志愿服务")
    assert h.shell.manager.current == "volunteer"
    assert "找工作人员为您登记" in h.screen("volunteer").shift
    for label in ("记录一次服务", "用时长兑换服务", "签到"):
        try:
            find_button(h.shell, label)
            raise AssertionError(f"{label} is offered to a card that is not a volunteer's")
        except NotPressable:
            pass
    press(h, "完成")
    assert h.shell.manager.current == "home"


def test_a_high_reading_asks_for_a_recheck_on_another_day_on_screen_slip_and_voice(demo):
    h, rig = demo
    key = h.ctx.services["identity"].from_document(SAMPLE_CARDS["foreign_2017"].expected).person.person_key
    earlier = datetime.now(timezone.utc) - timedelta(days=3)   # only this test measures (or asks consent of) this resident
    record_measurement(h.ctx.journal, key, BloodPressureReading(150, 95, 70, device=DeviceInfo("sim", "Sim")),
                       assess_bp(150, 95), station_id=h.ctx.settings.station.id, rested=True, created_at=earlier)
    identify(h, rig, card="foreign_2017")
    due = earlier.astimezone(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    reminder = f"您该复测血压了（第2次，共3次），{due.month}月{due.day}日起即可复测。请先静坐5分钟再测量。"
    assert reminder in visible_texts(h.shell)                       # the greeting reminds: the second of three
    _, lines = h.screen("greeting").speech()
    assert any(f"{read_int(due.month)}月{read_int(due.day)}日起即可复测" in line.text for line in lines)
    press(h, "开始健康自测")
    press(h, "量血压")
    rig._bp_index = 2                             # 162/101: grade 2, not urgent
    press(h, "开始测量")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    h.frames(2)
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    said = f"请在{tomorrow.month}月{tomorrow.day}日以后再来复测一次（第3次，共3次），测量前静坐5分钟。"
    assert said in visible_texts(h.shell)
    _, lines = h.screen("result").speech()
    spoken = f"请在{read_int(tomorrow.month)}月{read_int(tomorrow.day)}日以后再来复测一次"
    assert any(spoken in line.text and "静坐五分钟" in line.text for line in lines), [x.text for x in lines]
    press(h, "打印小票")
    assert h.pump_until(lambda: "打印好了" in h.screen("result").print_text, 10)
    keys = h.ctx.session.person.keys
    press(h, "家庭医生")                           # the care-sharing consent, its own question
    assert h.shell.manager.current == "care_consent" and "目前：您还没有选择。" in visible_texts(h.shell)
    press(h, "告诉家庭医生")
    assert h.shell.manager.current == "result" and care_consent(h.ctx.journal, keys) is True
    press(h, "家庭医生")
    assert "目前：您同意把筛查结果告诉家庭医生团队。" in visible_texts(h.shell)
    press(h, "不告诉")                              # withdrawn the same way
    assert h.shell.manager.current == "result" and care_consent(h.ctx.journal, keys) is False
    printed = "".join(i.text for i in parse_escpos(rig.printer.captured()) if isinstance(i, Text))
    assert f"{tomorrow.month}月{tomorrow.day}日以后再来复测" in printed.replace("\n", "")
    assert f"家庭医生查询编号：{keys[0][:8]}" in printed.replace("\n", "")
