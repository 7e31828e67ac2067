"""Service requests by real touches on the real window with the demo rig's simulated card reader:
a resident asks for 代购 (tile, as soon as possible, a stock phrase, send → number), sees it in
“我的请求”; the demo volunteer takes it on in “我的任务” and marks it done; the resident's card
confirms and rates it. Bad input on the way: a second request for the same service, someone
else's card at the confirmation. An activity signed up for by card (the second person waits); a
wish posted by pictures shows in “我的请求”."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kiosk.community.kinds import CONFIRMED
from kiosk.documents import applied_versions
from sync.documents import make_document
from sync.downlink import DownlinkStore
from tests.screens.test_health_flow import demo, identify, place  # noqa: F401  (fixture)
from tests.support.signing import HUB_PUBLIC, signed
from tests.support.touch import press, visible_texts


def publish(h, doc_type: str, scope: str, body: dict) -> None:
    """Apply a signed document as the hub sends it, newer than any the shared demo kiosk holds."""
    version = applied_versions(h.ctx.settings.data_dir).get(doc_type, 0) + 1
    doc = make_document(doc_type, version, scope, datetime.now(timezone.utc).isoformat(timespec="milliseconds"), body)
    assert DownlinkStore(h.ctx.settings.data_dir, h.ctx.settings.station.id, HUB_PUBLIC).apply(
        doc_type, scope, signed(doc)).applied


def talks(h) -> list:
    """Sign-ups for this module's 健康讲座 (the demo kiosk is shared by the module's tests)."""
    return [r for r in h.ctx.journal.records("activity_signup") if r.payload.activity_id == "talk"]


@pytest.fixture()
def chinese(demo):  # noqa: F811
    h, rig = demo
    h.ctx.session.set_language("zh_CN")
    return h, rig


def test_resident_asks_volunteer_does_it_resident_confirms(chinese):
    h, rig = chinese
    identify(h, rig, "请求服务")
    press(h, "请求服务")
    assert h.shell.manager.current == "request"
    press(h, "代购")
    press(h, "尽快")
    press(h, "请先给我打电话")
    press(h, "提交请求")
    page = h.screen("request")
    assert page.phase == "done" and page.number
    [asked] = h.ctx.journal.records("service_request")
    assert (asked.payload.service_name, asked.payload.when, asked.payload.note) == ("代购", "asap", "call_first")
    assert asked.payload.number == page.number
    press(h, "我的请求")
    assert h.shell.manager.current == "my_requests"
    texts = " ".join(w.text for w in h.screen("my_requests").walk(restrict=True) if getattr(w, "text", ""))
    assert page.number in texts and "等待志愿者接单" in texts

    # Asking again for the same service in a new visit: refused with a message, nothing doubled.
    identify(h, rig, "请求服务")
    press(h, "请求服务")
    press(h, "代购")
    press(h, "尽快")
    press(h, "提交请求")
    assert "已请求过" in h.screen("request").message
    assert h.ctx.journal.count("service_request") == 1

    # The demo volunteer takes it on and marks it done.
    identify(h, rig, "志愿服务", card="resident_young")
    press(h, "我的任务")
    assert h.shell.manager.current == "tasks"
    press(h, "我来做")
    press(h, "标记完成")
    assert h.shell.manager.current == "service" and h.screen("service").phase == "confirm"
    place(h, rig, "foreign_2023")                       # someone else's card: refused
    assert h.pump_until(lambda: "本人" in h.screen("service").message, 10)
    assert h.screen("service").phase == "confirm"
    place(h, rig, "resident")                           # the resident who asked
    assert h.pump_until(lambda: h.screen("service").phase == "rate", 10)
    press(h, "满意")
    assert h.screen("service").phase == "done"
    view = h.ctx.services["community"].view(asked.payload.request_id)
    assert view.state == CONFIRMED and view.volunteer_id == "V0001"
    conf = h.ctx.journal.records("service_confirmation", newest_first=True, limit=1)[0].payload
    assert conf.rating == 4 and conf.volunteer_id == "V0001"


def test_activity_sign_up_by_card_and_a_wish_by_pictures(chinese):
    h, rig = chinese
    start = datetime.now(timezone.utc) + timedelta(days=1)
    body = {"activities": [{"id": "talk", "title": "健康讲座", "place": "活动室", "start": start.isoformat(),
                            "end": (start + timedelta(hours=1)).isoformat(), "capacity": 1}]}
    publish(h, "calendar", "_all", body)
    h.shell.home()
    press(h, "近期活动")
    assert h.shell.manager.current == "activities"
    press(h, "报名 / 签到")
    page = h.screen("activities")
    assert page.phase == "card"
    place(h, rig, "resident")
    assert h.pump_until(lambda: page.phase == "done", 10)
    assert "报名成功" in page.result
    [signup] = talks(h)
    assert not signup.payload.waitlisted
    press(h, "完成")
    # The only seat is taken: the volunteer's card puts them on the waitlist.
    press(h, "近期活动")
    press(h, "报名 / 签到")
    place(h, rig, "resident_young")
    assert h.pump_until(lambda: page.phase == "done", 10)
    assert "候补" in page.result and talks(h)[-1].payload.waitlisted

    identify(h, rig, "请求服务")
    press(h, "我有心愿")
    press(h, "想上一门课")
    press(h, "学用智能手机")
    assert h.screen("wish").phase == "done"
    [wish] = h.ctx.journal.records("wish_posted")
    assert (wish.payload.kind, wish.payload.category, wish.payload.phrase) == ("wish", "class", "phone")
    press(h, "我的请求")
    texts = " ".join(w.text for w in h.screen("my_requests").walk(restrict=True) if getattr(w, "text", ""))
    assert "心愿：学用智能手机" in texts and "已收到" in texts


def test_volunteer_links_a_family_member_by_card_and_removes_the_link(chinese):
    h, rig = chinese
    identify(h, rig, "志愿服务", card="resident_young")           # the demo volunteer
    press(h, "我的任务")
    press(h, "家属优先")
    assert h.shell.manager.current == "family"
    page = h.screen("family")
    assert "还没有添加家属。" in visible_texts(h.shell)
    press(h, "添加家属")
    assert page.phase == "card"
    assert "请家属把身份证或市民卡放在读卡器上" in h.ctx.services["voice"].history[-1].text
    place(h, rig, "resident_young")                                 # the volunteer's own card: refused
    assert h.pump_until(lambda: "本人" in page.message, 10)
    assert page.phase == "card" and h.ctx.journal.count("family_linked") == 0
    place(h, rig, "resident")                                       # the family member's card
    assert h.pump_until(lambda: page.phase == "done", 10)
    assert "测*甲" in page.result
    [link] = h.ctx.journal.records("family_linked")
    assert link.payload.display_name == "测*甲" and len(link.payload.family_key) == 64
    assert h.ctx.session.person.volunteer_id == link.payload.volunteer_id   # the visit stays the volunteer's
    press(h, "我的家属")
    assert any("测*甲" in t for t in visible_texts(h.shell))
    press(h, "添加家属")
    place(h, rig, "resident")                                       # linked twice: refused, nothing doubled
    assert h.pump_until(lambda: "已经添加过" in page.message, 10)
    assert h.ctx.journal.count("family_linked") == 1
    press(h, "返回")
    press(h, "解除")
    assert page.phase == "remove"
    press(h, "保留")                                                 # changed their mind: still linked
    assert h.ctx.journal.count("family_unlinked") == 0
    press(h, "解除")
    press(h, "解除")                                                 # the confirmation's button
    assert page.phase == "list" and h.ctx.journal.count("family_unlinked") == 1
    assert "还没有添加家属。" in visible_texts(h.shell)


def test_a_waitlisted_resident_learns_at_the_next_tap_that_a_place_freed_up(chinese):
    h, rig = chinese
    start = datetime.now(timezone.utc) + timedelta(days=2)
    body = {"activities": [{"id": "brush", "title": "书法班", "place": "二楼教室", "start": start.isoformat(),
                            "end": (start + timedelta(hours=2)).isoformat(), "capacity": 1}]}
    publish(h, "calendar", "_all", body)
    page = h.screen("activities")

    def by_card(card: str) -> None:
        h.shell.home()
        press(h, "近期活动")
        press(h, "报名 / 签到")
        place(h, rig, card)
        assert h.pump_until(lambda: page.phase == "done", 10)
    by_card("resident")                                         # the one seat
    by_card("resident_young")                                   # waits
    assert "候补" in page.result
    by_card("resident")                                         # the seat holder cancels
    press(h, "取消报名")
    assert "报名已取消" in page.result

    mark = len(h.ctx.services["voice"].history)
    identify(h, rig, "请求服务", card="resident_young")          # the next tap of the waitlisted one
    greeting = h.screen("greeting")
    assert h.pump_until(lambda: greeting.has_promotion, 5)
    assert any("好消息" in t and "书法班" in t for t in visible_texts(h.shell))
    spoken = " ".join(s.text for s in h.ctx.services["voice"].history[mark:])
    assert "您候补的活动有空位了" in spoken
    assert h.ctx.journal.count("activity_promotion_seen") == 1
    press(h, "查看并打印提醒条")
    assert h.shell.manager.current == "activities" and page.phase == "done"
    assert "转为正式报名" in page.result and "书法班" in page.subject
    press(h, "打印提醒单")
    assert h.pump_until(lambda: "取走" in page.print_text, 15)
    press(h, "全部活动")                                        # the list says so too
    assert any("候补已转正式报名" in t for t in visible_texts(h.shell))

    identify(h, rig, "请求服务", card="resident_young")          # told once
    assert not h.screen("greeting").has_promotion
    assert h.ctx.journal.count("activity_promotion_seen") == 1


def test_station_information_by_touch_pages_the_windows_and_the_guide(chinese):
    """驿站信息 from the home tile, no card: each section by its button; windows and guide two at a time."""
    h, _rig = chinese
    info = {"windows": [{"name": f"{n}号窗口", "does": does} for n, does in
                        ((1, "社保、医保"), (2, "居住证、民政"), (3, "残联、退役军人服务"))],
            "guide": [{"name": "老年人综合津贴", "how": "on_the_spot", "bring": ["身份证"]},
                      {"name": "居住证办理", "how": "accepted", "bring": ["身份证", "租房合同"]}],
            "hours": [{"days": "周一至周五", "time": "08:30-17:00"}]}
    publish(h, "config", h.ctx.settings.station.id, {"info": info})
    h.shell.home()
    press(h, "驿站信息")
    assert h.shell.manager.current == "info"
    assert "周一至周五   08:30-17:00" in visible_texts(h.shell)
    press(h, "服务窗口")
    shown = visible_texts(h.shell)
    assert "1号窗口" in shown and "2号窗口" in shown and "3号窗口" not in shown
    press(h, "下一页（1/2）")
    shown = visible_texts(h.shell)
    assert "3号窗口" in shown and "1号窗口" not in shown
    press(h, "下一页（2/2）")                          # after the last page, the first again
    assert "1号窗口" in visible_texts(h.shell)
    press(h, "办事指南")
    shown = visible_texts(h.shell)
    assert "老年人综合津贴" in shown and "居住证办理" in shown and not any("下一页" in t for t in shown)
    press(h, "返回首页")
    assert h.shell.manager.current == "home"
