"""Kivy screens: one ``.py`` + one ``.kv`` per screen, and the one registry the app builds from.

Importing this package imports Kivy; only ``kiosk.app`` does so.
"""
from __future__ import annotations

from screens.admin import AdminScreen
from screens.admin_pin import AdminPinScreen
from screens.consent import ConsentScreen
from screens.glucose_context import GlucoseContextScreen
from screens.greeting import GreetingScreen
from screens.health_day import HealthDayScreen
from screens.health_menu import HealthMenuScreen
from screens.measure import MeasureScreen
from screens.records import RecordsScreen
from screens.result import ResultScreen
from screens.help import HelpScreen
from screens.home import HomeScreen
from screens.identify import IdentifyScreen

#: name -> screen class, in tour order. Add a screen = one module pair + one line here.
SCREENS = {
    "home": HomeScreen,
    "identify": IdentifyScreen,
    "consent": ConsentScreen,
    "greeting": GreetingScreen,
    "health_menu": HealthMenuScreen,
    "glucose_context": GlucoseContextScreen,
    "measure": MeasureScreen,
    "result": ResultScreen,
    "records": RecordsScreen,
    "health_day": HealthDayScreen,
    "help": HelpScreen,
    "admin_pin": AdminPinScreen,
    "admin": AdminScreen,
}


def tour_plan() -> list[tuple[str, str, str, str]]:
    """(screen, state, language, PNG file name) for every picture the tour takes."""
    plan = []
    for name, cls in SCREENS.items():
        for state in cls.tour_states():
            plan.append((name, state, "zh_CN", f"{name}{'-' + state if state else ''}.png"))
    plan.append(("home", "", "en", "home-en.png"))
    plan.append(("home", "idle_warning", "zh_CN", "home-idle.png"))
    return plan
