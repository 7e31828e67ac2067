"""Demo mode (``make run``): simulators that speak the real device protocols, run in-process on
ptys, and the kiosk's real drivers reading them. Demo buttons on the screens tell the simulators
what to do (place a card, take a reading); nothing else in the kiosk knows it is a demo."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import secrets
import threading
import time
from datetime import datetime

from drivers.sim.bp import BpSimulator
from drivers.sim.glucose import GlucoseSimulator
from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from drivers.sim.printer import PrinterSimulator
from kiosk.i18n import N_
from kiosk.identify_sources import IdentityEvent
from kiosk.privacy import person_key
from kiosk.settings import DeviceSettings, Settings

log = logging.getLogger(__name__)

#: The sample cards offered by name where the kiosk waits for a card: kind -> (role, button label).
#: Roles: "resident" (and "permit": a second resident, on a residence permit), "volunteer" (the demo
#: volunteer, who can also open a screening day),
#: "unregistered" (a person who is not yet a volunteer) and "expired" (the one expired card).
DEMO_CARDS = {
    "resident": ("resident", N_("Resident {name}"), "测*甲"),
    "hmt_permit": ("permit", N_("Resident {name}"), "测*港"),
    "resident_young": ("volunteer", N_("Volunteer {name}"), "测*乙"),
    "foreign_2023": ("unregistered", N_("Not yet a volunteer {name}"), "测*新"),
    "resident_expired": ("expired", N_("Expired {name}"), "测*丙丁"),
}
#: UID of the demo volunteer's contactless card.
DEMO_VOLUNTEER_UID = "04A1B2C3"
#: Blood-pressure readings the demo monitor cycles through: normal, high-normal, grade 2, urgent.
DEMO_BP = ((118, 76, 68), (134, 86, 72), (162, 101, 80), (186, 112, 90))
#: Glucose readings (mg/dL) the demo meter cycles through: 5.4, 6.6, 12.1, 3.4 mmol/L.
DEMO_GLUCOSE_MG_DL = (97, 119, 218, 61)


#: The longest a demo card swap waits for the reader to notice the old card is gone.
SWAP_WAIT_S = 3.0


class DemoRig:
    """Starts the simulators and rewrites the device settings to point at them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dev_dir = settings.data_dir / "dev"
        self.idcard = None
        self.bp = None
        self.glucose = None
        self.printer = None
        #: Delivers an identity event to the screen showing now (set by the app; for contactless cards).
        self.deliver = None
        self.identity = None
        #: True once the kiosk's reader has reported the card gone (set by the app).
        self.reader_empty = None
        self._placed = False
        self._bp_index = 0
        self._glucose_index = 0

    def start(self) -> Settings:
        """Start every simulator; returns settings whose devices use them."""
        self.dev_dir.mkdir(parents=True, exist_ok=True)
        devices = dict(self.settings.devices)
        self.idcard = IdCardSimulator(link=str(self.dev_dir / "idcard"), baudrate=115200).start()
        devices["idcard"] = DeviceSettings(driver="sam", port=self.idcard.path, baudrate=115200)
        try:
            self.bp = BpSimulator("maibobo", link=str(self.dev_dir / "bp"), step_s=0.12).start()
            devices["bp"] = DeviceSettings(driver="maibobo", port=self.bp.path)
        except Exception as exc:    # the demo runs without a monitor rather than not at all
            log.error("demo blood-pressure simulator unavailable: %s", exc)
        try:
            self.glucose = GlucoseSimulator("onetouch-ultra2", link=str(self.dev_dir / "glucose")).start()
            devices["glucose"] = DeviceSettings(driver="onetouch-ultra2", port=self.glucose.path)
        except Exception as exc:
            log.error("demo glucometer simulator unavailable: %s", exc)
        try:
            self.printer = PrinterSimulator(link=str(self.dev_dir / "printer"))
            self.printer.start()
            devices["printer"] = DeviceSettings(driver="escpos", port=self.printer.path)
        except Exception as exc:
            log.error("demo printer simulator unavailable: %s", exc)
        self._write_roster()
        return dataclasses.replace(self.settings, devices=devices)

    def _volunteer_key(self) -> str:
        """The demo volunteer's person key, remembered in the data directory for its district key: one
        scrypt derivation (some 25 ms) per data directory, not per start."""
        district = self.settings.secrets.district_key
        check = hashlib.sha256(f"yizhan demo roster|{district}".encode()).hexdigest()[:32]
        memo = self.settings.data_dir / "demo-volunteer.json"
        try:
            saved = json.loads(memo.read_text(encoding="utf-8"))
            if saved["district"] == check:
                return str(saved["person_key"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        key = person_key(district, SAMPLE_CARDS["resident_young"].expected.number)
        try:
            memo.write_text(json.dumps({"district": check, "person_key": key}), encoding="utf-8")
        except OSError as exc:
            log.warning("demo volunteer key not remembered: %s", exc)
        return key

    def _write_roster(self) -> None:
        """A local roster with one demo volunteer (the second sample card, and a contactless card)."""
        volunteer_key = self._volunteer_key()
        body = {"teams": [{"id": "orange", "name": "暖心橙"}, {"id": "red", "name": "党旗红"}],
                "volunteers": [{"id": "V0001", "name": "测试乙", "person_key": volunteer_key,
                                "card_uid": DEMO_VOLUNTEER_UID, "teams": ["orange"]}]}
        (self.settings.data_dir / "roster.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")

    # -- demo buttons -------------------------------------------------------------------------------
    @staticmethod
    def cards(roles) -> list[tuple[str, str, str]]:
        """The sample cards fitting ``roles``, as (kind, label message id, masked name)."""
        return [(kind, label, name) for kind, (role, label, name) in DEMO_CARDS.items() if role in roles]

    def place_card(self, kind: str) -> None:
        """Put the sample card ``kind`` on the simulated reader. A card already there is taken away
        first and the new one placed once the reader has seen it go (``reader_empty``, at most
        :data:`SWAP_WAIT_S`), so the same card placed again is read again and none is skipped."""
        if not self._placed:
            self._placed = True
            self.idcard.present(kind)
            return
        self.idcard.remove()

        def swap() -> None:
            deadline = time.monotonic() + SWAP_WAIT_S
            while time.monotonic() < deadline and not (self.reader_empty is not None and self.reader_empty()):
                time.sleep(0.05)
            self.idcard.present(kind)
        threading.Thread(target=swap, name="demo-card-swap", daemon=True).start()

    def tap_new_card(self) -> None:
        """A contactless card registered to nobody (a fresh UID each time) is tapped, as the PC/SC
        source would report it."""
        if self.deliver is not None and self.identity is not None:
            uid = secrets.token_hex(4).upper()
            self.deliver(IdentityEvent(self.identity.from_card_uid(uid), "pcsc", time.monotonic()))

    def remove_card(self) -> None:
        """Take the card off the simulated reader."""
        self._placed = False
        self.idcard.remove()

    def queue_bp(self) -> tuple[int, int, int]:
        """The reading the simulated monitor will produce on its next measurement."""
        reading = DEMO_BP[self._bp_index % len(DEMO_BP)]
        self._bp_index += 1
        if self.bp:
            self.bp.queue_reading(*reading)
        return reading

    def add_glucose(self) -> float:
        """A new reading stored in the simulated meter, as if just measured; returns mg/dL."""
        value = DEMO_GLUCOSE_MG_DL[self._glucose_index % len(DEMO_GLUCOSE_MG_DL)]
        self._glucose_index += 1
        if self.glucose:
            self.glucose.add_reading(value, datetime.now())
        return value

    def prepare(self, kind: str) -> None:
        """Before a measurement: the simulated monitor or meter gets the next demo reading."""
        if kind == "bp":
            self.queue_bp()
        else:
            self.add_glucose()

    def stop(self) -> None:
        """Stop the simulators."""
        for sim in (self.idcard, self.bp, self.glucose, self.printer):
            if sim is not None:
                try:
                    sim.stop()
                except Exception as exc:
                    log.warning("stopping a demo simulator: %s", exc)
