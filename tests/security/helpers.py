"""Shared pieces of the security tests: real touches on what is visible."""
from __future__ import annotations


def visible_button(harness, text: str):
    """The button on the current screen (or the header) whose text contains ``text``."""
    from screens.widgets import KButton

    current = harness.shell.manager.current_screen
    candidates = [w for w in harness.shell.walk(restrict=True) if isinstance(w, KButton) and text in (w.text or "")]
    on_screen = [w for w in candidates if (_inside(w, current) or not _inside(w, harness.shell.manager))
                 and _shown(w)]
    assert on_screen, f"no visible button with {text!r} on {harness.shell.manager.current}"
    return on_screen[0]


def _lineage(widget):
    """``widget`` and its parents up to the window (whose ``parent`` is the window itself)."""
    while widget is not None:
        yield widget
        if widget.parent is widget:
            return
        widget = widget.parent


def _shown(widget) -> bool:
    return all(getattr(w, "opacity", 1) != 0 and not getattr(w, "disabled", False) for w in _lineage(widget))


def _inside(widget, ancestor) -> bool:
    return any(w is ancestor for w in _lineage(widget))


def tap(harness, widget) -> None:
    """A real touch (down, a frame, up) at the centre of ``widget``, through the window."""
    from kivy.tests.common import UnitTestTouch

    harness.pump_until(lambda: not harness.shell.manager.transition.is_active, 5)   # screens ignore touches mid-slide
    harness.frames(1)
    touch = UnitTestTouch(*widget.to_window(*widget.center))
    touch.touch_down()
    harness.frames(1)
    touch.touch_up()
    harness.frames(2)


def tap_text(harness, text: str) -> None:
    """Touch the visible button whose text contains ``text``."""
    tap(harness, visible_button(harness, text))
