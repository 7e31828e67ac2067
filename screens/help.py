"""Help: how to use the kiosk, in three pictures and big words."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from screens.base import KioskScreen


class HelpScreen(KioskScreen):
    """Static instructions and where to find a person."""


Builder.load_file(str(Path(__file__).with_name("help.kv")))
