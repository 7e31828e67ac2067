"""Hidden means gone: a hidden panel is out of the widget tree, and comes back in its place."""
from __future__ import annotations

import gc

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button

from screens.base import Presence


def test_hidden_widgets_leave_the_tree_and_return_in_their_place():
    box = BoxLayout()
    a, b, c, d = (Button(text=t) for t in "abcd")
    for w in (a, b, c, d):
        box.add_widget(w)
    presence = Presence()
    presence.set_shown(b.proxy_ref, False)          # kv ids are weak proxies
    presence.set_shown(c, False)
    assert [w.text for w in reversed(box.children)] == ["a", "d"]
    assert b.parent is None and not presence.is_shown(b)
    presence.set_shown(c, True)
    assert [w.text for w in reversed(box.children)] == ["a", "c", "d"]
    presence.set_shown(b, True)
    presence.set_shown(b, True)                     # showing twice changes nothing
    assert [w.text for w in reversed(box.children)] == ["a", "b", "c", "d"]


def test_a_hidden_widget_known_only_by_a_weak_id_stays_alive():
    box = BoxLayout()
    panel = Button(text="panel")
    box.add_widget(panel)
    proxy = panel.proxy_ref
    presence = Presence()
    presence.set_shown(proxy, False)
    del panel
    gc.collect()
    presence.set_shown(proxy, True)
    assert box.children[0].text == "panel"
