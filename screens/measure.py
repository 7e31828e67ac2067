"""Measure: pictures of what to do, then a live cuff gauge (or "reading the meter"), then the result."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import NumericProperty, OptionProperty, StringProperty

from drivers.bp_common import CuffLeak
from drivers.errors import DriverError
from drivers.readings import MealContext, Progress
from kiosk.devices import DeviceNotConfigured
from kiosk.health_flow import NoPerson, complete_measurement, error_message
from kiosk.i18n import N_
from kiosk.speech.prompts import prompt
from kiosk.speech.sentences import Line, fixed_lines, speakable
from screens.base import KioskScreen
from screens.i18n import tr

STEPS = {
    "bp": [("person", N_("Sit down, feet flat, and rest quietly for a moment")),
           ("heart", N_("Wrap the cuff around your left upper arm, level with your heart")),
           ("gauge", N_("Tap Start. Do not talk or move while it measures"))],
    "glucose": [("drop", N_("Measure your blood sugar on the meter as usual")),
                ("check", N_("Wait until the meter shows your result")),
                ("records", N_("Tap Read result and the kiosk fetches it from the meter"))],
}
STAGES = {"waiting": N_("Getting ready…"), "inflating": N_("Inflating the cuff…"),
          "deflating": N_("Measuring, please keep still…"), "done": N_("Finishing…")}


class MeasureScreen(KioskScreen):
    """One measurement of ``kind`` ("bp" or "glucose") through the device manager."""

    personal = True
    kind = OptionProperty("bp", options=["bp", "glucose"])
    phase = OptionProperty("ready", options=["ready", "measuring", "error"])
    title = StringProperty("")
    start_text = StringProperty("")
    stage_text = StringProperty("")
    error_text = StringProperty("")
    cuff = NumericProperty(0)
    step1 = StringProperty("")
    step2 = StringProperty("")
    step3 = StringProperty("")
    icon1 = StringProperty("")
    icon2 = StringProperty("")
    icon3 = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._job = None
        self.context: MealContext | None = None
        # Monitors stream cuff pressure many times a second; the gauge redraws at most 10 times a
        # second (each redraw is a full frame, costly on kiosks without a GPU).
        self._cuff_value = 0
        self._cuff_trigger = Clock.create_trigger(self._show_cuff, 0.1)
        self._stage_value = ""
        self._stage_key = self._stage_next = "waiting"
        self._stage_trigger = Clock.create_trigger(self._show_stage, 0.25)

    def enter(self, kind: str = "bp", context: MealContext | None = None, **_params) -> None:
        self._cancel_job()
        self.kind = kind
        self.context = context
        self.phase = "ready"
        self.on_phase(self, self.phase)
        self.on_kind(self, self.kind)
        self.cuff = 0
        self.title = self._("Blood pressure") if kind == "bp" else self._("Blood glucose")
        self.start_text = self._("Start measuring") if kind == "bp" else self._("Read result")
        for i, (icon, text) in enumerate(STEPS[kind], start=1):
            setattr(self, f"icon{i}", icon)
            setattr(self, f"step{i}", self._(text))

    def on_phase(self, _instance, phase: str) -> None:
        self.show_only(f"{phase}_panel", "ready_panel", "measuring_panel", "error_panel")

    def on_kind(self, _instance, kind: str) -> None:
        # A cuff gauge for blood pressure; reading a glucose meter has no cuff.
        self.show_only("cuff_box" if kind == "bp" else "meter_box", "cuff_box", "meter_box")

    def start(self) -> None:
        """Start the measurement on the device manager's worker."""
        devices = self.ctx.services.get("devices")
        if devices is None:
            self._failed_text(self._(DeviceNotConfigured.user_message))
            return
        demo = self.ctx.services.get("demo")
        if demo is not None:
            demo.prepare(self.kind)          # demo mode: the simulated device gets its next reading
        self.phase = "measuring"
        self.cuff = 0
        self._stage_key = "waiting" if self.kind == "bp" else "reading"
        self.stage_text = self._(STAGES["waiting"] if self.kind == "bp" else N_("Reading the meter…"))
        self.nav.speak_screen()
        since = None
        if self.kind == "glucose":
            # Readings taken on the meter since this person started count (a little slack for the meter's clock).
            since = datetime.fromtimestamp(self.ctx.session.started_at) - timedelta(minutes=2)
        try:
            self._job = devices.measure(self.kind, on_progress=self.on_progress, on_result=self.on_result,
                                        on_error=self.on_error, since=since)
        except DriverError as exc:          # not configured, or busy with another measurement
            self.on_error(exc)

    def on_progress(self, progress: Progress) -> None:
        """Live update from the device (UI thread)."""
        if progress.cuff_pressure is not None:
            self._cuff_value = progress.cuff_pressure
            self._cuff_trigger()
        if progress.stage in STAGES:
            self._stage_value = self._(STAGES[progress.stage])
            self._stage_next = progress.stage
            self._stage_trigger()

    def _show_cuff(self, _dt=None) -> None:
        if self.phase == "measuring":
            self.cuff = self._cuff_value

    def _show_stage(self, _dt=None) -> None:
        if self.phase == "measuring" and self._stage_value != self.stage_text:
            self.stage_text = self._stage_value
            self._stage_key = self._stage_next
            self.nav.speak_screen()

    def on_result(self, reading) -> None:
        """The reading arrived (UI thread): journal it and show the result."""
        self._job = None
        self._cuff_trigger.cancel()
        self._stage_trigger.cancel()
        try:
            outcome = complete_measurement(self.ctx, reading, self.context)
        except NoPerson:
            self.nav.home()
            return
        self.nav.go("result", outcome=outcome)

    def on_error(self, exc) -> None:
        """A typed driver error (UI thread)."""
        self._job = None
        self._failed_text(self._(error_message(exc)))

    def _failed_text(self, text: str) -> None:
        self.error_text = text
        self.phase = "error"
        if self.nav is not None and self.nav.manager.current == self.name:
            self.nav.speak_screen()

    def cancel(self) -> None:
        """Stop the measurement (the driver deflates the cuff)."""
        self._cancel_job()
        self.phase = "ready"

    def _cancel_job(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def speech(self):
        """The steps before, the stage while measuring, "did not work" plus the message after a failure."""
        if self.phase == "measuring":
            return f"measure.{self._stage_key}", None
        if self.phase == "error":
            return "measure.error", fixed_lines(prompt("measure.error"), tr.lang) + \
                [Line(speakable(self.error_text, tr.lang))]
        return f"measure.{self.kind}", None

    def reset(self) -> None:
        self._cancel_job()
        self.phase = "ready"
        self.error_text = self.stage_text = ""

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "measuring", "error", "glucose", "glucose_reading"]

    def load_demo(self, state: str = "") -> None:
        self.enter(kind="glucose" if state.startswith("glucose") else "bp")
        if state == "glucose_reading":
            self.phase = "measuring"
            self.stage_text = self._("Reading the meter…")
        if state == "measuring":
            self.phase = "measuring"
            self.cuff = 146
            self._stage_key = "deflating"
            self.stage_text = self._(STAGES["deflating"])
        elif state == "error":
            self._failed_text(self._(CuffLeak.user_message))


Builder.load_file(str(Path(__file__).with_name("measure.kv")))
