"""Kivy screens: one ``.py`` + one ``.kv`` per screen, and the one registry the app builds from.

The registry names each screen's class as ``module:Class``; a module (and its kv file) is imported
when its screen is first built, so start-up pays only for the home screen. Importing a screen
module imports Kivy; only ``app.kiosk_app`` does so.
"""
from __future__ import annotations

import importlib

#: name -> "module:Class", in tour order. Add a screen = one module pair + one line here.
SCREENS = {
    "home": "screens.home:HomeScreen",
    "identify": "screens.identify:IdentifyScreen",
    "consent": "screens.consent:ConsentScreen",
    "greeting": "screens.greeting:GreetingScreen",
    "health_menu": "screens.health_menu:HealthMenuScreen",
    "glucose_context": "screens.glucose_context:GlucoseContextScreen",
    "measure": "screens.measure:MeasureScreen",
    "result": "screens.result:ResultScreen",
    "care_consent": "screens.care_consent:CareConsentScreen",
    "records": "screens.records:RecordsScreen",
    "health_day": "screens.health_day:HealthDayScreen",
    "volunteer": "screens.volunteer:VolunteerScreen",
    "service": "screens.service:ServiceScreen",
    "request": "screens.request:RequestScreen",
    "my_requests": "screens.my_requests:MyRequestsScreen",
    "tasks": "screens.tasks:TasksScreen",
    "family": "screens.family:FamilyScreen",
    "wish": "screens.wish:WishScreen",
    "activities": "screens.activities:ActivitiesScreen",
    "info": "screens.info:InfoScreen",
    "help": "screens.help:HelpScreen",
    "admin_pin": "screens.admin_pin:AdminPinScreen",
    "admin": "screens.admin:AdminScreen",
    "register": "screens.register:RegisterScreen",
    "withdraw": "screens.withdraw:WithdrawScreen",
}


def load_class(target: str) -> type:
    """Import ``module:Class`` and return the class."""
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def screen_class(name: str) -> type:
    """Import and return the class of the registered screen ``name``."""
    return load_class(SCREENS[name])


def tour_plan() -> list[tuple[str, str, str, str, str]]:
    """(screen, state, language, PNG file name, seeing mode) for every picture the tour takes: every
    state in Chinese and English, and in Chinese again in 大字 ("large") and 高对比 ("contrast")."""
    plan = []
    for lang, look, suffix in (("zh_CN", "", ""), ("en", "", "-en"), ("zh_CN", "large", "-large"),
                               ("zh_CN", "contrast", "-contrast")):
        for name in SCREENS:
            for state in screen_class(name).tour_states():
                plan.append((name, state, lang, f"{name}{'-' + state if state else ''}{suffix}.png", look))
    plan.append(("home", "idle_warning", "zh_CN", "home-idle.png", ""))
    return plan
