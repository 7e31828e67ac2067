"""End to end on the real window with the demo rig's simulators (real protocols over ptys):
card → consent → health menu → blood pressure with a live gauge → result journaled; an urgent
reading raises an alert that jumps the outbox queue; glucose with its meal context."""
from __future__ import annotations

import pytest

from kiosk.settings import load_settings


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
    start_device_services(ctx, h.post)
    assert h.pump_until(lambda: ctx.status.get("bp").get("state") == "connected", 10)
    yield h, rig
    h.close()
    ctx.close()


def identify(h, rig, purpose="health"):
    h.shell.home()
    h.screen("home").choose(purpose)
    rig.remove_card()
    if h.ctx.status.get("idcard").get("card"):
        assert h.pump_until(lambda: h.ctx.status.get("idcard").get("card") is False, 5)
    rig.idcard.present("resident")
    assert h.pump_until(lambda: h.shell.manager.current in ("consent", "greeting"), 10)
    if h.shell.manager.current == "consent":
        h.screen("consent").decide(True)
    assert h.shell.manager.current == "greeting"


def test_blood_pressure_end_to_end_with_live_gauge_and_urgent_alert(demo):
    h, rig = demo
    identify(h, rig)
    h.shell.go("health_menu")
    h.screen("health_menu").choose("bp")
    measure = h.screen("measure")
    gauge_values = []
    measure.bind(cuff=lambda _w, v: gauge_values.append(v))
    rig._bp_index = 3                      # the demo's next reading is the urgent one: 186/112
    measure.start()
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    assert max(gauge_values) > 100        # the cuff pressure streamed live
    result = h.screen("result")
    assert result.value == "186/112" and result.urgent
    journal = h.ctx.journal
    record = journal.records("bp_measurement", newest_first=True, limit=1)[0]
    assert (record.payload.systolic, record.payload.diastolic) == (186, 112)
    assert record.payload.person_key == h.ctx.session.person.person_key
    alerts = journal.records("health_alert", where={"measurement_id": record.id})
    assert len(alerts) == 1
    from sync.outbox import SqliteOutbox
    outbox = SqliteOutbox(journal.path)
    try:
        first = outbox.next_batch(1)
        assert [r.id for r in first.records] == [alerts[0].id]     # the alert leaves first
    finally:
        outbox.close()


def test_glucose_with_meal_context(demo):
    h, rig = demo
    identify(h, rig, "health")
    h.shell.go("glucose_context")
    h.screen("glucose_context").answer("fasting")
    assert h.shell.manager.current == "measure"
    rig._glucose_index = 1                 # 119 mg/dL = 6.6 mmol/L: impaired fasting glucose
    h.screen("measure").start()
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    assert h.screen("result").value == "6.6"
    record = h.ctx.journal.records("glucose_measurement", newest_first=True, limit=1)[0]
    assert record.payload.category == "glu_ifg" and record.payload.meal.value == "fasting"


def test_records_show_the_trend(demo):
    h, rig = demo
    identify(h, rig, "records")
    h.shell.go("records")
    records = h.screen("records")
    assert records.bp_series and "186/112" in records.bp_latest


def tap(h, rig, kind):
    rig.remove_card()
    if h.ctx.status.get("idcard").get("card"):
        assert h.pump_until(lambda: h.ctx.status.get("idcard").get("card") is False, 5)
    rig.idcard.present(kind)


def test_health_check_day_attributes_measurements_and_closes_with_a_summary(demo):
    h, rig = demo
    h.shell.home()
    h.shell.go("health_day")
    day_screen = h.screen("health_day")
    tap(h, rig, "resident")                     # a resident cannot open the day
    assert h.pump_until(lambda: bool(day_screen.message), 10)
    assert day_screen.phase == "closed"
    tap(h, rig, "resident_young")               # the demo volunteer opens it
    assert h.pump_until(lambda: day_screen.phase == "open", 10)
    day = h.ctx.services["health_day"]
    tap(h, rig, "resident")                     # first resident of the day
    assert h.pump_until(lambda: h.shell.manager.current in ("health_menu", "consent"), 10)
    if h.shell.manager.current == "consent":
        h.screen("consent").decide(True)
    h.shell.go("measure", kind="bp")
    rig._bp_index = 2                           # 162/101: grade 2, abnormal but not urgent
    h.screen("measure").start()
    assert h.pump_until(lambda: h.shell.manager.current == "result", 20)
    record = h.ctx.journal.records("bp_measurement", newest_first=True, limit=1)[0]
    assert record.payload.session_id == day.session_id
    h.shell.finish()                            # "Done" returns to the day's queue, person wiped
    assert h.shell.manager.current == "health_day" and h.ctx.session.person is None
    assert "1" in day_screen.counts
    day_screen.close_day()
    closed = h.ctx.journal.records("health_session_closed", where={"session_id": day.session_id})
    assert len(closed) == 1
    summary = closed[0].payload
    assert (summary.residents_measured, summary.measurements, summary.abnormal, summary.urgent) == (1, 1, 1, 0)
    assert day_screen.phase == "summary"


def test_volunteer_checks_in_records_a_service_and_the_resident_rates_it(demo):
    h, rig = demo
    identify_as = "resident_young"              # the demo volunteer's ID card
    h.shell.home()
    h.screen("home").choose("volunteer")
    tap(h, rig, identify_as)
    assert h.pump_until(lambda: h.shell.manager.current == "greeting", 10)
    assert h.ctx.session.person.role == "volunteer"
    h.shell.go("volunteer")
    page = h.screen("volunteer")
    page.primary()                              # no open shift: choose team and activity
    assert page.phase == "choose"
    page.confirm_check_in()
    assert page.phase == "done" and ":" in page.big
    assert h.ctx.journal.count("volunteer_check_in") == 1
    h.shell.go("service")
    service = h.screen("service")
    service.record()
    assert service.phase == "confirm"
    tap(h, rig, "resident")                     # the resident confirms with their own card
    assert h.pump_until(lambda: service.phase == "rate", 10)
    service.rate(2)                             # 不满意: a follow-up for staff
    assert service.phase == "done"
    confirmation = h.ctx.journal.records("service_confirmation")[-1].payload
    assert confirmation.rating == 2
    assert h.ctx.journal.count("service_follow_up") == 1
    assert h.ctx.session.person.role == "volunteer"   # the volunteer's session carries on


def test_staff_registers_a_volunteer_who_can_then_check_in(demo):
    h, rig = demo
    sources = h.ctx.services["identity_sources"]
    h.shell.go("register")
    page = h.screen("register")
    assert sources.capture_names
    tap(h, rig, "foreign_2023")                 # not yet a volunteer
    assert h.pump_until(lambda: page.phase == "details", 10)
    assert page.who == "测*新"
    for digit in "13912345678":
        page.press(digit)
    page.register()
    assert page.phase == "done" and not sources.capture_names
    record = h.ctx.journal.records("volunteer_registered")[-1].payload
    assert record.name == "测试新" and record.phone_masked.startswith("139") and "5678" in record.phone_masked
    assert "12345" not in record.phone_masked
    # The new volunteer is recognised at once by their card.
    h.shell.home()
    h.screen("home").choose("volunteer")
    tap(h, rig, "foreign_2023")
    assert h.pump_until(lambda: h.shell.manager.current == "greeting", 10)
    assert h.ctx.session.person.role == "volunteer"


def test_volunteer_spends_hours_within_the_balance_limit(demo):
    h, rig = demo
    h.shell.home()
    h.screen("home").choose("volunteer")
    tap(h, rig, "resident_young")
    assert h.pump_until(lambda: h.shell.manager.current == "greeting", 10)
    h.shell.go("volunteer")
    page = h.screen("volunteer")
    page.start_spend()
    assert page.phase == "spend"
    page._pick_spend_hours(3)
    page.confirm_spend()                    # the demo volunteer has no hours yet: refused, nothing journaled
    assert page.phase == "spend" and page.message
    assert not [r for r in h.ctx.journal.records("ledger_movement") if r.payload.kind == "spend"]


def test_open_shifts_are_auto_closed_for_review_past_the_cut_off(demo):
    from datetime import timedelta
    h, _rig = demo
    timebank = h.ctx.services["timebank"]
    open_before = [r for r in h.ctx.journal.records("volunteer_check_in")
                   if not h.ctx.journal.records("volunteer_check_out", where={"shift_id": r.payload.shift_id})]
    assert open_before, "the volunteer test left a shift open"
    closed = timebank.auto_close_open_shifts(now=open_before[0].created_at + timedelta(days=2))
    assert closed and all(c.needs_review for c in closed)


def test_a_lost_volunteer_card_is_replaced_by_the_next_unregistered_card(demo):
    from kiosk.identify_sources import IdentityEvent

    h, rig = demo
    h.shell.go("register")
    page = h.screen("register")
    tap(h, rig, "resident_young")               # the demo volunteer's ID card
    assert h.pump_until(lambda: page.phase == "rebind", 10)
    identity = h.ctx.services["identity"]
    new_card = identity.from_card_uid("0A0B0C0D")
    assert new_card.reason == "unknown_card" and new_card.detail == "0A0B0C0D"
    page.on_identity(IdentityEvent(new_card, "pcsc", 0.0))
    assert page.phase == "done"
    tapped = identity.from_card_uid("0a0b0c0d")
    assert tapped.person.role == "volunteer" and tapped.person.volunteer_id == "V0001"
    old = identity.from_card_uid("04A1B2C3")
    assert getattr(old, "reason", "") == "unknown_card"      # the old card stops working here
