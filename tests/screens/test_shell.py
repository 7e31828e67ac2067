"""Shell behaviour on a real (offscreen) window: idle reset wipes the person, language resets,
the admin corner and the PIN lockout, a real touch on a tile."""
from __future__ import annotations

from kiosk.session import Person
from tests.support.audit import audit
from tests.support.touch import press, press_keys

import pytest

DEMO_PERSON = Person(role="resident", person_key="ab" * 32, display_name="王*明", masked_id="310***********1234",
                     birth_year=1950, gender="male", age_band="70-79", source="demo")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _texts(widget) -> str:
    return "\n".join(getattr(w, "text", "") for w in widget.walk(restrict=True))


def test_idle_warning_then_reset_wipes_the_session(harness):
    shell = harness.shell
    clock = FakeClock()
    shell.idle.clock = clock
    shell.go("identify", purpose="health")
    harness.ctx.session.identify(DEMO_PERSON)
    shell.toggle_language()
    harness.screen("identify").show_message("王*明, hello", error=False)
    clock.t += 50          # past the 45 s warning
    shell.tick()
    assert shell.idle_visible and 1 <= shell.idle_seconds <= 10
    harness.frames(2)
    assert "Returning to the start in" in _texts(shell)
    clock.t += 11          # past the 60 s reset
    shell.tick()
    harness.frames(2)
    assert shell.manager.current == "home"
    assert not shell.idle_visible
    assert harness.ctx.session.person is None and harness.ctx.session.purpose == ""
    assert harness.ctx.session.lang == "zh_CN"
    for screen in shell.manager.screens:
        assert "王" not in _texts(screen), screen.name


def test_a_touch_dismisses_the_countdown(harness):
    from kivy.tests.common import UnitTestTouch

    shell = harness.shell
    clock = FakeClock()
    shell.idle.clock = clock
    shell.go("help")
    clock.t += 50
    shell.tick()
    assert shell.idle_visible
    touch = UnitTestTouch(640, 400)
    touch.touch_down()
    touch.touch_up()
    assert not shell.idle_visible
    shell.tick()
    assert shell.manager.current == "help"
    shell.home()


def test_language_switch_lasts_one_visit(harness):
    shell = harness.shell
    shell.go("help")
    harness.frames(2)
    press(harness, "English")
    harness.frames(2)
    assert harness.ctx.session.lang == "en"
    assert "How to use this kiosk" in _texts(shell)
    shell.home()
    harness.frames(2)
    assert harness.ctx.session.lang == "zh_CN"
    assert "欢迎来到" in _texts(shell)


def test_real_touch_on_the_health_tile_opens_identify(harness):
    from kivy.tests.common import UnitTestTouch

    from screens.home import HomeTile as Tile

    shell = harness.shell
    shell.home()
    harness.frames(2)
    tile = next(w for w in shell.walk(restrict=True) if isinstance(w, Tile) and w.icon == "heart")
    touch = UnitTestTouch(*tile.to_window(*tile.center))
    touch.touch_down()
    harness.frames(1)
    touch.touch_up()
    harness.frames(2)
    assert shell.manager.current == "identify"
    assert harness.ctx.session.purpose == "health"
    shell.home()


def test_the_header_home_button_goes_home_and_the_admin_hold_is_not_on_it(harness):
    from kivy.clock import Clock

    from tests.support.touch import NotPressable, find_button, hold

    shell = harness.shell
    shell.home()
    harness.frames(2)
    try:
        find_button(shell, "首页")
        raise AssertionError("the Home button shows on the home screen")
    except NotPressable:
        pass
    press(harness, "健康自测")
    assert shell.manager.current == "identify" and harness.ctx.session.purpose == "health"
    home = find_button(shell, "首页")
    shell.ids.corner.hold_s = 0.05
    hold(harness, *home.to_window(*home.center), seconds=0.15)      # holding Home is just a tap on Home
    Clock.tick()
    assert shell.manager.current == "home" and harness.ctx.session.purpose == ""
    clock = shell.ids.clock
    corner = shell.ids.corner
    assert corner.collide_point(*clock.center) and not corner.collide_point(*home.center)
    assert not corner.children and not corner.canvas.children     # invisible: draws nothing
    shell.ids.corner.hold_s = harness.ctx.settings.ui.admin_hold_s


def test_admin_corner_needs_a_long_press(harness):
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch

    shell = harness.shell
    shell.home()
    corner = shell.ids.corner
    corner.hold_s = 0.05
    touch = UnitTestTouch(corner.x + 10, corner.top - 10)
    touch.touch_down()
    touch.touch_up()          # a short tap does nothing
    Clock.tick()
    assert shell.manager.current == "home"
    touch.touch_down()
    import time
    time.sleep(0.08)
    Clock.tick()
    touch.touch_up()
    assert shell.manager.current == "admin_pin"
    shell.home()


@pytest.mark.slow
def test_pin_pad_locks_out_after_five_wrong_pins_and_admin_opens_with_the_right_one(harness):
    from kiosk.settings import DEMO_ADMIN_PIN

    shell = harness.shell
    shell.go("admin_pin")
    harness.frames(2)
    pad = harness.screen("admin_pin")
    for attempt in range(4):
        press_keys(harness, "999999")
        press(harness, "确定")
        assert shell.manager.current == "admin_pin"
        assert str(4 - attempt) in pad.message
    press_keys(harness, DEMO_ADMIN_PIN)
    press(harness, "确定")
    assert shell.manager.current == "admin"        # the right PIN before the fifth failure
    shell.go("admin_pin")
    harness.frames(2)
    for _ in range(5):
        press_keys(harness, "111111")
        press(harness, "确定")
    assert harness.ctx.pin_gate.locked_for() > 0
    press_keys(harness, DEMO_ADMIN_PIN)
    press(harness, "确定")
    assert shell.manager.current == "admin_pin"    # locked: even the right PIN is refused
    kinds = [r.payload.action for r in harness.ctx.journal.records("admin_event")]
    assert kinds.count("lockout") == 1 and "login" in kinds
    harness.ctx.journal.set_meta("admin.locked_until", "0")
    shell.home()


def test_admin_screen_quit_button_calls_the_exit_hook(harness):
    shell = harness.shell
    shell.go("admin")
    harness.frames(2)
    assert not audit(shell)
    press(harness, "退出程序")
    assert harness.exited
    shell.home()


def test_a_screen_change_never_draws_two_screens_at_once(harness):
    """No frame shows the old screen's text through the new one (a red Stop bar on a result)."""
    shell = harness.shell
    shell.home()
    harness.frames(2)
    shell.go("help")
    assert [s.name for s in shell.manager.children] == ["help"]       # before any frame is drawn
    shell.home()
    assert [s.name for s in shell.manager.children] == ["home"]


def test_reading_a_glucose_meter_shows_no_cuff_gauge(harness):
    from screens.charts import CuffGauge
    from tests.support.audit import _visible

    shell = harness.shell
    shell.end_session()
    shell.manager.current = "measure"
    harness.screen("measure").load_demo("glucose_reading")
    harness.frames(3)
    assert not [w for w in shell.walk(restrict=True) if isinstance(w, CuffGauge) and _visible(w)]
    assert "正在读取血糖仪" in "".join(getattr(w, "text", "") for w in shell.walk(restrict=True))
    harness.screen("measure").load_demo("measuring")
    harness.frames(3)
    assert [w for w in shell.walk(restrict=True) if isinstance(w, CuffGauge) and _visible(w)]
    shell.home()


def test_the_five_rating_faces_differ_in_face_colour_and_word(harness):
    shell = harness.shell
    shell.end_session()
    shell.manager.current = "service"
    harness.screen("service").load_demo("rate")
    harness.frames(3)
    faces = [w for w in shell.walk(restrict=True) if hasattr(w, "face") and hasattr(w, "word")]
    assert [f.word for f in faces] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    colours = [tuple(round(c, 2) for c in f.bg_color[:3]) for f in faces]
    for i, a in enumerate(colours):
        for b in colours[i + 1:]:
            assert sum(abs(x - y) for x, y in zip(a, b)) > 0.25, (a, b)     # not two shades of one colour
    assert len({f.face for f in faces}) == 5
    shell.home()


def test_the_volunteer_page_says_hours_in_words_and_names_unconfirmed_services(harness):
    shell = harness.shell
    shell.end_session()
    shell.manager.current = "volunteer"
    harness.screen("volunteer").load_demo("")
    harness.frames(3)
    recent = harness.screen("volunteer").recent
    assert "小时" in recent and " h" not in recent and "…" not in recent
    assert "待居民确认" in recent
    shell.home()
