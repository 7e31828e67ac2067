"""My records: the person's recent blood pressure and glucose, as trend charts and latest values."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import ListProperty, StringProperty

from kiosk.health_records import recent_measurements
from kiosk.i18n import Joined
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

    def enter(self, from_result: bool = False, **_params) -> None:
        self.set_shown("back_to_result", from_result)
        person = self.ctx.session.person
        if person is None:
            self.reset()
            return
        bp = recent_measurements(self.ctx.journal, person.keys, "bp")
        glucose = recent_measurements(self.ctx.journal, person.keys, "glucose")
        self.show([(r.payload.systolic, r.payload.diastolic) for r in bp], [r.payload.mmol_l for r in glucose],
                  [r.created_at for r in bp], [r.created_at for r in glucose])

    def show(self, bp: list[tuple[int, int]], glucose: list[float], bp_dates=(), glucose_dates=()) -> None:
        """Fill the charts and the value lines: ``bp`` as (systolic, diastolic) pairs and ``glucose`` in
        mmol/L, oldest first; ``*_dates`` are when each was taken (the latest and the one before are named)."""
        self.bp_series = [([s for s, _ in bp], theme.ACCENT), ([d for _, d in bp], theme.RECORDS)] if bp else []
        self.glucose_series = [(glucose, theme.VOLUNTEER)] if glucose else []
        bp_values = [self._("{s}/{d} mmHg", s=s, d=d) for s, d in bp]
        glucose_values = [self._("{v} mmol/L", v=f"{v:.1f}") for v in glucose]
        self.bp_latest = self._latest(bp_values, list(bp_dates)) or self._("No blood pressure readings yet")
        self.glucose_latest = self._latest(glucose_values, list(glucose_dates)) or \
            self._("No blood glucose readings yet")

    def _latest(self, values: list, dates: list):
        """"Latest 128/82 mmHg, 30 Nov" and, on the next line, "Last time 135/85 mmHg, 2 Nov"."""
        if not values:
            return ""
        lines = [self._("Latest {value}, {date}", value=values[-1], date=self._date(dates, -1))]
        if len(values) > 1:
            lines.append(self._("Last time {value}, {date}", value=values[-2], date=self._date(dates, -2)))
        return Joined("\n", lines)

    def _date(self, dates: list, index: int):
        if len(dates) < -index or dates[index] is None:
            return ""
        when = dates[index].astimezone()
        return self._("{month}/{day}", month=when.month, day=when.day)

    def reset(self) -> None:
        self.bp_series = []
        self.glucose_series = []
        self.bp_latest = self.glucose_latest = ""

    def load_demo(self, state: str = "") -> None:
        from datetime import datetime, timedelta, timezone
        now = datetime.now(timezone.utc)
        days = [now - timedelta(days=14 * i) for i in range(5, -1, -1)]
        self.enter()
        self.show([(148, 94), (142, 90), (138, 88), (135, 86), (131, 84), (128, 82)],
                  [7.4, 6.9, 6.6, 6.2, 6.4, 5.9], days, days)


Builder.load_file(str(Path(__file__).with_name("records.kv")))
