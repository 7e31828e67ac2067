"""Admin screen (behind the PIN): station facts, journal and sync state, device states."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from screens.base import KioskScreen


class AdminScreen(KioskScreen):
    """What staff need to see at a glance; later issues add device and sync panels."""

    station_text = StringProperty("")
    journal_text = StringProperty("")
    devices_text = StringProperty("")

    def enter(self, **_params) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Re-read the station, journal and device states."""
        s = self.ctx.settings
        self.station_text = self._("Station {id} · {name}", id=s.station.id, name=s.station.name) + "\n" + \
            self._("Data: {path}", path=str(s.data_dir))
        self.journal_text = self._("{n} records in the journal, {q} not yet at the hub",
                                   n=self.ctx.journal.count(), q=self.ctx.journal.pending_count())
        states = self.ctx.status.snapshot()
        lines = [f"{name}: {state.get('state', '?')}" for name, state in sorted(states.items()) if name != "sync"]
        self.devices_text = "\n".join(lines) or self._("No devices configured")

    def reset(self) -> None:
        self.station_text = self.journal_text = self.devices_text = ""

    def exit_app(self) -> None:
        """Quit the kiosk application (staff only)."""
        self.nav.request_exit()


Builder.load_file(str(Path(__file__).with_name("admin.kv")))
