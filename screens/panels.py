"""Hidden means gone, for the phase panels of the two-way station's screens: a panel not showing is
out of the widget tree (no hidden, disabled panel left in place to swallow touches)."""
from __future__ import annotations

from kivy.weakproxy import WeakProxy


class TreePanels:
    """Mixin for a :class:`screens.base.KioskScreen`: :meth:`show_only` takes the other panels out of
    the tree and puts the shown one back where its kv rule had it."""

    def show_only(self, visible: str, *panels: str) -> None:
        """Show the panel with kv id ``visible``; take the other ``panels`` out of the tree."""
        if not hasattr(self, "_panel_home"):
            self._panel_home: dict[str, tuple] = {}
        for name in panels:
            widget = self.ids[name]
            widget = widget.__ref__() if isinstance(widget, WeakProxy) else widget
            if name not in self._panel_home:
                parent = widget.parent
                self._panel_home[name] = (widget, parent, list(parent.children))
        for name in panels:
            widget, parent, order = self._panel_home[name]
            if name != visible and widget.parent is parent:
                parent.remove_widget(widget)
        widget, parent, order = self._panel_home[visible]
        if widget.parent is None:
            index = sum(1 for w in order[:order.index(widget)] if w.parent is parent)
            parent.add_widget(widget, index=index)
