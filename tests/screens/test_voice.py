"""Voice guidance on the real (offscreen) window, driven by touches on what is visible: a blood-pressure
check followed by voice alone (demo rig: SAM card and BP monitor simulators on ptys), the result read
with its numbers and category, mute and volume for one visit, 大字 and 高对比 reset by the idle
timeout, repeat, tones. Audio really plays through Kivy's SoundLoader (SDL's dummy audio driver:
there is no sound card), and what was played is read back from the WAV files."""
from __future__ import annotations

import pytest
from kivy.tests.common import UnitTestTouch
from kivy.uix.behaviors import ButtonBehavior

from kiosk.speech.audio import read_wav
from tests.screens.test_health_flow import demo  # noqa: F401  (the demo kiosk fixture)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _visible(widget) -> bool:
    w = widget
    while w is not None and w is not w.parent:
        if getattr(w, "opacity", 1) <= 0.01 or getattr(w, "disabled", False):
            return False
        w = w.parent
    return widget.width > 0 and widget.height > 0


def find_button(root, text: str):
    """The visible button whose own text, or a label inside it, reads ``text``."""
    for w in root.walk(restrict=True):
        if isinstance(w, ButtonBehavior) and _visible(w):
            texts = [getattr(c, "text", "") for c in w.walk(restrict=True)]
            if text in texts:
                return w
    raise AssertionError(f"no visible button {text!r}")


def _claimed_by_another(h, widget, x, y) -> bool:
    for other in h.shell.walk(restrict=True):
        if (isinstance(other, ButtonBehavior) and other is not widget and other.get_root_window() is not None
                and other.collide_point(*other.to_widget(x, y))):
            return True
    return False


def press(h, widget) -> None:
    """A finger on ``widget``, through the window: its middle, or the first point of a 5×5 grid on it
    that no other button claims (main still has hidden, disabled panels that swallow touches on some
    points; the touch-reachability work removes them from the tree)."""
    points = [widget.to_window(widget.x + widget.width * (i + 0.5) / 5, widget.y + widget.height * (j + 0.5) / 5)
              for j in range(5) for i in range(5)]
    x, y = next((p for p in [widget.to_window(*widget.center)] + points if not _claimed_by_another(h, widget, *p)),
                widget.to_window(*widget.center))
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    h.frames(1)
    touch.touch_up()
    h.frames(2)


def tap(h, text: str) -> None:
    h.frames(3)                                  # a screen just shown is laid out first
    press(h, find_button(h.shell, text))


def voice(h):
    return h.ctx.services["voice"]


def spoken_since(h, mark: int) -> list:
    return voice(h).history[mark:]


def played_files(h) -> list:
    return [path.name for path, _volume in voice(h).player.started]


def test_a_blood_pressure_check_can_be_followed_by_voice_alone(demo):
    h, rig = demo
    h.shell.home()
    voice(h).player.started.clear()                          # it keeps only its last 50: count from here
    rig._bp_index = 3                                        # the demo's next reading is 186/112, urgent
    mark = len(voice(h).history)
    tap(h, "健康自测")
    assert h.shell.manager.current == "identify"
    assert "请把身份证或市民卡放在读卡区" in voice(h).history[-1].text
    rig.remove_card()
    rig.idcard.present("resident")
    assert h.pump_until(lambda: h.shell.manager.current in ("consent", "greeting"), 10)
    assert "tone-card.wav" in played_files(h)                # a short tone: the card was read
    if h.shell.manager.current == "consent":
        assert voice(h).history[-1].key == "consent"
        tap(h, "同意，继续")
    assert voice(h).history[-1].text.startswith("测某甲，您好！")     # the masked name, never the full one
    tap(h, "开始健康自测")
    assert voice(h).history[-1].text.startswith("您想测什么？")
    tap(h, "量血压")
    assert "把袖带绑在左上臂" in voice(h).history[-1].text
    voice(h).player.started.clear()                          # before Start: the result may play at once
    tap(h, "开始测量")
    measure = h.screen("measure")
    assert h.pump_until(lambda: h.shell.manager.current == "result", 30), (measure.phase, measure.error_text)
    said = spoken_since(h, mark)
    assert "measure.waiting" in [s.key for s in said]          # "getting ready" when Start is pressed
    result = said[-1]
    assert result.key == "result"
    assert result.text.startswith("您的血压是一百八十六，一百一十二。")
    assert "血压很高，三级" in result.text
    assert result.text.count("请马上找工作人员") == 3                  # the advice, then repeated twice
    assert all("测试甲" not in s.text for s in said)
    # the sentence was rendered and handed to the sound output
    def result_audio():
        """The last sentence handed to the sound output since Start (the result is said last)."""
        made = [p for p, _v in voice(h).player.started if p.name.startswith("utterance-")]
        return read_wav(made[-1]) if made else None

    assert h.pump_until(lambda: (a := result_audio()) is not None and a.duration_s > 8, 20)
    assert result_audio().rms() > 0.02
    assert "tone-tap.wav" in played_files(h)                 # every accepted tap answered with a tone


def test_mute_volume_and_seeing_modes_last_one_visit(demo):
    from screens.look import look

    h, _rig = demo
    shell = h.shell
    clock = FakeClock()
    shell.idle.clock = clock
    shell.home()
    station_volume = h.ctx.settings.voice.volume
    tap(h, "大字")
    tap(h, "高对比")
    assert look.large and look.contrast
    press(h, shell.ids.voice.ids.settings)                   # the header's text-and-sound button
    assert shell.voicectl.panel.parent is shell
    tap(h, "大声一点")
    assert voice(h).volume == pytest.approx(min(1.0, station_volume + 0.2))
    tap(h, "静音")
    assert voice(h).muted and voice(h).effective_volume() == 0
    tap(h, "完成")
    assert shell.voicectl.panel.parent is None
    voice(h).player.started.clear()
    tap(h, "使用帮助")
    assert shell.manager.current == "help" and voice(h).history[-1].key == "help"
    h.frames(5)
    assert voice(h).player.started == []                   # muted: no speech, no tap tone
    clock.t += 61                                          # nobody touched the kiosk: the visit ends
    shell.tick()
    h.frames(2)
    assert shell.manager.current == "home"
    assert not voice(h).muted and voice(h).volume == station_volume
    assert not look.large and not look.contrast


def test_the_speaker_button_says_it_again(demo):
    h, _rig = demo
    h.shell.home()
    tap(h, "使用帮助")
    first = voice(h).history[-1]
    press(h, h.shell.ids.voice.ids.repeat)
    again = voice(h).history[-1]
    assert again is not first and (again.key, again.text) == (first.key, first.text)
    assert h.pump_until(lambda: played_files(h)[-1].startswith("prompt-"), 20)   # a fixed prompt, kept loaded
    h.shell.home()


def test_english_mode_speaks_english(demo):
    h, _rig = demo
    h.shell.home()
    tap(h, "English")
    tap(h, "Help")
    assert voice(h).history[-1].lang == "en"
    assert voice(h).history[-1].text.startswith("How to use this kiosk")
    h.shell.home()


def test_measuring_stages_are_spoken_as_the_monitor_reports_them(demo):
    from drivers.readings import Progress

    h, _rig = demo
    h.shell.home()
    h.shell.go("measure", kind="bp")
    measure = h.screen("measure")
    measure.phase = "measuring"
    for stage in ("inflating", "deflating"):
        measure.on_progress(Progress(stage, 120))           # what the device worker hands the UI
        assert h.pump_until(lambda: voice(h).history[-1].key == f"measure.{stage}", 5)
    assert voice(h).history[-1].text == "正在测量，请保持不动"
    measure.cancel()
    h.shell.home()


@pytest.mark.parametrize("mode", ["", "large", "contrast"])
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_header_shows_the_whole_station_name_beside_the_voice_controls(demo, lang, mode):
    """Speaker, text-and-sound and language buttons, the clock and the sync state leave the station
    name its full width, on the home screen and on a screen with the Home button."""
    from screens.i18n import tr
    from screens.look import look

    h, _rig = demo
    shell = h.shell
    name = shell.ids.station_name
    try:
        for screen in ("home", "health_menu", "records"):
            shell.end_session()
            h.ctx.session.set_language(lang)
            tr.lang = lang
            look.large, look.contrast = mode == "large", mode == "contrast"
            shell.go(screen)
            h.frames(4)
            assert name.text == h.ctx.settings.station.name == "示范市民驿站"
            needed = name._label.get_extents(name.text)[0] + name.padding[0] + name.padding[2]
            assert needed <= name.width, f"{screen}: {needed:.0f} px of name in {name.width:.0f}"
            assert name.font_size >= 24 and name.texture_size[0] >= needed - 1     # drawn whole, not elided
            left, right = name.to_window(name.x, 0)[0], name.to_window(name.right, 0)[0]
            clock = shell.ids.clock
            assert right <= clock.to_window(clock.x, 0)[0]                       # nothing drawn over it
            assert shell.ids.voice.ids.repeat.parent is not None and left >= 0
            assert shell.ids.date.text and shell.ids.date.texture_size[0] <= shell.ids.date.width
    finally:
        look.large = look.contrast = False
        shell.home()


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_long_staff_message_in_the_header_leaves_every_header_button_on_screen(demo, lang):
    """"Storage full …" wraps into two lines in the sync pill; the Home, speaker, text-and-sound and
    language buttons stay whole on the screen (the station name gives way, with an ellipsis)."""
    from kivy.uix.behaviors import ButtonBehavior
    from screens.i18n import tr

    h, _rig = demo
    shell = h.shell
    h.ctx.session.set_language(lang)
    tr.lang = lang
    h.ctx.status.set("storage", state="full", free_bytes=0)
    try:
        shell.go("health_menu")
        shell.tick()
        h.frames(4)
        label, header = shell.ids.sync_label, shell.ids.header
        assert label.text.startswith(("存储已满", "Storage full"))
        assert len(label.laid_out_lines()) == 2 and label.parent.height <= header.height
        buttons = [w for w in header.walk(restrict=True) if isinstance(w, ButtonBehavior)]
        assert len(buttons) == 4                                    # Home, say it again, Aa, language
        for button in buttons:
            left, bottom = button.to_window(button.x, button.y)
            assert left >= 0 and left + button.width <= h.window.width and bottom >= header.y
    finally:
        h.ctx.status.set("storage", state="ok", free_bytes=10 ** 9)
        shell.tick()
        tr.lang = "zh_CN"
        shell.home()
