"""The seeing modes' bindings cost the same for the ten-thousandth widget as for the first.

Every styled widget follows ``look`` (text size, high contrast). Kivy's ``bind`` first walks every
callback already bound to that property to refuse a duplicate, calling each weak method: a kiosk that
runs all day (and a test process that renders every screen) paid for each new label with a walk over
every label it had ever made. ``fbind(..., ref=True)`` keeps the weak reference without the walk.
"""
from __future__ import annotations

import kivy.weakmethod
import pytest


@pytest.fixture()
def weak_calls(monkeypatch):
    """Counts the calls of Kivy's WeakMethod (the duplicate check calls one per earlier binding)."""
    calls = [0]
    real = kivy.weakmethod.WeakMethod.__call__

    def counting(self):
        calls[0] += 1
        return real(self)

    monkeypatch.setattr(kivy.weakmethod.WeakMethod, "__call__", counting)
    return calls


def test_a_new_label_does_not_walk_the_bindings_of_every_earlier_one(weak_calls):
    from screens.widgets import KButton, KLabel, Surface

    earlier = [KLabel(text="早") for _ in range(300)] + [Surface() for _ in range(100)]
    weak_calls[0] = 0
    KLabel(text="新")
    KButton(text="按钮")
    assert weak_calls[0] < 50, f"{weak_calls[0]} weak method calls for two new widgets"
    assert len(earlier) == 400


def test_widgets_still_follow_both_seeing_modes_and_can_be_collected():
    import gc
    import weakref

    from screens.look import look
    from screens.widgets import KLabel

    label = KLabel(text="字")
    size, ink = label.font_size, tuple(label.color)
    try:
        look.large, look.contrast = True, True
        assert label.font_size > size and tuple(label.color) != ink
    finally:
        look.large = look.contrast = False
    assert label.font_size == size and tuple(label.color) == ink
    gone = weakref.ref(label)
    del label
    gc.collect()
    assert gone() is None                 # look holds its widgets weakly
