"""Maibobo driver at the byte level, against its recorded frames (``Maibobo.RECORDED``, docs/protocols.md §3.3)."""
from __future__ import annotations

import threading

import pytest

from drivers.bp_common import ImplausibleReading
from drivers.errors import DeviceReportedError, DeviceTimeout, InvalidChecksum, InvalidResponse, MeasurementCancelled
from drivers.maibobo import Maibobo
from drivers.readings import Progress
from tests.drivers.helpers_bp import FakePort, attach

# The driver's recording: connect, start, cuff pressure 60, 158, 100 mmHg, result 128/82/71.
((CONNECT, (ACK_CONNECT,)),
 (START, (ACK_START, PRESSURE_60, PRESSURE_158, PRESSURE_100, RESULT_128_82_71))) = Maibobo.RECORDED[0].exchanges
STOP = bytes.fromhex("cc 80 03 03 01 03 00 02")               # documented; a good measurement never sends it


def result(sys_: int, dia: int, pulse: int, length: int = 0x0F) -> bytes:
    body = bytes([3, length, 1, 6]) + bytes(7) + sys_.to_bytes(2, "big") + dia.to_bytes(2, "big") + pulse.to_bytes(2, "big")
    body = body[:length + 2]
    x = 0
    for b in body:
        x ^= b
    return b"\xaa\x80" + body + bytes([x])


class Fast(Maibobo):
    FRAME_TIMEOUT = 0.2
    ACK_TIMEOUT = 0.2
    POLL = 0.01


def device(stream: bytes) -> tuple[Maibobo, FakePort]:
    port = FakePort({CONNECT: ACK_CONNECT, START: ACK_START + stream, STOP: bytes.fromhex("aa 80 03 03 01 03 00 02")})
    return attach(Fast("loop://"), port, handshake=True), port


def test_recorded_result_frame_checks_out():
    assert result(128, 82, 71) == RESULT_128_82_71


def test_connect_start_pressure_result():
    dev, port = device(PRESSURE_60 + PRESSURE_158 + PRESSURE_100 + RESULT_128_82_71)
    updates: list[Progress] = []
    reading = dev.measure(updates.append)
    assert port.written == [CONNECT, START]          # handshake on open, then start
    assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 71)
    assert reading.device.driver == "maibobo" and reading.taken_at is None
    assert [(u.stage, u.cuff_pressure) for u in updates] == [
        ("inflating", 0), ("inflating", 60), ("inflating", 158), ("deflating", 100)]
    assert dev.last_timing is not None and dev.last_timing[1] >= dev.last_timing[0]


def test_garbage_before_frames_is_skipped():
    noise = bytes.fromhex("00 ff aa 80 55 aa 80 03 0e 13")
    dev, _ = device(noise + PRESSURE_60 + RESULT_128_82_71)
    assert dev.measure().systolic == 128


@pytest.mark.parametrize("code,key", [(0x01, "bp_over_pressure"), (0x02, "bp_cuff_leak"), (0x05, "bp_cuff_leak"),
                                      (0x06, "bp_weak_signal"), (0x09, "bp_device_fault"), (0x0F, "bp_cuff_leak"),
                                      (0x10, "bp_device_fault"), (0x33, "bp_device_fault")])
def test_error_codes(code, key):
    frame = bytes([0xAA, 0x80, 3, 3, 1, 7, code, 3 ^ 3 ^ 1 ^ 7 ^ code])
    dev, _ = device(PRESSURE_60 + frame)
    with pytest.raises(DeviceReportedError) as info:
        dev.measure()
    assert info.value.code == code and info.value.user_key == key


BAD = [
    ("wrong checksum on the result", PRESSURE_60 + RESULT_128_82_71[:-1] + b"\x00", InvalidChecksum),
    ("result cut off", PRESSURE_60 + RESULT_128_82_71[:12], InvalidResponse),
    ("result too short for the values", result(128, 82, 71, length=0x0B), InvalidResponse),
    ("systolic above 260", result(300, 82, 71), ImplausibleReading),
    ("diastolic below 30", result(120, 20, 71), ImplausibleReading),
    ("pulse above 180", result(120, 80, 200), ImplausibleReading),
    ("systolic not above diastolic", result(90, 95, 71), ImplausibleReading),
    ("unknown frame type", bytes.fromhex("aa 80 03 03 01 09 00 08"), InvalidResponse),
    ("nothing after the acknowledgement", b"", DeviceTimeout),
    ("only noise, then silence", bytes.fromhex("aa 80 07 01 02"), InvalidResponse),
]


@pytest.mark.parametrize("why,stream,error", BAD, ids=[b[0] for b in BAD])
def test_malformed(why, stream, error):
    dev, port = device(stream)
    with pytest.raises(error):
        dev.measure()
    if error is not ImplausibleReading:
        assert port.written[-1] == STOP                  # the cuff is not left inflated


def test_no_acknowledgement_on_open():
    with pytest.raises(DeviceTimeout):
        attach(Fast("loop://"), FakePort(), handshake=True)


def test_cancel_sends_stop():
    dev, port = device(PRESSURE_60)
    cancel = threading.Event()

    def progress(p):
        if p.cuff_pressure == 60:
            cancel.set()

    with pytest.raises(MeasurementCancelled):
        dev.measure(progress, cancel)
    assert port.written == [CONNECT, START, STOP]
