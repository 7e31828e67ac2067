"""The glucose context question: when did you last eat?"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from drivers.readings import MealContext
from screens.base import KioskScreen

CHOICES = {"fasting": MealContext.FASTING, "after_meal_2h": MealContext.AFTER_MEAL_2H, "random": MealContext.RANDOM}


class GlucoseContextScreen(KioskScreen):
    """Three big answers; the answer decides which guideline thresholds apply."""

    personal = True

    def answer(self, choice: str) -> None:
        """An answer was tapped."""
        self.nav.go("measure", kind="glucose", context=CHOICES[choice])


Builder.load_file(str(Path(__file__).with_name("glucose_context.kv")))
