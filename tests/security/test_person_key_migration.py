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


def _bytes_under(folder) -> dict[str, bytes]:
    """Every regular file under ``folder`` (recursively), read whole: what a thief copies."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _holding(files: dict[str, bytes], key: str) -> list[str]:
    """The files holding ``key`` as hex text (either case) or as its 32 raw bytes."""
    forms = (key.encode(), key.upper().encode(), bytes.fromhex(key))
    return [name for name, data in files.items() if any(form in data for form in forms)]


@pytest.mark.services
def test_no_old_key_is_left_on_the_kiosk_or_the_hub_once_the_hub_acknowledged_the_link(
        tmp_path, mosquitto, earlier_journal):
    """Issue 27, item 1. The old HMAC key is one HMAC per guessed number: with the district key, a
    resident's number came back in 41 s from the link record. After the card read links the keys
    and the real publisher delivers the link to the real hub through a real Mosquitto, the kiosk's
    data directory (journal, WAL and -shm as a power cut leaves them, logs, roster) and the hub's
    database hold neither old key, in hex or raw; the kiosk still knows the resident's consent,
    readings and volunteer entry under the new keys."""
    from kiosk.context import build_context

    settings, old_resident, old_young, volunteer_id = earlier_journal
    key = settings.secrets.district_key
    new_resident, new_young = person_key(key, RESIDENT.number), person_key(key, YOUNG.number)
    assert _holding(_bytes_under(settings.data_dir), old_resident)          # the test can see the key
    sync = dataclasses.replace(settings.sync, enabled=True, host=mosquitto.host, port=mosquitto.port)
    settings = dataclasses.replace(settings, sync=sync)
    ctx = build_context(settings)
    db = tmp_path / "hub.sqlite3"
    hub = HubProcess(str(db), mosquitto.host, mosquitto.port, log_file=tmp_path / "hub.log").start()
    publisher = None
    try:
        identity = ctx.services["identity"]
        assert identity.from_document(RESIDENT).person.former_keys == (old_resident,)
        assert identity.from_document(YOUNG).person.volunteer_id == volunteer_id
        publisher = Publisher(settings, ctx.journal.path, poll_s=0.05, reconnect_max_s=2)
        publisher.start()
        assert wait_for(lambda: ctx.journal.pending_count() == 0, 30, 0.1)
        assert {r.payload.old_key for r in ctx.journal.records("person_key_linked")} == {""}
        kiosk_files = _bytes_under(settings.data_dir)      # a power cut now: the WAL as it is, no close
        assert any(name.endswith("-wal") for name in kiosk_files)
        again = identity.from_document(RESIDENT)
        assert again.person.person_key == new_resident and not again.needs_consent and again.consent_given
        assert len(ctx.journal.records("bp_measurement", where={"person_key": new_resident})) == 2
        assert identity.from_document(YOUNG).person.volunteer_id == volunteer_id
        assert ctx.journal.records("person_key_linked", limit=10)[0].payload.new_key in (new_resident, new_young)
    finally:
        if publisher:
            publisher.stop()
        hub.stop()
        ctx.close()
    for old in (old_resident, old_young):
        assert _holding(kiosk_files, old) == [], "an old key stayed readable on the kiosk"
        assert _holding(_bytes_under(tmp_path / "data"), old) == []
        assert _holding({p.name: p.read_bytes() for p in tmp_path.glob("hub.sqlite3*")}, old) == [], \
            "an old key stayed in the hub's database"
    con = sqlite3.connect(db)
    try:
        keys = {k for (k,) in con.execute("SELECT json_extract(payload, '$.person_key') FROM hub_records "
                                          "WHERE kind IN ('consent', 'bp_measurement')")}
        volunteer_key = con.execute("SELECT person_key FROM hub_volunteers WHERE volunteer_id = ?",
                                    (volunteer_id,)).fetchone()
    finally:
        con.close()
    assert keys == {new_resident}                        # the hub relabelled what it held
    assert volunteer_key == (new_young,)
    roster = roster_with_balances(str(db), {"volunteers": []})
    assert next(v for v in roster["volunteers"] if v["id"] == volunteer_id)["person_key"] == new_young


def test_a_key_of_the_earlier_scrypt_cost_is_linked_too(tmp_path):
    """Issue 27, item 2: raising the scrypt cost changed every person key; a resident journaled under
    the 8 MiB key (before 2026-12) keeps their consent and readings, through a link to the new key."""
    from kiosk.context import build_context
    from kiosk.privacy import EARLIER_PERSON_KEY_COSTS, earlier_person_keys

    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tmp_path / "data")})
    key = settings.secrets.district_key
    earlier = earlier_person_keys(key, RESIDENT.number)
    assert len(earlier) == 1 + len(EARLIER_PERSON_KEY_COSTS)
    old = earlier[1]                                                    # the 8 MiB scrypt key
    with Journal(settings.data_dir / Journal.FILENAME, settings.station.id) as journal:
        journal.append(ConsentDecision(person_key=old, granted=True))
    ctx = build_context(settings)
    try:
        outcome = ctx.services["identity"].from_document(RESIDENT)
        assert outcome.person.person_key == person_key(key, RESIDENT.number) != old
        assert outcome.person.former_keys == (old,)
        assert not outcome.needs_consent and outcome.consent_given is True
    finally:
        ctx.close()


def test_the_journal_allows_only_the_relabelling_a_link_names_and_only_after_the_hubs_ack(tmp_path):
    """Records stay immutable: a record's key can change only to the new key of a link naming its old
    key, and a link can only lose its old key; the outbox does both when the hub acknowledges it."""
    from kiosk.outbox import Outbox
    from kiosk.records import PersonKeyLinked

    old, new, other = "a1" * 32, "b2" * 32, "c3" * 32
    path = tmp_path / Journal.FILENAME
    with Journal(path, "st-1") as journal:
        consent = journal.append(ConsentDecision(person_key=old, granted=True)).record
        journal.append(PersonKeyLinked(old_key=old, new_key=new))
    con = sqlite3.connect(path)
    for sql, args in [("UPDATE records SET payload = replace(payload, ?, ?) WHERE id = ?", (old, other, consent.id)),
                      ("UPDATE records SET payload = json_set(payload, '$.old_key', ?) WHERE kind = 'person_key_linked'",
                       (other,)),
                      ("UPDATE records SET payload = json_set(payload, '$.granted', json('false')) WHERE id = ?",
                       (consent.id,))]:
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            con.execute(sql, args)
    con.close()
    outbox = Outbox(path)
    try:
        batch = outbox.claim_batch(10, 1 << 20)
        assert [r.kind for r in batch.records] == ["consent", "person_key_linked"]
        with Journal(path, "st-1") as journal:
            assert journal.records("consent")[0].payload.person_key == old     # nothing before the ack
        outbox.settle(batch.batch_id)
    finally:
        outbox.close()
    with Journal(path, "st-1") as journal:
        assert journal.records("consent")[0].payload.person_key == new
        assert [(r.payload.old_key, r.payload.new_key) for r in journal.records("person_key_linked")] == [("", new)]
    assert old.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
