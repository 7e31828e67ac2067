"""Issue 11, item 14: a contactless card's UID is copied onto a blank card for a few yuan, so a
UID alone must not confirm a service (the confirmation is what credits the volunteer's hours and,
for a priority request, records the asker's banked hours as used): a resident identified by a
UID is asked for the ID card.
"""
from __future__ import annotations


import pytest

from drivers.sim.idcard import SAMPLE_CARDS
from kiosk.privacy import person_key
from kiosk.timebank.errors import SecondFactorRequired

UID = "04C0FFEE"
SECOND_FACTOR = SecondFactorRequired.user_message


@pytest.fixture(scope="module")
def volunteer(harness):
    ctx = harness.ctx
    key = person_key(ctx.settings.secrets.district_key, SAMPLE_CARDS["resident_young"].expected.number)
    return ctx.services["timebank"].register_volunteer("张小红", "13900139000", "orange", card_uid=UID,
                                                      person_key=key)


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
