"""Result: the numbers, big; the category as words, colour and icon; advice; a screening note."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, ColorProperty, StringProperty

from datetime import date

from drivers.readings import BloodPressureReading, DeviceInfo, GlucoseReading, MealContext, Unit
from kiosk import care
from kiosk.care import Advice
from kiosk.care_rules import RECHECK_DUE, REFERRAL_SUGGESTED
from kiosk.health import Level
from kiosk.health_flow import MeasurementOutcome, assess, print_slip
from kiosk.i18n import N_
from kiosk.speech import sentences
from screens import theme
from screens.base import KioskScreen
from screens.i18n import tr

#: The meal context a glucose result was judged by, as the person chose it.
MEAL_WORDS = {MealContext.FASTING: N_("fasting"), MealContext.AFTER_MEAL_2H: N_("2 hours after a meal"),
              MealContext.RANDOM: N_("any time (not fasting)")}
LEVEL_STYLE = {Level.NORMAL: (theme.OK, "check"), Level.ELEVATED: (theme.WARN, "warning"),
               Level.HIGH: (theme.DANGER, "warning"), Level.URGENT: (theme.DANGER, "warning")}


class ResultScreen(KioskScreen):
    """Shows a :class:`kiosk.health_flow.MeasurementOutcome`."""

    personal = True
    value = StringProperty("")
    unit = StringProperty("")
    second = StringProperty("")
    title = StringProperty("")
    advice = StringProperty("")
    note = StringProperty("")
    level_color = ColorProperty(theme.OK)
    level_icon = StringProperty("check")
    urgent = BooleanProperty(False)
    print_text = StringProperty("")
    can_print = BooleanProperty(False)
    follow_up = StringProperty("")
    care_asked = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.outcome = None

    def enter(self, outcome=None, **_params) -> None:
        if outcome is None:
            return
        self.outcome = outcome
        reading, assessment = outcome.reading, outcome.assessment
        if isinstance(reading, BloodPressureReading):
            self.value = f"{reading.systolic}/{reading.diastolic}"
            self.unit = self._("mmHg")
            self.second = self._("Pulse {pulse} per minute", pulse=reading.pulse) if reading.pulse else ""
        else:
            prefix = {"HI": "> ", "LO": "< "}.get(reading.range_flag.value if reading.range_flag else "", "")
            self.value = f"{prefix}{reading.mmol_l:.1f}"
            self.unit = self._("mmol/L")
            record = getattr(outcome, "record", None)
            meal = getattr(record.payload, "meal", None) if record is not None else None
            meal = meal or getattr(reading, "meal", None)
            self.second = self._("Measured: {context}", context=self._(MEAL_WORDS[meal])) if meal in MEAL_WORDS else ""
        self.title = self._(assessment.title)
        self.advice = self._(assessment.advice)
        self.note = self._(assessment.screening_note)
        self.level_color, self.level_icon = LEVEL_STYLE[assessment.level]
        self.urgent = assessment.urgent
        advice = getattr(outcome, "advice", None)
        self.follow_up = advice.text(tr.lang) if advice is not None else ""
        if self.follow_up:              # the recheck day (or the referral) is the advice that matters now
            self.advice = self.follow_up
        person = self.ctx.session.person
        self.care_asked = person is not None and care.care_consent(self.ctx.journal, person.keys) is not None
        self.can_print = "printer" in self.ctx.services
        self.print_text = self._("Print a slip")

    def on_kv_post(self, _base_widget) -> None:
        self.on_urgent(self, self.urgent)
        self.on_can_print(self, self.can_print)
        self.on_follow_up(self, self.follow_up)

    def on_follow_up(self, _instance, _text: str) -> None:
        # The care-sharing question (screens/care_consent.py): asked with a follow-up, changed or withdrawn
        # after any reading once answered.
        self.set_shown("follow_up_button", bool(self.follow_up) or self.care_asked)

    def on_care_asked(self, _instance, _asked: bool) -> None:
        self.on_follow_up(self, self.follow_up)

    def on_urgent(self, _instance, urgent: bool) -> None:
        self.set_shown("urgent_banner", urgent)

    def on_can_print(self, _instance, can_print: bool) -> None:
        self.set_shown("print_button", can_print)

    def print_slip(self) -> None:
        """Print on the configured printer (worker thread); the button says how it went."""
        if self.outcome is None:
            return
        self.print_text = self._("Printing…")

        def done(error_key: str) -> None:
            self.print_text = self._("Printed — please take your slip") if not error_key else \
                self._("The printer is not working. Please ask the staff.")
        if not print_slip(self.ctx, self.outcome, self.nav.post, done):
            self.print_text = self._("No printer here")

    def speech(self):
        """The result read aloud: numbers the Chinese way, the category in words, the advice."""
        if self.outcome is None:
            return "result.intro", None
        return "result", sentences.result(self.outcome.reading, self.outcome.assessment, tr.lang, self.follow_up,
                                          self.follow_up)

    def reset(self) -> None:
        self.outcome = None
        self.value = self.unit = self.second = self.title = self.advice = self.note = self.follow_up = ""
        self.urgent = self.care_asked = False

    @classmethod
    def tour_states(cls) -> list[str]:
        return ["", "high", "urgent", "glucose", "recheck", "referral"]

    def load_demo(self, state: str = "") -> None:
        device = DeviceInfo(driver="demo", model="Demo")
        if state == "glucose":
            reading = GlucoseReading(mmol_l=6.4, device_value=115, device_unit=Unit.MG_DL, device=device,
                                     meal=MealContext.FASTING)
        else:
            values = {"": (118, 76, 68), "high": (152, 96, 78), "urgent": (186, 112, 90), "recheck": (150, 95, 72),
                      "referral": (152, 96, 74)}[state]
            reading = BloodPressureReading(*values, device=device)
        advice = {"recheck": Advice(RECHECK_DUE, date(2026, 12, 8), 2),
                  "referral": Advice(REFERRAL_SUGGESTED, None, 0)}.get(state)
        self.enter(outcome=MeasurementOutcome(reading, assess(reading), None, None, advice))


Builder.load_file(str(Path(__file__).with_name("result.kv")))
