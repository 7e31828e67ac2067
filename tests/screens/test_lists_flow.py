"""The kiosk's lists put what needs the person first and page, by real touches on the real window
with the demo rig's simulated card reader: a resident with five requests and a wish (the done one
the oldest) hears at the greeting that her 代购 waits, finds it on top of 我的请求 and confirms and
rates it; the cancelled one is on the last page. A volunteer sees this station's open request before
another station's, with the resident's note."""
from __future__ import annotations

import pytest

from kiosk.community.kinds import CONFIRMED
from kiosk.community.wishes import WISH
from screens import widgets
from tests.screens.test_health_flow import demo, identify  # noqa: F401  (fixture)
from tests.screens.test_request_flow import publish
from tests.support.touch import buttons, find_button, press, tap_at, visible_texts


@pytest.fixture()
def chinese(demo):  # noqa: F811
    h, rig = demo
    h.ctx.session.set_language("zh_CN")
    return h, rig


def all_pages(h) -> list[str]:
    """The visible texts of every page of the list on screen, turning the pages by touch."""
    page = visible_texts(h.shell)
    shown = list(page)
    while "下一页" in page:
        press(h, "下一页")
        page = visible_texts(h.shell)
        shown += page
    return shown


def test_a_resident_with_five_requests_confirms_the_one_that_is_done(chinese):
    h, rig = chinese
    community, wishes = h.ctx.services["community"], h.ctx.services["wishes"]
    identify(h, rig, "志愿服务", card="resident_young")             # the demo volunteer
    volunteer = h.ctx.session.person
    identify(h, rig, "请求服务")
    resident = h.ctx.session.person
    asked = [community.ask(resident, f"visit-{n}", service, "asap", note="receipt" if n == 0 else "")
             for n, service in enumerate(("purchase", "errand", "receive", "haircut", "housework"))]
    community.claim(volunteer, asked[0].request_id)                  # the oldest one is done
    community.mark_done(volunteer, asked[0].request_id)
    community.cancel(resident, asked[1].request_id, "solved")
    wishes.post(resident, "visit-w", WISH, "daily", "walker")
    h.shell.end_session()

    identify(h, rig, "健康自测")                                     # she came to measure, not for this
    assert any("您的代购已完成，请确认" in t for t in visible_texts(h.shell))
    press(h, "去确认")
    assert h.shell.manager.current == "my_requests"
    shown = visible_texts(h.shell)
    assert shown.index(f"{asked[0].number}  代购") < shown.index(f"{asked[4].number}  家政")   # done first
    assert "第 1/2 页" in shown and f"{asked[1].number}  代办" not in shown
    press(h, "下一页")
    shown = visible_texts(h.shell)
    assert "第 2/2 页" in shown and "心愿：一个助行器" in shown
    cancelled = shown.index(f"{asked[1].number}  代办")
    assert cancelled > shown.index("心愿：一个助行器") and shown[cancelled + 1] == "已取消 · 尽快"   # closed: last
    press(h, "上一页")
    press(h, "确认并评价")
    press(h, "非常满意")
    assert h.screen("my_requests").phase == "done"
    assert community.view(asked[0].request_id).state == CONFIRMED
    conf = h.ctx.journal.records("service_confirmation", newest_first=True, limit=1)[0].payload
    assert conf.rating == 5 and conf.volunteer_id == volunteer.volunteer_id
    press(h, "完成")
    identify(h, rig, "健康自测")                                     # nothing waits any more
    assert not any("请确认" in t for t in visible_texts(h.shell))


def test_a_volunteer_sees_this_stations_request_first_with_the_residents_note(chinese):
    h, rig = chinese
    here = h.ctx.settings.station.id
    other = {"id": "req-other-1", "number": "1201-91", "station": "demo-009", "station_name": "张江九号驿站",
             "service_type": "errand", "service_name": "代办", "state": "requested", "when_label": "",
             "note": "", "priority": False, "person_key": "e" * 64, "display_name": "冯*",
             "requested_at": "2020-01-01T08:00:00+00:00", "hours": 1.0}
    publish(h, "requests", "_all", {"requests": [other]})
    identify(h, rig, "请求服务", card="foreign_2023")
    mine = h.ctx.services["community"].ask(h.ctx.session.person, "visit-note", "receive", "asap", note="receipt")
    identify(h, rig, "志愿服务", card="resident_young")
    press(h, "我的任务")
    shown = all_pages(h)
    ours = next(i for i, t in enumerate(shown) if t.startswith(f"{mine.number}  代收"))
    theirs = next(i for i, t in enumerate(shown) if t.startswith("1201-91  代办"))
    assert ours < theirs                                             # older, but another station's
    assert "本站 · 时间：尽快 · 请带回小票" in shown and "张江九号驿站 · 时间：尽快" in shown
    assert here != "demo-009"


def test_a_double_tap_on_send_does_not_press_what_appears_under_it(chinese, monkeypatch):
    """The second tap of a double tap on 提交请求 (0.2 s later, however slow the machine draws) lands
    where the done panel puts a button: it is ignored, so the resident sees the request number (and
    can print it) instead of being sent home."""
    h, rig = chinese
    for name in ("at", "spos", "widget"):                          # the guard's memory is as it was after
        monkeypatch.setitem(widgets._last_tap, name, widgets._last_tap[name])
    identify(h, rig, "请求服务", card="foreign_2023")
    press(h, "请求服务")
    press(h, "上门理发")
    press(h, "尽快")
    send = find_button(h.shell, "提交请求")
    # From here the guard's clock moves only when the test says (it starts past any earlier tap's guard;
    # a clock frozen before the presses above would hold a press at the same place forever).
    now = [widgets.tap_clock() + widgets.TAP_GUARD_S]
    monkeypatch.setattr(widgets, "tap_clock", lambda: now[0])
    x, y = send.to_window(send.right - 20, send.center_y)          # where 完成 will be
    tap_at(x, y)
    h.frames(2)                                                     # the done panel is drawn …
    now[0] += 0.2
    page = h.screen("request")
    assert page.phase == "done" and page.number
    under = [b for b in buttons(h.shell) if b.collide_point(*b.to_widget(x, y))]
    assert under, "the test means a button now under the finger"   # … with a button under the finger
    tap_at(x, y)                                                    # the finger's second tap
    h.frames(2)
    assert h.shell.manager.current == "request" and page.phase == "done"
    now[0] += 1.0
    press(h, "完成")                                                 # a deliberate tap still works
    assert h.shell.manager.current == "home"
