"""OEM ":"/">" NIBP driver at the byte level, against its recorded frames (``OemNibp.RECORDED``, docs/protocols.md §3.2)."""
from __future__ import annotations

import threading

import pytest

from drivers.bp_common import ImplausibleReading
from drivers.errors import DeviceReportedError, DeviceTimeout, InvalidChecksum, InvalidResponse, MeasurementCancelled
from drivers.oem_nibp import OemNibp
from drivers.protocols import nibp
from tests.drivers.helpers_bp import FakePort, attach

# The driver's recording: start with live pressure, "O", 60, 142, 60 mmHg, "K", result 128/82/71.
((START_LIVE, (O, PRESSURE_60, PRESSURE_142, _, K, RESULT_128_82_71)),) = OemNibp.RECORDED[0].exchanges  # noqa: E741
# Host frames and the busy packet the recording does not hold, as documented.
ABORT = bytes.fromhex("3a 79 01 00 4c")
GET_RESULT = bytes.fromhex("3a 79 03 00 4a")
B = bytes.fromhex("3e 04 42 7c")


def result(sys_: int, dia: int, pulse: int, status: int = 0) -> bytes:
    return nibp.module_frame(nibp.KIND_RESULT, nibp.result_data(sys_, dia, pulse, status))


class Fast(OemNibp):
    FRAME_TIMEOUT = 0.2
    ACK_TIMEOUT = 0.2
    RESULT_WAIT = 0.05
    BUSY_PAUSE = 0.01
    POLL = 0.01


def device(stream: bytes, on_get_result: bytes = b"") -> tuple[OemNibp, FakePort]:
    port = FakePort({START_LIVE: O + stream, ABORT: O, GET_RESULT: on_get_result})
    return attach(Fast("loop://"), port), port


def test_recorded_result_frame_sums_to_zero():
    assert result(128, 82, 71) == RESULT_128_82_71
    assert sum(RESULT_128_82_71) % 256 == 0


def test_live_pressure_then_result():
    dev, port = device(PRESSURE_60 + PRESSURE_142 + PRESSURE_60 + K + RESULT_128_82_71)
    updates = []
    reading = dev.measure(updates.append)
    assert port.written == [START_LIVE]
    assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 71)
    assert [(u.stage, u.cuff_pressure) for u in updates] == [
        ("inflating", 0), ("inflating", 60), ("inflating", 142), ("deflating", 60), ("done", None)]


def test_result_asked_for_when_not_sent_after_k():
    dev, port = device(PRESSURE_60 + K, on_get_result=RESULT_128_82_71)
    assert dev.measure().systolic == 128
    assert port.written == [START_LIVE, GET_RESULT]


def test_busy_then_start_again():
    port = FakePort({START_LIVE: B})
    dev = attach(Fast("loop://"), port)
    calls = []

    def write(data):
        calls.append(data)
        if len(calls) == 2:   # the second start is accepted
            port.replies[START_LIVE] = O + K + RESULT_128_82_71
        FakePort.write(port, data)

    port.write = write
    assert dev.measure().pulse == 71
    assert calls == [START_LIVE, START_LIVE]


def test_busy_for_ever():
    dev, port = device(b"")
    port.replies[START_LIVE] = B
    with pytest.raises(DeviceReportedError) as info:
        dev.measure()
    assert info.value.code == "B"
    assert port.written == [START_LIVE] * (Fast.BUSY_RETRIES + 1)


@pytest.mark.parametrize("status,key", [(1, "bp_weak_signal"), (2, "bp_motion"), (3, "bp_implausible"),
                                        (4, "bp_measure_timeout"), (5, "bp_cuff_leak"), (6, "bp_over_pressure"),
                                        (0x99, "bp_device_fault")])
def test_status_codes(status, key):
    dev, _ = device(K + result(0, 0, 0, status))
    with pytest.raises(DeviceReportedError) as info:
        dev.measure()
    assert info.value.code == status and info.value.user_key == key


BAD = [
    ("wrong checksum on the result", K + RESULT_128_82_71[:-1] + b"\x00", InvalidChecksum),
    ("result cut off", K + RESULT_128_82_71[:10], InvalidResponse),
    ("result record of the wrong length", K + nibp.module_frame(3, bytes(10)), InvalidResponse),
    ("pressure frame with two bytes", nibp.module_frame(1, b"\x8e\x00"), InvalidResponse),
    ("systolic out of range", K + result(270, 82, 71), ImplausibleReading),
    ("pulse too low", K + result(120, 80, 30), ImplausibleReading),
    ("unknown packet", nibp.module_frame(ord("Z")), InvalidResponse),
    ("module aborted", PRESSURE_60 + nibp.module_frame(ord("A")), DeviceReportedError),
    ("silence after O", b"", DeviceTimeout),
    ("K and no result even when asked", K, DeviceTimeout),
]


@pytest.mark.parametrize("why,stream,error", BAD, ids=[b[0] for b in BAD])
def test_malformed(why, stream, error):
    dev, port = device(stream)
    with pytest.raises(error):
        dev.measure()
    if error in (InvalidChecksum, InvalidResponse, DeviceTimeout):
        assert port.written[-1] == ABORT


def test_no_answer_to_start():
    dev = attach(Fast("loop://"), FakePort())
    with pytest.raises(DeviceTimeout):
        dev.measure()


def test_cancel_sends_abort():
    dev, port = device(PRESSURE_142)
    cancel = threading.Event()
    with pytest.raises(MeasurementCancelled):
        dev.measure(lambda p: p.cuff_pressure == 142 and cancel.set(), cancel)
    assert port.written == [START_LIVE, ABORT]
