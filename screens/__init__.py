"""Kivy screens: one ``.py`` + one ``.kv`` per screen, and the one registry the app builds from.

Importing this package imports Kivy; only ``kiosk.app`` does so.
"""
from __future__ import annotations

from screens.admin import AdminScreen
from screens.admin_pin import AdminPinScreen
from screens.help import HelpScreen
from screens.home import HomeScreen
from screens.identify import IdentifyScreen

#: name -> screen class, in tour order. Add a screen = one module pair + one line here.
SCREENS = {
    "home": HomeScreen,
    "identify": IdentifyScreen,
    "help": HelpScreen,
    "admin_pin": AdminPinScreen,
    "admin": AdminScreen,
}
