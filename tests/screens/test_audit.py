"""Every registered screen, in every tour state, both languages and every seeing mode (standard, 大字,
高对比), passes the elder-friendly audit and the touch reachability audit; a language switch re-renders
every visible text."""
from __future__ import annotations

import pytest

from screens import SCREENS             # names only: imports no Kivy
from tests.support.audit import audit
from tests.support.touch import press, touch_audit, visible_texts


#: One form of each unit per language: 毫米汞柱 and 毫摩尔/升 in Chinese, mmHg and mmol/L in English.
OTHER_UNITS = {"zh_CN": ("mmHg", "mmol/L"), "en": ("毫米汞柱", "毫摩尔")}
LANGS = ("zh_CN", "en")
SWITCH_TO = {"zh_CN": "中文", "en": "English"}      # the header's language button, as it reads


def _no_times(texts):
    """Clock times vary between two renderings a moment apart; the words must not."""
    import re
    return [re.sub(r"\d\d:\d\d", "HH:MM", t) for t in texts]


def _show(harness, name, state, lang, mode):
    """Render ``name`` in ``state`` afresh, in ``lang`` and seeing mode ``mode``."""
    from screens.i18n import tr
    from screens.look import look
    harness.shell.end_session()
    harness.shell.idle.touch()          # a slow run must not meet the idle countdown
    harness.ctx.session.set_language(lang)
    tr.lang = lang
    look.large, look.contrast = mode == "large", mode == "contrast"
    harness.shell.manager.current = name
    harness.screen(name).load_demo(state)
    harness.frames(4)


def _both_audits(harness, where, lang):
    """The elder-friendly audit, the touch reachability audit (a 5×5 grid of real touches on every visible
    button) and the units check, on what the window shows now."""
    return ([f"{where}: {p}" for p in audit(harness.shell) + touch_audit(harness.shell)]
            + [f"{where}: unit in the other language's form: {t!r}"
               for t in visible_texts(harness.shell) for u in OTHER_UNITS[lang] if u in t])


# One test per screen and seeing mode (xdist spreads them over its workers). Each state is rendered
# once per language and both audits run on that one render (they used to render it once each). In the
# standard mode each state is also switched to the other language with the header button, from a fresh
# render in the first one: it must then read exactly as when rendered in that language from the start,
# and pass both audits.
@pytest.mark.audit
@pytest.mark.parametrize("mode", ["", "large", "contrast"])
@pytest.mark.parametrize("name", list(SCREENS))
def test_every_state_passes_both_audits_in_both_languages(harness, name, mode):
    from screens import screen_class
    from screens.look import look

    failures = []
    try:
        for state in screen_class(name).tour_states():
            fresh, switched = {}, {}
            for lang in LANGS:
                other = LANGS[1 - LANGS.index(lang)]
                _show(harness, name, state, lang, mode)
                failures += _both_audits(harness, f"{name}[{state}]/{lang}/{mode or 'standard'}", lang)
                fresh[lang] = _no_times(visible_texts(harness.shell))
                if mode == "":
                    press(harness, SWITCH_TO[other], frames=4)
                    switched[other] = _no_times(visible_texts(harness.shell))
                    failures += _both_audits(harness, f"{name}[{state}] {lang}→{other}", other)
            for lang, texts in switched.items():
                stale = [t for t in texts if t not in fresh[lang]]
                if stale or len(texts) != len(fresh[lang]):
                    failures.append(f"{name}[{state}] →{lang}: not re-rendered: {stale[:4]}; "
                                    f"missing: {[t for t in fresh[lang] if t not in texts][:4]}")
    finally:
        harness.shell.end_session()
        look.large = look.contrast = False
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("mode", ["", "large", "contrast"])
def test_the_volume_panel_passes_the_audit(harness, mode):
    from screens.look import look

    harness.shell.go("home")
    look.large, look.contrast = mode == "large", mode == "contrast"
    harness.shell.voicectl.open_panel()
    harness.frames(4)
    try:
        assert not audit(harness.shell)
    finally:
        harness.shell.home()


def test_idle_overlay_passes_the_audit(harness):
    harness.shell.go("help")
    harness.shell.idle_seconds = 9
    harness.shell.idle_visible = True
    harness.frames(4)
    try:
        assert not audit(harness.shell)
    finally:
        harness.shell.home()


def test_audit_catches_breaches(harness):
    """The audit is not a rubber stamp: small, faint, clipped text and small buttons are reported."""
    from kivy.uix.boxlayout import BoxLayout

    from screens import theme
    from screens.widgets import KButton, KLabel, Surface

    box = Surface(bg_color=theme.CARD, size=(600, 300), size_hint=(None, None))
    small = KLabel(text="小字", role="body")
    small.font_size = 12
    faint = KLabel(text="浅色", color=theme.rgb("#B0B0B0"))
    clipped = KLabel(text="这一行字太长了放不下" * 4, size_hint_x=None, width=80)
    tiny = KButton(text="按", size_hint=(None, None), size=(40, 40))
    inner = BoxLayout()
    for w in (small, faint, clipped, tiny):
        inner.add_widget(w)
    box.add_widget(inner)
    harness.window.add_widget(box)
    try:
        harness.frames(4)
        problems = "\n".join(audit(box))
        assert "text too small" in problems
        assert "contrast" in problems and "浅色" in problems
        assert "cut off" in problems
        assert "touch target too small" in problems
    finally:
        harness.window.remove_widget(box)


def test_palette_text_pairs_reach_aaa_contrast():
    from screens import theme
    for fill in (theme.HEALTH, theme.VOLUNTEER, theme.RECORDS, theme.HELP, theme.ACCENT, theme.NEUTRAL,
                 theme.OK, theme.WARN, theme.DANGER, theme.ONLINE, theme.OFFLINE, theme.HEADER, theme.DEMO, theme.BLACK_RED):
        assert theme.contrast(theme.ON_DARK, fill) >= 7, fill
    for surface in (theme.PAGE, theme.CARD):
        assert theme.contrast(theme.INK, surface) >= 7
        assert theme.contrast(theme.INK_SOFT, surface) >= 7


def test_the_audit_sees_text_pushed_off_the_screen_or_under_the_header(harness):
    """A layout that pushes a heading past the top of the window (or up under the header) fails."""
    from kivy.core.window import Window
    from kivy.metrics import sp
    from kivy.uix.label import Label

    harness.shell.go("help")
    harness.frames(2)
    screen = harness.screen("help")
    pushed = Label(text="王*明，您好！", font_size=sp(40), color=(0.1, 0.1, 0.1, 1), size_hint=(None, None),
                   size=(600, 80))
    screen.add_widget(pushed)
    try:
        assert not [p for p in audit(harness.shell) if "off screen" in p or "under the header" in p]
        header = harness.shell.ids.header
        for y, says in ((Window.height + 20, "off screen"), (screen.to_widget(0, header.y + 4)[1], "under the header")):
            pushed.pos = (100, y)
            harness.frames(2)
            assert any(says in p and "王*明" in p for p in audit(harness.shell)), (says, audit(harness.shell))
    finally:
        screen.remove_widget(pushed)
        harness.shell.home()
