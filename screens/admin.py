"""Admin screen (behind the PIN): station facts, journal and sync state, device states."""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.i18n import N_, Joined
from screens.base import KioskScreen
from screens.look import look
from sync.downlink import applied_versions

#: Device slots and their states as staff read them (the status board's keys are English words).
DEVICE_NAMES = {"idcard": N_("ID card reader"), "pcsc": N_("Contactless card reader"), "camera": N_("QR camera"),
                "bp": N_("Blood pressure monitor"), "glucose": N_("Glucose meter"), "printer": N_("Slip printer")}
DEVICE_STATES = {"starting": N_("starting"), "connected": N_("connected"), "disconnected": N_("not connected"),
                 "measuring": N_("measuring"), "error": N_("error"), "no_reader": N_("no reader found"),
                 "service_down": N_("card service not running"), "running": N_("running"),
                 "camera_lost": N_("camera lost"), "ended": N_("stopped"), "unavailable": N_("unavailable")}


class AdminScreen(KioskScreen):
    """What staff need to see at a glance; later issues add device and sync panels."""

    station_text = StringProperty("")
    devices_text = StringProperty("")
    devices_text2 = StringProperty("")
    sync_text = StringProperty("")

    def enter(self, **_params) -> None:
        look.reset()                        # staff screens: the resident's 大字/高对比 end here
        self.refresh()

    def refresh(self, states: dict | None = None) -> None:
        """Re-read the station, journal and device states (``states``: the status board's snapshot)."""
        s = self.ctx.settings
        self.station_text = Joined("\n", (
            self._("Station {id} · {name}", id=s.station.id, name=s.station.name),
            self._("Data: {path}", path=short_path(s.data_dir)),
            self._("{n} records in the journal, {q} not yet at the hub", n=self.ctx.journal.count(),
                   q=self.ctx.journal.pending_count())))
        states = self.ctx.status.snapshot() if states is None else states
        lines = [self._device_line(name, state) for name, state in sorted(states.items())]
        half = (len(lines) + 1) // 2              # two columns, up to three devices each
        self.devices_text = Joined("\n", lines[:half]) if lines else self._("No devices configured")
        self.devices_text2 = Joined("\n", lines[half:])
        self.sync_text = self._sync_lines()

    def _device_line(self, name: str, state: dict):
        raw = state.get("state", "?")
        label = self._(DEVICE_NAMES[name]) if name in DEVICE_NAMES else name
        shown = self._(DEVICE_STATES[raw]) if raw in DEVICE_STATES else raw
        driver = state.get("driver", "")
        if driver:
            return self._("{device}: {state} ({driver})", device=label, state=shown, driver=driver)
        return self._("{device}: {state}", device=label, state=shown)

    def _sync_lines(self) -> str:
        publisher = self.ctx.services.get("publisher")
        versions = applied_versions(self.ctx.settings.data_dir)
        docs = ", ".join(f"{k} v{v}" for k, v in sorted(versions.items())) or self._("none yet")
        if publisher is None:
            return Joined("\n", (self._("Sync is not configured; {q} records wait in the journal",
                                         q=self.ctx.journal.pending_count()), self._("Documents: {docs}", docs=docs)))
        st = publisher.status()

        def when(t):
            return t.astimezone().strftime("%m-%d %H:%M") if t else "—"

        lines = [self._("Connected") if st.connected else self._("Not connected"),
                 self._("Queue {q} (oldest {t}) · last ack {a}", q=st.queue_depth, t=when(st.oldest_unsynced),
                        a=when(st.last_ack)),
                 self._("Documents: {docs}", docs=docs)]
        if st.queue_warn:
            lines.append(self._("Warning: the queue is very long; check the network"))
        if st.rejected:
            lines.append(self._("Refused by the hub: {count} records (kept here, offered again at the next start)",
                                count=st.rejected))
        return Joined("\n", lines)

    def reset(self) -> None:
        self.station_text = self.devices_text = self.devices_text2 = self.sync_text = ""

    def load_demo(self, state: str = "") -> None:
        look.reset()
        self.refresh({"bp": {"state": "disconnected", "driver": "maibobo"},
                      "glucose": {"state": "connected", "driver": "onetouch-ultra2"},
                      "idcard": {"state": "connected", "driver": "sam"}, "camera": {"state": "running"},
                      "pcsc": {"state": "no_reader"}})

    def exit_app(self) -> None:
        """Quit the kiosk application (staff only)."""
        self.nav.request_exit()


Builder.load_file(str(Path(__file__).with_name("admin.kv")))


def short_path(path, limit: int = 32) -> str:
    """``path`` as the admin page shows it: whole when short (``/var/lib/yizhan``), else its root
    folder and its last two parts around an ellipsis, so the line fits the panel beside the others."""
    text = str(path)
    parts = text.split("/")
    if len(text) <= limit or len(parts) <= 4:
        return text
    return "/".join([*parts[:2], "…", *parts[-2:]])
