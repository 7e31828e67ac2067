"""A finger, not a method call: touches dispatched through the window, as a real touch screen does.

- :func:`touch_audit` — the touch reachability audit: every visible, enabled button must answer a
  touch (down + up through ``Window``'s input dispatch) at every point of a grid inside its box.
  The buttons' actions are held back while it probes, so the screen state does not change.
- :func:`press` — flow tests press the visible button whose text (or kv id) is given, at its
  centre, and the test fails if that touch did not reach it.
"""
from __future__ import annotations

import time

from kivy.tests.common import UnitTestTouch
from kivy.uix.behaviors import ButtonBehavior

from screens.widgets import TAP_GUARD_S, tap_guard_left, tap_guarded
from tests.support.audit import _name, _visible

GRID = 5


def buttons(root) -> list:
    """Every visible, enabled button under ``root`` (in tree order)."""
    return [w for w in root.walk(restrict=True)
            if isinstance(w, ButtonBehavior) and not w.disabled and _visible(w)]


def _label_text(button) -> str:
    """The text a person reads on ``button``: its own ``text`` or that of the labels inside it."""
    own = getattr(button, "text", "")
    if own:
        return own
    return " ".join(w.text for w in button.walk(restrict=True) if getattr(w, "text", "") and w is not button)


def tap_at(x: float, y: float) -> None:
    """One touch at window coordinates (x, y): down, then up, through the window's dispatch."""
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def _grid(button, n: int = GRID):
    x0, y0 = button.to_window(button.x, button.y)
    for i in range(n):
        for j in range(n):
            yield (x0 + button.width * (2 * i + 1) / (2 * n), y0 + button.height * (2 * j + 1) / (2 * n))


class _Catcher:
    """Records presses and releases of one button and stops its handlers from running."""

    def __init__(self, button) -> None:
        self.button = button
        self.pressed = self.released = 0
        button.fbind("on_press", self._press)
        button.fbind("on_release", self._release)

    def _press(self, *_args) -> bool:
        self.pressed += 1
        return True          # handled: the kv/Python handlers bound earlier do not run

    def _release(self, *_args) -> bool:
        self.released += 1
        return True

    def close(self) -> None:
        self.button.funbind("on_press", self._press)
        self.button.funbind("on_release", self._release)


def touch_audit(root, n: int = GRID) -> list[str]:
    """Every visible, enabled button under ``root`` that misses a touch at a point of an n×n grid.

    Each problem names the button and the fraction of points it answered.
    """
    problems = []
    time.sleep(tap_guard_left())      # a tap just before (a flow's press) must not guard these probes
    targets = buttons(root)
    catchers = {id(b): _Catcher(b) for b in targets}
    try:
        for button in targets:
            catcher = catchers[id(button)]
            missed = []
            for x, y in _grid(button, n):
                before = (catcher.pressed, catcher.released)
                tap_at(x, y)
                if (catcher.pressed, catcher.released) != (before[0] + 1, before[1] + 1):
                    missed.append((round(x), round(y)))
            if missed:
                problems.append(f"dead touch zone: {_name(button)} {_label_text(button)[:30]!r} answered "
                                f"{n * n - len(missed)}/{n * n} points; missed e.g. {missed[:3]}")
    finally:
        for catcher in catchers.values():
            catcher.close()
    return problems


class NotPressable(AssertionError):
    """The button asked for is not on screen, or did not answer a touch."""


def find_button(root, text: str | None = None, *, id: str | None = None, screen=None):
    """The one visible, enabled button whose text contains ``text`` (or whose kv id is ``id``).

    ``screen``: look up ``id`` in this screen's ``ids``; the button must still be visible.
    """
    candidates = buttons(root)
    if id is not None:
        if screen is None or id not in screen.ids:
            raise NotPressable(f"no widget with id {id!r}")
        wanted = screen.ids[id]
        found = [b for b in candidates if b.proxy_ref is wanted or b is wanted]
    else:
        found = [b for b in candidates if text in _label_text(b)]
        exact = [b for b in found if _label_text(b).strip() == text]
        found = exact or found
    if len(found) != 1:
        shown = [_label_text(b) for b in candidates]
        raise NotPressable(f"{len(found)} visible buttons match {text or id!r}; visible buttons: {shown}")
    return found[0]


def press(harness, text: str | None = None, *, id: str | None = None, screen=None, frames: int = 2) -> None:
    """Press the visible button with ``text`` (or kv ``id``) by a touch at its centre, as a finger does.

    Raises:
        NotPressable: no such visible button, several match, or the touch did not reach it.
    """
    harness.frames(1)                 # what just appeared is laid out before a finger finds it
    button = find_button(harness.shell, text, id=id, screen=screen)
    x, y = button.to_window(*button.center)
    spos = (x / harness.window.width, y / harness.window.height)
    give_up = time.monotonic() + 5 * TAP_GUARD_S
    while tap_guarded(button, spos):  # a person's next tap comes after the double-tap guard
        if time.monotonic() > give_up:
            raise NotPressable(f"the double-tap guard never let go of {_label_text(button)!r} (a frozen tap clock?)")
        time.sleep(0.05)
        harness.frames(1)
    seen = []

    def saw(*_args):
        seen.append(1)

    button.fbind("on_press", saw)
    try:
        x, y = button.to_window(*button.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        if not seen:
            raise NotPressable(f"the touch at the centre of {_label_text(button)!r} did not reach it")
        harness.frames(1)
        touch.touch_up()
    finally:
        button.funbind("on_press", saw)
    harness.frames(frames)


def visible_texts(root) -> list[str]:
    """The text of every visible label under ``root``, in tree order."""
    from kivy.uix.label import Label
    return [w.text for w in root.walk(restrict=True) if isinstance(w, Label) and w.text.strip() and _visible(w)]



def hold(harness, x: float, y: float, seconds: float) -> None:
    """Hold a finger at window coordinates (x, y) for ``seconds`` (frames keep running), then lift it."""
    import time
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        harness.frames(1)
        time.sleep(0.01)
    touch.touch_up()
    harness.frames(2)


def press_keys(harness, keys: str) -> None:
    """Press keypad keys one after another by their visible labels (digits)."""
    for key in keys:
        press(harness, key, frames=1)
