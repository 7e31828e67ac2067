"""Issue 11, item 14: a contactless card's UID is copied onto a blank card for a few yuan, so a
UID alone must not spend a volunteer's hours or confirm a service. On the real shell (real
touches): identified by the UID, "Use my hours" is refused with the request for the ID card; the
same volunteer identified by the ID card (SAM simulator) gets past that check. A resident who
confirms a service with a UID card is asked for the ID card too.
"""
from __future__ import annotations

import dataclasses
import time

import pytest

from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from kiosk.i18n import gettext
from kiosk.identify_sources import IdentityEvent, IdentitySources
from kiosk.privacy import person_key
from kiosk.settings import DeviceSettings
from kiosk.timebank.errors import SecondFactorRequired
from tests.security.helpers import tap_text

UID = "04C0FFEE"
SECOND_FACTOR = SecondFactorRequired.user_message


@pytest.fixture(scope="module")
def volunteer(harness):
    ctx = harness.ctx
    key = person_key(ctx.settings.secrets.district_key, SAMPLE_CARDS["resident_young"].expected.number)
    return ctx.services["timebank"].register_volunteer("张小红", "13900139000", "orange", card_uid=UID,
                                                      person_key=key)


def tap_uid(harness, uid: str) -> None:
    """What the PC/SC source delivers when a contactless card is tapped."""
    outcome = harness.ctx.services["identity"].from_card_uid(uid)
    harness.shell.on_identity_event(IdentityEvent(outcome, "pcsc", time.monotonic()))
    harness.frames(3)


def open_spend_panel(harness) -> None:
    assert harness.pump_until(lambda: harness.shell.manager.current == "greeting")
    tap_text(harness, gettext("Volunteer service"))
    assert harness.shell.manager.current == "volunteer"
    page = harness.screen("volunteer")
    harness.frames(3)
    page.start_spend()                             # as test_health_flow: the spend panel's own handlers
    assert page.phase == "spend"
    page.confirm_spend()
    harness.frames(2)


def test_a_uid_alone_cannot_spend_hours(harness, volunteer):
    harness.shell.home()
    harness.screen("home").choose("volunteer")
    tap_uid(harness, UID)
    open_spend_panel(harness)
    page = harness.screen("volunteer")
    assert page.message == gettext(SECOND_FACTOR)
    assert harness.ctx.journal.count("ledger_movement") == 0
    harness.shell.home()


def test_the_id_card_gets_past_the_second_factor(harness, volunteer, tmp_path):
    sim = IdCardSimulator(link=str(tmp_path / "idcard"), baudrate=115200).start()
    devices = {"idcard": DeviceSettings(driver="sam", port=sim.path, baudrate=115200, options={"poll_interval": 0.05})}
    sources = IdentitySources(dataclasses.replace(harness.ctx.settings, devices=devices),
                              harness.ctx.services["identity"], harness.ctx.status, post=harness.post,
                              on_event=harness.shell.on_identity_event)
    sources.start()
    try:
        harness.shell.home()
        harness.screen("home").choose("volunteer")
        sim.present("resident_young")
        open_spend_panel(harness)
        page = harness.screen("volunteer")
        assert page.message and page.message != gettext(SECOND_FACTOR)   # refused only for the balance (0 h)
        assert "时间" in page.message or "小时" in page.message
    finally:
        sources.stop()
        sim.stop()
        harness.shell.home()


def test_a_resident_cannot_confirm_a_service_with_a_uid(harness, volunteer, tmp_path):
    from kiosk.session import Person

    bank = harness.ctx.services["timebank"]
    helper = Person(role="volunteer", person_key="volunteer:x", display_name="李*", source="idcard",
                    volunteer_id=volunteer.id)
    service = bank.catalog().services[0].id if hasattr(bank.catalog(), "services") else "errand"
    pending = bank.record_service(helper, service, 60)
    other = Person(role="volunteer", person_key="k" * 64, display_name="王*", source="pcsc", volunteer_id="v-x")
    with pytest.raises(Exception) as refused:
        bank.confirm_service(pending.service_id, other, 5)
    assert getattr(refused.value, "user_key", "") == "second_factor"
    assert harness.ctx.journal.count("service_confirmation") == 0
