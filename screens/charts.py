"""Drawn widgets for health results: the live cuff-pressure gauge and the trend chart."""
from __future__ import annotations

import math

from kivy.graphics import Color, Ellipse, Line
from kivy.metrics import dp
from kivy.properties import ListProperty, NumericProperty
from kivy.uix.widget import Widget

from screens import theme


class CuffGauge(Widget):
    """A half-dial from 0 to ``max_value`` mmHg with a needle at ``value``."""

    value = NumericProperty(0)
    max_value = NumericProperty(300)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, value=self._redraw)

    def _redraw(self, *_args) -> None:
        self.canvas.clear()
        r = min(self.width / 2, self.height) * 0.92
        cx, cy = self.center_x, self.y + (self.height - r) / 2
        frac = max(0.0, min(1.0, self.value / self.max_value))
        with self.canvas:
            Color(*theme.rgb("#D9D2C5"))
            Line(circle=(cx, cy, r, -90, 90), width=dp(14), cap="none")
            Color(*theme.HEALTH)
            Line(circle=(cx, cy, r, -90, -90 + 180 * frac), width=dp(14), cap="none")
            Color(*theme.INK)
            for mark in range(0, int(self.max_value) + 1, 50):
                a = math.radians(-90 + 180 * mark / self.max_value)
                Line(points=[cx + (r - dp(26)) * math.sin(a), cy + (r - dp(26)) * math.cos(a),
                             cx + (r - dp(40)) * math.sin(a), cy + (r - dp(40)) * math.cos(a)], width=dp(2))
            a = math.radians(-90 + 180 * frac)
            Color(*theme.ACCENT)
            Line(points=[cx, cy, cx + (r - dp(48)) * math.sin(a), cy + (r - dp(48)) * math.cos(a)],
                 width=dp(5), cap="round")
            Ellipse(pos=(cx - dp(14), cy - dp(14)), size=(dp(28), dp(28)))


class TrendChart(Widget):
    """Lines through up to ten readings, oldest left, with dashed reference lines.

    ``series`` is a list of (values, colour); ``references`` a list of (value, colour);
    ``y_range`` the value range shown.
    """

    series = ListProperty([])
    references = ListProperty([])
    y_range = ListProperty([40, 200])

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, series=self._redraw, references=self._redraw,
                  y_range=self._redraw)

    def _y(self, value: float) -> float:
        low, high = self.y_range
        pad = dp(16)
        return self.y + pad + (self.height - 2 * pad) * (min(max(value, low), high) - low) / (high - low)

    def _redraw(self, *_args) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(*theme.rgb("#D9D2C5"))
            Line(rectangle=(self.x, self.y, self.width, self.height), width=dp(1.5))
            for value, colour in self.references:
                Color(*colour)
                # Kivy draws dashes only for 1-px lines.
                Line(points=[self.x, self._y(value), self.right, self._y(value)], width=1,
                     dash_length=int(dp(10)), dash_offset=int(dp(8)))
            for values, colour in self.series:
                if not values:
                    continue
                n = len(values)
                step = (self.width - dp(60)) / max(1, n - 1)
                points = []
                for i, v in enumerate(values):
                    points += [self.x + dp(30) + i * step, self._y(v)]
                Color(*colour)
                if n > 1:
                    Line(points=points, width=dp(3), joint="round")
                for i in range(0, len(points), 2):
                    Ellipse(pos=(points[i] - dp(9), points[i + 1] - dp(9)), size=(dp(18), dp(18)))
