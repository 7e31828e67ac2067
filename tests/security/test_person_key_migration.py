"""Issue 11, item 8 (migration): person keys change from HMAC to scrypt. A journal written by the
earlier Yizhan holds a resident's consent and readings and a volunteer's registration under the
old keys. The next time each card is read at the real kiosk (SAM simulator, offscreen shell), the
new key is linked to the old one by a journaled ``person_key_linked`` record: consent is not asked
again, the trend shows the old readings, the volunteer is recognised; the hub, fed by the real
publisher through a real Mosquitto, puts the new key into the roster it publishes.
"""
from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from app.demo_hub import HubProcess
from drivers.readings import BloodPressureReading, DeviceInfo
from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from hub.timebank import roster_with_balances
from kiosk.health import assess_bp
from kiosk.health_records import record_measurement
from kiosk.identify_sources import IdentitySources
from kiosk.journal import Journal
from kiosk.privacy import legacy_person_key, person_key
from kiosk.records import ConsentDecision
from kiosk.settings import DeviceSettings, load_settings
from kiosk.timebank.service import TimeBank
from sync.publisher import Publisher
from kiosk.i18n import gettext
from tests.security.helpers import tap_text
from tests.support.services import wait_for

RESIDENT = SAMPLE_CARDS["resident"].expected
YOUNG = SAMPLE_CARDS["resident_young"].expected


@pytest.fixture()
def earlier_journal(tmp_path):
    """Demo settings and a journal as the earlier Yizhan left it (HMAC person keys)."""
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tmp_path / "data")})
    key = settings.secrets.district_key
    old_resident, old_young = legacy_person_key(key, RESIDENT.number), legacy_person_key(key, YOUNG.number)
    with Journal(settings.data_dir / Journal.FILENAME, settings.station.id) as journal:
        journal.append(ConsentDecision(person_key=old_resident, granted=True))
        device = DeviceInfo(driver="maibobo", model="RBP-9000", serial="SN1")
        for seq, (sys_, dia) in enumerate([(152, 96), (146, 92)], start=1):
            record_measurement(journal, old_resident, BloodPressureReading(sys_, dia, 70, device, device_seq=seq),
                               assess_bp(sys_, dia), station_id=settings.station.id)
        bank = TimeBank(journal, settings)
        volunteer = bank.register_volunteer("王小明", "13800138000", "orange", person_key=old_young)
    return settings, old_resident, old_young, volunteer.id


@pytest.mark.services
def test_old_keys_are_linked_on_the_next_card_read_and_the_hub_follows(tmp_path, mosquitto, earlier_journal):
    from app.kiosk_app import HeadlessShell
    from kiosk.context import build_context

    settings, old_resident, old_young, volunteer_id = earlier_journal
    key = settings.secrets.district_key
    new_resident, new_young = person_key(key, RESIDENT.number), person_key(key, YOUNG.number)
    sync = dataclasses.replace(settings.sync, enabled=True, host=mosquitto.host, port=mosquitto.port)
    settings = dataclasses.replace(settings, sync=sync)
    ctx = build_context(settings)
    harness = HeadlessShell(ctx)
    sim = IdCardSimulator(link=str(tmp_path / "idcard"), baudrate=115200).start()
    devices = {"idcard": DeviceSettings(driver="sam", port=sim.path, baudrate=115200, options={"poll_interval": 0.05})}
    sources = IdentitySources(dataclasses.replace(settings, devices=devices), ctx.services["identity"], ctx.status,
                              post=harness.post, on_event=harness.shell.on_identity_event)
    sources.start()
    hub = HubProcess(str(tmp_path / "hub.sqlite3"), mosquitto.host, mosquitto.port,
                     log_file=tmp_path / "hub.log").start()
    publisher = None
    try:
        shell = harness.shell
        harness.screen("home").choose("records")
        sim.present("resident")
        assert harness.pump_until(lambda: shell.manager.current in ("consent", "greeting"))
        assert shell.manager.current == "greeting", "consent given under the old key must carry over"
        tap_text(harness, gettext("My records"))
        assert shell.manager.current == "records"
        assert "146/92" in harness.screen("records").bp_latest and "2" in harness.screen("records").bp_latest
        assert ctx.session.person.person_key == new_resident
        sim.remove()
        harness.pump_until(lambda: False, 0.5)        # the reader sees the card go

        shell.home()
        harness.screen("home").choose("volunteer")
        sim.present("resident_young")
        assert harness.pump_until(lambda: ctx.session.person is not None
                                  and ctx.session.person.person_key == new_young)
        assert ctx.session.person.volunteer_id == volunteer_id

        links = {(r.payload.old_key, r.payload.new_key) for r in ctx.journal.records("person_key_linked")}
        assert links == {(old_resident, new_resident), (old_young, new_young)}
        assert {r.payload.person_key for r in ctx.journal.records("visit")} == {new_resident, new_young}

        publisher = Publisher(settings, ctx.journal.path, poll_s=0.05, reconnect_max_s=2)
        publisher.start()
        db = tmp_path / "hub.sqlite3"

        def hub_has_links() -> bool:
            try:
                con = sqlite3.connect(db)
                try:
                    return con.execute("SELECT count(*) FROM hub_records WHERE kind = 'person_key_linked'"
                                       ).fetchone()[0] == 2
                finally:
                    con.close()
            except sqlite3.OperationalError:
                return False
        assert wait_for(hub_has_links, 30, 0.1)
        roster = roster_with_balances(str(db), {"volunteers": []})
        entry = next(v for v in roster["volunteers"] if v["id"] == volunteer_id)
        assert entry["person_key"] == new_young
    finally:
        if publisher:
            publisher.stop()
        hub.stop()
        sources.stop()
        sim.stop()
        harness.close()
        ctx.close()


def test_a_consent_withdrawal_erases_the_records_under_the_earlier_key_too(earlier_journal):
    from kiosk.context import build_context

    settings, old_resident, _old_young, _vid = earlier_journal
    ctx = build_context(settings)
    try:
        identity = ctx.services["identity"]
        new_resident = person_key(settings.secrets.district_key, RESIDENT.number)
        outcome = identity.from_document(RESIDENT)                                       # the card read links them
        assert outcome.person.person_key == new_resident and outcome.person.former_keys == (old_resident,)
        assert identity.withdraw_consent(new_resident) == 2                              # the two old readings
        assert ctx.journal.records("bp_measurement", where={"person_key": old_resident}) == []
        withdrawn = {r.payload.person_key for r in ctx.journal.records("consent_withdrawn")}
        assert withdrawn == {new_resident, old_resident}                                 # the hub deletes both
    finally:
        ctx.close()
