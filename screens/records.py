"""My records: the person's recent blood pressure and glucose, as trend charts and latest values."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import ListProperty, StringProperty

from screens import theme
from screens.base import KioskScreen


class RecordsScreen(KioskScreen):
    """Up to ten readings of each kind, oldest on the left, with the guideline lines dashed."""

    personal = True
    bp_series = ListProperty([])
    glucose_series = ListProperty([])
    bp_latest = StringProperty("")
    glucose_latest = StringProperty("")
    bp_refs = ListProperty([(140, theme.DANGER), (90, theme.WARN)])
    glucose_refs = ListProperty([(7.0, theme.DANGER), (3.9, theme.WARN)])

    def enter(self, **_params) -> None:
        from kiosk.health_records import recent_measurements
        person = self.ctx.session.person
        if person is None:
            self.reset()
            return
        bp = [r.payload for r in recent_measurements(self.ctx.journal, person.person_key, "bp")]
        glucose = [r.payload for r in recent_measurements(self.ctx.journal, person.person_key, "glucose")]
        self.show([(p.systolic, p.diastolic) for p in bp], [p.mmol_l for p in glucose])

    def show(self, bp: list[tuple[int, int]], glucose: list[float]) -> None:
        """Fill the charts: ``bp`` as (systolic, diastolic) pairs and ``glucose`` in mmol/L, oldest first."""
        self.bp_series = [([s for s, _ in bp], theme.ACCENT), ([d for _, d in bp], theme.RECORDS)] if bp else []
        self.glucose_series = [(glucose, theme.VOLUNTEER)] if glucose else []
        self.bp_latest = (self._("Latest {s}/{d} mmHg · {n} readings", s=bp[-1][0], d=bp[-1][1], n=len(bp))
                          if bp else self._("No blood pressure readings yet"))
        self.glucose_latest = (self._("Latest {v} mmol/L · {n} readings", v=f"{glucose[-1]:.1f}", n=len(glucose))
                               if glucose else self._("No blood glucose readings yet"))

    def reset(self) -> None:
        self.bp_series = []
        self.glucose_series = []
        self.bp_latest = self.glucose_latest = ""

    def load_demo(self, state: str = "") -> None:
        self.show([(148, 94), (142, 90), (138, 88), (135, 86), (131, 84), (128, 82)],
                  [7.4, 6.9, 6.6, 6.2, 6.4, 5.9])


Builder.load_file(str(Path(__file__).with_name("records.kv")))
