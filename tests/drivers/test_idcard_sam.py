"""IdCardReader: exact bytes against a scripted port, then end to end against the simulator on a pty."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from drivers import load_driver
from drivers.errors import ConnectionFailed, DeviceTimeout, InvalidChecksum, InvalidResponse, UnsupportedFeature
from drivers.idcard_sam import (CardError, CardPresented, CardRemoved, IdCardReader, ReaderStatus)
from drivers.idcard_text import DocumentKind, InvalidDocument
from drivers.protocols.sam import (CardAuthFailed, NoCard, ReadFailed, SamFault, SelectFailed, UnknownStatus,
                                   WrongCard)
from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from kiosk.i18n import gettext
from tests.drivers.helpers_sam import FakeSerial, cmd, read_payload, rsp

GUARD = 10.0   # hang guard: the card is already on the reader

# Command frames, named as in docs/protocols.md §1.3.
SAM_STATUS = cmd("11 FF")          # AA AA AA 96 69 00 03 11 FF ED
SAM_ID = cmd("12 FF")              # AA AA AA 96 69 00 03 12 FF EE
FIND = cmd("20 01")                # AA AA AA 96 69 00 03 20 01 22
SELECT = cmd("20 02")              # AA AA AA 96 69 00 03 20 02 21
READ = cmd("30 01")                # AA AA AA 96 69 00 03 30 01 32
READ_FP = cmd("30 10")             # AA AA AA 96 69 00 03 30 10 23
# Responses.
OK = rsp(0x90)
FOUND = rsp(0x9F, bytes(4))
NO_CARD = rsp(0x80)
SELECTED = rsp(0x90, bytes(8))


def read_ok(key: str = "resident", fingerprint: bytes | None = None, photo: bytes | None = None) -> bytes:
    card = SAMPLE_CARDS[key]
    return rsp(0x90, read_payload(card.text, card.photo if photo is None else photo, fingerprint))


@pytest.fixture()
def fake(monkeypatch):
    """Patch the connection factory: every reader opened gets this scripted port."""
    port = FakeSerial()
    opened: list[dict] = []

    def factory(url, **kwargs):
        opened.append({"url": url, **kwargs})
        port.is_open = True
        return port

    monkeypatch.setattr("drivers.base.serial.serial_for_url", factory)
    port.opened = opened
    return port


def open_reader(fake: FakeSerial, **options) -> IdCardReader:
    fake.add(OK)                               # answer to the SAM status check on open
    reader = IdCardReader("fake://", options=options or None)
    reader.open()
    return reader


def test_registry_points_here():
    assert load_driver("idcard", "sam") is IdCardReader


def test_open_checks_sam_status(fake):
    reader = open_reader(fake)
    assert fake.written == [SAM_STATUS]
    assert fake.opened[0]["baudrate"] == 115200 and fake.opened[0]["url"] == "fake://"
    reader.close()
    assert not fake.is_open


def test_open_fails_on_sam_fault_and_closes(fake):
    fake.add(rsp(0x60))
    reader = IdCardReader("fake://")
    with pytest.raises(SamFault):
        reader.open()
    assert not reader.is_open and not fake.is_open


def test_other_baud_rates(fake):
    fake.add(OK)
    IdCardReader("fake://", baudrate=9600).open()
    assert fake.opened[0]["baudrate"] == 9600
    with pytest.raises(UnsupportedFeature, match="14400"):
        IdCardReader("fake://", baudrate=14400)


def test_bad_options():
    with pytest.raises(ValueError):
        IdCardReader("fake://", options={"timeout": 0})


def test_find_select_read_exact_bytes(fake):
    reader = open_reader(fake)
    fake.add(FOUND, SELECTED, read_ok("resident"))
    assert reader.find_card() is True
    reader.select_card()
    doc = reader.read_card()
    assert fake.written == [SAM_STATUS, FIND, SELECT, READ]
    assert fake.written[1:] == [bytes.fromhex("AA AA AA 96 69 00 03 20 01 22"),
                                bytes.fromhex("AA AA AA 96 69 00 03 20 02 21"),
                                bytes.fromhex("AA AA AA 96 69 00 03 30 01 32")]
    assert doc == SAMPLE_CARDS["resident"].expected
    assert doc.photo_present is True


def test_find_card_no_card(fake):
    reader = open_reader(fake)
    fake.add(NO_CARD)
    assert reader.find_card() is False


@pytest.mark.parametrize("key", sorted(SAMPLE_CARDS))
def test_read_every_document_kind(fake, key):
    reader = open_reader(fake)
    fake.add(read_ok(key))
    doc = reader.read_card()
    assert doc == SAMPLE_CARDS[key].expected


@pytest.mark.parametrize("fp_size", [1024, 512, 0])
def test_read_with_fingerprint(fake, fp_size):
    reader = open_reader(fake)
    fake.add(read_ok("resident", fingerprint=bytes([3]) * fp_size))
    doc = reader.read_card(fingerprint=True)
    assert fake.written[-1] == READ_FP == bytes.fromhex("AA AA AA 96 69 00 03 30 10 23")
    assert doc.number == SAMPLE_CARDS["resident"].expected.number


def test_photo_is_dropped(fake):
    reader = open_reader(fake)
    fake.add(read_ok("resident"))
    doc = reader.read_card()
    photo = SAMPLE_CARDS["resident"].photo
    assert all(value != photo for value in vars(doc).values())
    assert doc.photo_present is True
    fake.add(read_ok("resident", photo=b""))
    assert reader.read_card().photo_present is False


def test_read_without_fingerprint_fields_is_rejected_as_fingerprint_read(fake):
    # A 30 01-style payload answered to 30 10 does not add up: typed error, not a wrong parse.
    reader = open_reader(fake)
    fake.add(read_ok("resident"))
    with pytest.raises(InvalidResponse, match="lengths"):
        reader.read_card(fingerprint=True)


def test_device_info_reports_sam_id(fake):
    reader = open_reader(fake)
    fake.add(rsp(0x90, bytes.fromhex("05 00 01 00 e8 03 00 00 15 cd 5b 07 b1 68 de 3a")))
    info = reader.device_info()
    assert fake.written[-1] == SAM_ID
    assert (info.driver, info.serial) == ("sam", "05.01-1000-123456789-987654321")
    fake.add(rsp(0x21))
    assert reader.device_info().serial is None


@pytest.mark.parametrize(("sw3", "error"), [(0x80, NoCard), (0x81, SelectFailed), (0x41, ReadFailed),
                                            (0x47, ReadFailed), (0x31, CardAuthFailed), (0x32, CardAuthFailed),
                                            (0x33, CardAuthFailed), (0x40, WrongCard), (0x24, SamFault),
                                            (0x23, SamFault), (0x60, SamFault), (0x66, SamFault),
                                            (0x5A, UnknownStatus)])
def test_status_codes_through_the_driver(fake, sw3, error):
    reader = open_reader(fake)
    fake.add(rsp(sw3))
    with pytest.raises(error) as info:
        reader.select_card() if sw3 != 0x41 else reader.read_card()
    assert gettext(info.value.user_message) != info.value.user_message


def test_stale_input_is_flushed_before_a_command(fake):
    reader = open_reader(fake)
    fake.inbuf = NO_CARD                      # a late answer to an earlier command
    fake.add(FOUND)
    assert reader.find_card() is True
    assert fake.resets >= 2


def test_garbage_before_the_answer_is_skipped(fake):
    reader = open_reader(fake)
    fake.add(b"\x00\xaa\xaa\x13" + FOUND)
    assert reader.find_card() is True


def test_silence_and_truncation_are_timeouts(fake):
    reader = open_reader(fake, timeout=0.05)
    fake.add(None)
    with pytest.raises(DeviceTimeout):
        reader.find_card()
    fake.add(read_ok()[:700])
    with pytest.raises(DeviceTimeout, match="of 1288"):
        reader.read_card()


def test_bad_checksum(fake):
    reader = open_reader(fake)
    fake.add(FOUND[:-1] + bytes((FOUND[-1] ^ 1,)))
    with pytest.raises(InvalidChecksum):
        reader.find_card()


def test_unparsable_text_is_invalid_document(fake):
    reader = open_reader(fake)
    fake.add(rsp(0x90, read_payload(bytes(256))))
    with pytest.raises(InvalidDocument):
        reader.read_card()


# -- presence state machine (scripted) --------------------------------------------------------------

def test_poll_one_read_per_presentation(fake):
    reader = IdCardReader("fake://")
    fake.add(OK)
    assert reader.poll() == ReaderStatus("connected")
    fake.add(NO_CARD)
    assert reader.poll() is None
    fake.add(FOUND, SELECTED, read_ok("hmt_permit"))
    event = reader.poll()
    assert isinstance(event, CardPresented)
    assert event.document.kind is DocumentKind.HMT_PERMIT
    assert event.timings.total >= event.timings.read >= 0
    assert set(event.timings.as_ms()) == {"find", "select", "read", "total"}
    # The card stays on the reader: only find-card is sent, never another read.
    fake.add(FOUND, FOUND)
    assert reader.poll() is None and reader.poll() is None
    fake.add(NO_CARD)
    assert reader.poll() == CardRemoved()
    fake.add(NO_CARD)
    assert reader.poll() is None
    assert fake.written == [SAM_STATUS, FIND, FIND, SELECT, READ, FIND, FIND, FIND, FIND]


def test_poll_read_error_reported_once_per_presentation(fake):
    reader = IdCardReader("fake://")
    fake.add(OK)
    reader.poll()
    fake.add(FOUND, SELECTED, rsp(0x41))
    event = reader.poll()
    assert isinstance(event, CardError) and isinstance(event.error, ReadFailed)
    fake.add(FOUND)
    assert reader.poll() is None
    fake.add(NO_CARD, FOUND, SELECTED, read_ok())
    assert reader.poll() == CardRemoved()
    assert isinstance(reader.poll(), CardPresented)


def test_poll_silent_reader_is_disconnected(fake):
    reader = IdCardReader("fake://", options={"timeout": 0.05})
    fake.add(OK)
    reader.poll()
    fake.add(None)
    event = reader.poll()
    assert isinstance(event, ReaderStatus) and event.state == "disconnected"
    assert not reader.is_open
    fake.add(None)                         # reopen: the status check goes unanswered
    assert reader.poll() is None           # reported once
    fake.add(OK)
    assert reader.poll() == ReaderStatus("connected")


def test_poll_garbled_find_is_retried(fake):
    reader = IdCardReader("fake://")
    fake.add(OK)
    reader.poll()
    fake.add(FOUND[:-1] + b"\x00")
    assert reader.poll() is None
    assert reader.is_open


def test_poll_unopenable_port(monkeypatch):
    def factory(url, **kwargs):
        raise OSError("No such file or directory")
    monkeypatch.setattr("drivers.base.serial.serial_for_url", factory)
    reader = IdCardReader("/dev/serial/by-id/missing")
    event = reader.poll()
    assert event.state == "disconnected" and "missing" in event.reason
    assert reader.poll() is None


# -- end to end over a pty against the simulator ------------------------------------------------

@pytest.fixture()
def sim(tmp_path):
    simulator = IdCardSimulator(link=str(tmp_path / "ttyIDCARD")).start()
    yield simulator
    simulator.stop()


@pytest.fixture()
def reader(sim):
    device = IdCardReader(sim.path, options={"timeout": 0.25, "poll_interval": 0.01})
    yield device
    device.close()


def poll_until(reader: IdCardReader, predicate, limit: int = 50):
    """Poll until an event satisfies ``predicate``; the events seen on the way."""
    seen = []
    for _ in range(limit):
        event = reader.poll()
        if event is not None:
            seen.append(event)
            if predicate(event):
                return seen
    raise AssertionError(f"no matching event in {limit} polls: {seen}")


def test_pty_present_and_remove_every_kind(sim, reader):
    assert reader.poll() == ReaderStatus("connected")
    assert reader.poll() is None
    for key in ("resident", "hmt_permit", "foreign_2017", "foreign_2023"):
        sim.present(key)
        event = reader.poll()
        assert isinstance(event, CardPresented) and event.document == SAMPLE_CARDS[key].expected
        for _ in range(3):
            assert reader.poll() is None
        sim.remove()
        assert reader.poll() == CardRemoved()
    assert sim.received["read"] == 4


def test_pty_read_time_is_at_least_wire_time(sim, reader):
    # Real-baud pacing: 1295 bytes at 115200 8N1 cannot arrive in less than 112 ms.
    reader.open()
    sim.present("resident")
    _, timings = reader.read_when_presented(GUARD)
    assert timings.read >= 1295 * 10 / 115200 * 0.95


def test_pty_fingerprint_read(sim, reader):
    reader.open()
    sim.present("resident_young")
    doc, _ = reader.read_when_presented(GUARD, fingerprint=True)
    assert doc == SAMPLE_CARDS["resident_young"].expected
    assert doc.ethnicity == "毛南"


def test_pty_expired_and_bad_check_digit_are_reported(sim, reader):
    reader.open()
    sim.present("resident_expired")
    doc, _ = reader.read_when_presented(GUARD)
    assert doc.expired(date(2025, 1, 1)) and doc.ethnicity == "德昂"
    sim.present("resident_bad_check")
    doc, _ = reader.read_when_presented(GUARD)
    assert doc.check_digit_ok is False


def test_pty_unplug_and_replug_reconnects(sim, reader):
    sim.present("resident")
    poll_until(reader, lambda e: isinstance(e, CardPresented))
    sim.unplug()
    event = reader.poll()
    assert isinstance(event, ReaderStatus) and event.state == "disconnected"
    assert reader.poll() is None and reader.poll() is None     # reported once, retried quietly
    sim.replug()
    seen = poll_until(reader, lambda e: isinstance(e, CardPresented))
    assert seen[0] == ReaderStatus("connected")
    assert seen[-1].document.number == SAMPLE_CARDS["resident"].expected.number


def test_pty_stop_answering_is_a_timeout_then_recovers(sim, reader):
    reader.open()
    sim.fault("silent")
    with pytest.raises(DeviceTimeout):
        reader.find_card()
    event = reader.poll()
    assert isinstance(event, ReaderStatus) and event.state == "disconnected"
    sim.clear()
    sim.present("foreign_2017")
    seen = poll_until(reader, lambda e: isinstance(e, CardPresented))
    assert ReaderStatus("connected") in seen


def test_pty_garbage_is_skipped(sim, reader):
    reader.open()
    sim.present("resident")
    sim.fault("garbage", on="read")
    doc, _ = reader.read_when_presented(GUARD)
    assert doc == SAMPLE_CARDS["resident"].expected


@pytest.mark.parametrize(("fault", "on", "error"), [("checksum", "read", InvalidChecksum),
                                                    ("truncate", "read", DeviceTimeout),
                                                    ("checksum", "select", InvalidChecksum),
                                                    ("select", None, SelectFailed), ("read", None, ReadFailed),
                                                    ("auth", None, CardAuthFailed)])
def test_pty_read_faults_give_one_card_error(sim, reader, fault, on, error):
    reader.open()
    sim.present("resident")
    sim.fault(fault, on)
    event = reader.poll()
    assert isinstance(event, CardError) and isinstance(event.error, error)
    assert reader.poll() is None              # same presentation: not re-read
    sim.remove()
    assert reader.poll() == CardRemoved()
    sim.present("resident")
    assert isinstance(reader.poll(), CardPresented)


def test_pty_card_pulled_mid_read(sim, reader):
    reader.open()
    sim.present("resident")
    sim.fault("pull")
    event = reader.poll()
    assert isinstance(event, CardError) and isinstance(event.error, DeviceTimeout)
    assert reader.poll() == CardRemoved()


def test_pty_wrong_command_checksum_is_rejected_by_the_simulator(sim, reader):
    reader.open()
    frame = bytearray(cmd("20 01"))
    frame[-1] ^= 0xFF
    reader.write(bytes(frame))
    from drivers.protocols import sam
    response = sam.parse_response(sam.read_frame(reader._read_exact))
    assert response.sw3 == 0x10


def test_events_loop_stops_on_request(sim, reader):
    stop = threading.Event()
    events = []
    sim.present("foreign_2023")

    def worker():
        for event in reader.events(stop):
            events.append(event)
            if isinstance(event, CardPresented):
                stop.set()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert events[0] == ReaderStatus("connected")
    assert isinstance(events[-1], CardPresented)


def test_closed_port_is_connection_failed():
    reader = IdCardReader("/nonexistent/ttyX")
    with pytest.raises(ConnectionFailed):
        reader.find_card()
