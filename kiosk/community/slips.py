"""Printed slips of the two-way station: the request number a resident takes home."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from drivers.errors import DriverError
from drivers.printer_escpos import Slip
from kiosk.community.kinds import NOTE_PHRASES
from kiosk.i18n import N_, Translator

log = logging.getLogger(__name__)


def request_slip(view, *, station_name: str, when_text: str, lang: str, now: datetime) -> Slip:
    """The slip of a request: number, service, time, note; masked name only."""
    t = Translator(lang)
    lines = [t._("Request number {number}", number=view.number), t._("Service: {name}", name=view.service_name),
             t._("When: {when}", when=when_text)]
    if view.note in NOTE_PHRASES:
        lines.append(t._("Note: {note}", note=t._(NOTE_PHRASES[view.note])))
    return Slip(station=station_name, name=view.display_name, time=now.strftime("%Y-%m-%d %H:%M"),
                readings=tuple(lines), title=t._(N_("Your request was received")),
                advice=t._(N_("A volunteer will take it on. Tap your card at the kiosk and choose “My requests” "
                              "to see how it stands.")),
                note=t._(N_("Keep this slip; quote the number when you call the station.")))


def print_in_background(printer, slip: Slip, post: Callable[[Callable[[], None]], None],
                        on_done: Callable[[str], None]) -> None:
    """Print ``slip`` on a worker thread; ``on_done`` gets "" or the error's ``user_key`` through ``post``."""
    def work() -> None:
        try:
            printer.print_slip(slip)
            result = ""
        except DriverError as exc:
            log.error("slip printer: %s", exc)
            result = exc.user_key
        post(lambda: on_done(result))

    threading.Thread(target=work, name="print-slip", daemon=True).start()
