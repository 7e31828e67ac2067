"""Everything a screen may use, built once at start-up and passed in (never looked up globally)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kiosk.admin import PinGate
from kiosk.community.activities import Activities
from kiosk.district_clock import use_district_zone
from kiosk.community.requests import Requests
from kiosk.community.wishes import Wishes
from kiosk.documents import current_documents
from kiosk.identity import IdentityService
from kiosk.journal import Journal
from kiosk.session import Session
from kiosk.settings import Settings
from kiosk.timebank.catalog import load_roster
from kiosk.timebank.service import TimeBank


class StatusBoard:
    """Thread-safe latest state of each device and of the sync link, for the header and admin screen.

    Workers call :meth:`set`; the UI reads :meth:`snapshot` on its clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {}

    def set(self, name: str, **state: Any) -> None:
        """Replace the state of ``name`` (a device or "sync")."""
        with self._lock:
            self._states[name] = dict(state)

    def get(self, name: str) -> dict[str, Any]:
        """The state of ``name`` ({} when unknown)."""
        with self._lock:
            return dict(self._states.get(name, {}))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of every state."""
        with self._lock:
            return {k: dict(v) for k, v in self._states.items()}


@dataclass
class KioskContext:
    """The kiosk's collaborators."""

    settings: Settings
    journal: Journal
    session: Session
    pin_gate: PinGate
    status: StatusBoard = field(default_factory=StatusBoard)
    services: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop services and close the journal."""
        for service in reversed(list(self.services.values())):   # last started, first stopped
            stop = getattr(service, "stop", None)
            if callable(stop):
                stop()
        self.journal.close()


def build_context(settings: Settings) -> KioskContext:
    """Open the journal in the data directory and assemble the context.

    Raises:
        JournalError: the journal cannot be opened (message says what to do).
    """
    use_district_zone(settings.station.timezone)          # one district clock, whatever the machine's zone
    journal = Journal(settings.data_dir / Journal.FILENAME, settings.station.id)
    session = Session(default_language=settings.ui.language, lang=settings.ui.language)
    gate = PinGate(settings.secrets.admin_pin_hash, settings.admin.max_tries, settings.admin.lockout_s, journal)
    ctx = KioskContext(settings=settings, journal=journal, session=session, pin_gate=gate)
    roster = lambda: load_roster(settings.data_dir, journal)  # noqa: E731  (hub roster + local registrations)
    ctx.services["identity"] = IdentityService(settings.secrets.district_key, journal, roster)
    ctx.services["timebank"] = TimeBank(journal, settings, roster)
    ctx.services["community"] = Requests(journal, ctx.services["timebank"])
    ctx.services["wishes"] = Wishes(journal, ctx.services["community"].hub_wishes)
    ctx.services["activities"] = Activities(journal, lambda: current_documents(settings.data_dir))
    return ctx
