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
    sync_text = StringProperty("")

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
        lines = [f"{name}: {state.get('state', '?')} {state.get('driver', '')}".strip()
                 for name, state in sorted(states.items())]
        self.devices_text = "\n".join(lines) or self._("No devices configured")
        self.sync_text = self._sync_lines()

    def _sync_lines(self) -> str:
        from sync.downlink import applied_versions
        publisher = self.ctx.services.get("publisher")
        versions = applied_versions(self.ctx.settings.data_dir)
        docs = ", ".join(f"{k} v{v}" for k, v in sorted(versions.items())) or self._("none yet")
        if publisher is None:
            return self._("Sync is not configured; {q} records wait in the journal",
                          q=self.ctx.journal.pending_count()) + "\n" + self._("Documents: {docs}", docs=docs)
        st = publisher.status()
        when = (lambda t: t.astimezone().strftime("%m-%d %H:%M") if t else "—")
        lines = [self._("Connected") if st.connected else self._("Not connected"),
                 self._("Queue {q} (oldest {t}) · last ack {a}", q=st.queue_depth, t=when(st.oldest_unsynced),
                        a=when(st.last_ack)),
                 self._("Documents: {docs}", docs=docs)]
        if st.queue_warn:
            lines.append(self._("Warning: the queue is very long; check the network"))
        return "\n".join(lines)

    def reset(self) -> None:
        self.station_text = self.journal_text = self.devices_text = self.sync_text = ""

    def exit_app(self) -> None:
        """Quit the kiosk application (staff only)."""
        self.nav.request_exit()


Builder.load_file(str(Path(__file__).with_name("admin.kv")))
