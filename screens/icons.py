"""Icons drawn with Kivy canvas instructions: crisp at any size, no image files, one colour.

Each icon is drawn in a unit square (0..1, origin bottom-left) scaled to the widget.
"""
from __future__ import annotations

import math

from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import ColorProperty, StringProperty
from kivy.uix.widget import Widget

from screens.look import ContrastColours, contrast_fg


class Icon(ContrastColours, Widget):
    """A named line-art icon (heart, person, volunteer, records, help, card, qr, back, home, lock,
    check, warning, online, offline, clock, gauge, drop, printer; for requests: bag, document, box,
    scissors, hand, list)."""

    CONTRAST = {"color": contrast_fg}
    name = StringProperty("")
    color = ColorProperty([1, 1, 1, 1])

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, name=self._redraw, color=self._redraw)
        self.follow_contrast()

    # unit-square helpers --------------------------------------------------------------
    def _xy(self, u: float, v: float) -> tuple[float, float]:
        s = min(self.width, self.height)
        ox = self.x + (self.width - s) / 2
        oy = self.y + (self.height - s) / 2
        return ox + u * s, oy + v * s

    def _pts(self, *uv: float) -> list[float]:
        out: list[float] = []
        for i in range(0, len(uv), 2):
            out.extend(self._xy(uv[i], uv[i + 1]))
        return out

    def _len(self, u: float) -> float:
        return u * min(self.width, self.height)

    def _line(self, *uv: float, w: float = 0.07, close: bool = False) -> None:
        Line(points=self._pts(*uv), width=max(1.5, self._len(w) / 2), close=close, joint="round", cap="round")

    def _circle(self, cu: float, cv: float, r: float, w: float = 0.07, a0: float = 0, a1: float = 360) -> None:
        x, y = self._xy(cu, cv)
        Line(circle=(x, y, self._len(r), a0, a1), width=max(1.5, self._len(w) / 2), cap="round")

    def _disc(self, cu: float, cv: float, r: float, a0: float = 0, a1: float = 360) -> None:
        x, y = self._xy(cu - r, cv - r)
        Ellipse(pos=(x, y), size=(self._len(2 * r),) * 2, angle_start=a0, angle_end=a1)

    def _redraw(self, *_args) -> None:
        self.canvas.clear()
        draw = getattr(self, f"_draw_{self.name.replace('-', '_')}", None)
        if draw is None or self.width <= 0:
            return
        with self.canvas:
            Color(*self.color)
            draw()

    # icons --------------------------------------------------------------------------
    def _draw_heart(self) -> None:
        self._disc(0.32, 0.62, 0.2)
        self._disc(0.68, 0.62, 0.2)
        Triangle(points=self._pts(0.13, 0.56, 0.87, 0.56, 0.5, 0.12))
        Color(0, 0, 0, 0.3)
        self._line(0.18, 0.5, 0.36, 0.5, 0.43, 0.66, 0.52, 0.36, 0.6, 0.5, 0.82, 0.5, w=0.05)

    def _draw_person(self) -> None:
        self._disc(0.5, 0.7, 0.17)
        self._disc(0.5, 0.12, 0.34, -90, 90)

    def _draw_volunteer(self) -> None:
        self._disc(0.36, 0.68, 0.14)
        self._disc(0.36, 0.14, 0.27, -90, 90)
        self._disc(0.72, 0.62, 0.09)
        self._disc(0.84, 0.62, 0.09)
        Triangle(points=self._pts(0.63, 0.585, 0.93, 0.585, 0.78, 0.4))

    def _draw_records(self) -> None:
        x, y = self._xy(0.18, 0.08)
        Line(rounded_rectangle=(x, y, self._len(0.64), self._len(0.84), self._len(0.08)),
             width=max(1.5, self._len(0.06) / 2))
        for v in (0.66, 0.5, 0.34):
            self._line(0.3, v, 0.7, v, w=0.06)
        self._line(0.3, 0.18, 0.5, 0.18, w=0.06)

    def _draw_help(self) -> None:
        self._circle(0.5, 0.5, 0.42)
        self._circle(0.5, 0.6, 0.13, w=0.08, a0=-90, a1=150)
        self._line(0.5, 0.47, 0.5, 0.38, w=0.08)
        self._disc(0.5, 0.24, 0.05)

    def _draw_card(self) -> None:
        x, y = self._xy(0.06, 0.2)
        Line(rounded_rectangle=(x, y, self._len(0.88), self._len(0.6), self._len(0.07)),
             width=max(1.5, self._len(0.06) / 2))
        cx, cy = self._xy(0.16, 0.44)
        RoundedRectangle(pos=(cx, cy), size=(self._len(0.18), self._len(0.16)), radius=[self._len(0.03)])
        self._line(0.44, 0.58, 0.82, 0.58, w=0.05)
        self._line(0.44, 0.44, 0.74, 0.44, w=0.05)
        self._line(0.16, 0.3, 0.82, 0.3, w=0.05)

    def _draw_qr(self) -> None:
        for u, v in ((0.08, 0.62), (0.62, 0.62), (0.08, 0.08)):
            x, y = self._xy(u, v)
            Line(rectangle=(x, y, self._len(0.3), self._len(0.3)), width=max(1.5, self._len(0.05) / 2))
            x, y = self._xy(u + 0.09, v + 0.09)
            Rectangle(pos=(x, y), size=(self._len(0.12),) * 2)
        for u, v in ((0.62, 0.08), (0.78, 0.24), (0.62, 0.4), (0.86, 0.08), (0.46, 0.46)):
            x, y = self._xy(u, v)
            Rectangle(pos=(x, y), size=(self._len(0.1),) * 2)

    def _draw_back(self) -> None:
        self._line(0.62, 0.16, 0.28, 0.5, 0.62, 0.84, w=0.1)

    def _draw_forward(self) -> None:
        self._line(0.38, 0.16, 0.72, 0.5, 0.38, 0.84, w=0.1)

    def _draw_home(self) -> None:
        self._line(0.1, 0.5, 0.5, 0.86, 0.9, 0.5, w=0.08)
        self._line(0.22, 0.58, 0.22, 0.12, 0.78, 0.12, 0.78, 0.58, w=0.08)

    def _draw_lock(self) -> None:
        x, y = self._xy(0.2, 0.1)
        RoundedRectangle(pos=(x, y), size=(self._len(0.6), self._len(0.46)), radius=[self._len(0.06)])
        self._circle(0.5, 0.6, 0.19, w=0.08, a0=-90, a1=90)
        self._line(0.31, 0.5, 0.31, 0.6, w=0.08)
        self._line(0.69, 0.5, 0.69, 0.6, w=0.08)

    def _draw_bag(self) -> None:
        x, y = self._xy(0.16, 0.1)
        RoundedRectangle(pos=(x, y), size=(self._len(0.68), self._len(0.56)), radius=[self._len(0.06)])
        self._circle(0.5, 0.66, 0.17, w=0.08, a0=-90, a1=90)

    def _draw_document(self) -> None:
        self._line(0.22, 0.08, 0.22, 0.92, 0.62, 0.92, 0.8, 0.74, 0.8, 0.08, w=0.07, close=True)
        for v in (0.62, 0.46, 0.3):
            self._line(0.34, v, 0.68, v, w=0.06)

    def _draw_box(self) -> None:
        self._line(0.12, 0.68, 0.5, 0.86, 0.88, 0.68, 0.88, 0.24, 0.5, 0.08, 0.12, 0.24, w=0.07, close=True)
        self._line(0.12, 0.68, 0.5, 0.5, 0.88, 0.68, w=0.07)
        self._line(0.5, 0.5, 0.5, 0.08, w=0.07)

    def _draw_scissors(self) -> None:
        self._circle(0.27, 0.25, 0.13)
        self._circle(0.73, 0.25, 0.13)
        self._line(0.35, 0.35, 0.78, 0.9, w=0.07)
        self._line(0.65, 0.35, 0.22, 0.9, w=0.07)

    def _draw_hand(self) -> None:
        self._disc(0.5, 0.2, 0.3, -90, 90)
        for u, top in ((0.3, 0.62), (0.43, 0.76), (0.57, 0.78), (0.7, 0.66)):
            self._line(u, 0.3, u, top, w=0.1)

    def _draw_list(self) -> None:
        for v in (0.76, 0.5, 0.24):
            self._disc(0.18, v, 0.06)
            self._line(0.34, v, 0.86, v, w=0.08)

    def _draw_check(self) -> None:
        self._circle(0.5, 0.5, 0.42)
        self._line(0.3, 0.5, 0.44, 0.35, 0.72, 0.64, w=0.09)

    def _draw_warning(self) -> None:
        self._line(0.5, 0.9, 0.94, 0.12, 0.06, 0.12, w=0.07, close=True)
        self._line(0.5, 0.62, 0.5, 0.38, w=0.09)
        self._disc(0.5, 0.25, 0.05)

    def _draw_online(self) -> None:
        self._disc(0.5, 0.2, 0.08)
        for r in (0.3, 0.5):
            self._circle(0.5, 0.2, r, w=0.08, a0=-45, a1=45)

    def _draw_offline(self) -> None:
        self._draw_online()
        self._line(0.15, 0.85, 0.85, 0.1, w=0.08)

    def _draw_clock(self) -> None:
        self._circle(0.5, 0.5, 0.42)
        self._line(0.5, 0.78, 0.5, 0.5, 0.7, 0.38, w=0.08)

    def _draw_gauge(self) -> None:
        self._circle(0.5, 0.38, 0.42, a0=-90, a1=90)
        a = math.radians(40)
        self._line(0.5, 0.38, 0.5 + 0.3 * math.sin(a), 0.38 + 0.3 * math.cos(a), w=0.08)
        self._disc(0.5, 0.38, 0.07)

    def _draw_drop(self) -> None:
        self._disc(0.5, 0.38, 0.28)
        Triangle(points=self._pts(0.24, 0.48, 0.76, 0.48, 0.5, 0.92))

    def _face(self, mood: int) -> None:
        """A round face; ``mood`` 1 (very unhappy) to 5 (very happy). Each level differs in more than
        the mouth's bend: 5 laughs (an open mouth and smiling eyes), 4 smiles, 3 is straight, 2
        frowns, 1 frowns deeply with slanted brows."""
        self._circle(0.5, 0.5, 0.44, w=0.06)
        if mood == 5:                                        # smiling eyes: arcs, not dots
            self._circle(0.35, 0.58, 0.07, w=0.05, a0=-70, a1=70)
            self._circle(0.65, 0.58, 0.07, w=0.05, a0=-70, a1=70)
        else:
            self._disc(0.35, 0.62, 0.05)
            self._disc(0.65, 0.62, 0.05)
        if mood == 1:                                        # brows slanting down to the middle
            self._line(0.24, 0.80, 0.42, 0.72, w=0.05)
            self._line(0.76, 0.80, 0.58, 0.72, w=0.05)
        if mood == 5:                                        # laughing: an open half-disc mouth
            Ellipse(pos=self._xy(0.28, 0.18), size=(self._len(0.44), self._len(0.36)), angle_start=90, angle_end=270)
        elif mood == 4:
            self._circle(0.5, 0.46, 0.2, w=0.06, a0=125, a1=235)
        elif mood == 3:
            self._line(0.32, 0.34, 0.68, 0.34, w=0.06)
        elif mood == 2:
            self._circle(0.5, 0.14, 0.2, w=0.06, a0=-55, a1=55)
        else:
            self._circle(0.5, 0.06, 0.3, w=0.07, a0=-60, a1=60)

    def _draw_face1(self) -> None:
        self._face(1)

    def _draw_face2(self) -> None:
        self._face(2)

    def _draw_face3(self) -> None:
        self._face(3)

    def _draw_face4(self) -> None:
        self._face(4)

    def _draw_face5(self) -> None:
        self._face(5)

    def _draw_printer(self) -> None:
        x, y = self._xy(0.08, 0.3)
        RoundedRectangle(pos=(x, y), size=(self._len(0.84), self._len(0.36)), radius=[self._len(0.05)])
        x, y = self._xy(0.26, 0.66)
        Line(rectangle=(x, y, self._len(0.48), self._len(0.24)), width=max(1.5, self._len(0.05) / 2))
        x, y = self._xy(0.26, 0.06)
        Line(rectangle=(x, y, self._len(0.48), self._len(0.3)), width=max(1.5, self._len(0.05) / 2))
