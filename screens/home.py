"""Home: the four service tiles."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from screens import voice  # noqa: F401  (registers ViewToggles for home.kv)
from screens.base import KioskScreen

#: tile -> where it leads (services needing identification go through the identify screen)
TILE_TARGETS = {"health": "identify", "volunteer": "identify", "records": "identify", "help": "help"}


class HomeScreen(KioskScreen):
    """The start screen: greeting and service tiles."""

    def choose(self, service: str) -> None:
        """A tile was tapped."""
        self.ctx.session.begin(service)
        target = TILE_TARGETS[service]
        if target == "identify":
            self.nav.go("identify", purpose=service)
        else:
            self.nav.go(target)


Builder.load_file(str(Path(__file__).with_name("home.kv")))
