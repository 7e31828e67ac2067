"""Omron HBP-9030 format-5 driver at the byte level, against recorded lines (docs/protocols.md §3.1)."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest

from drivers.bp_common import ImplausibleReading
from drivers.errors import DeviceReportedError, DeviceTimeout, InvalidResponse, MeasurementCancelled
from drivers.omron_hbp9030 import OmronHBP9030
from drivers.protocols import omron
from drivers.protocols.omron import WrongFormat
from tests.drivers.helpers_bp import FakePort, attach

# 53 bytes + CR LF: date, time, 20-char subject field, error 0, SYS 128, DIA 82, pulse 71, 0 movements.
LINE = b"2025,03,14,09,05,                    ,0,128, 82, 71,0\r\n"
ID_NUMBER = "11010519491231002X"   # the GB 11643 example number: must never surface
LINE_WITH_ID = f"2025,03,14,09,05,{ID_NUMBER:<20},0,128, 82, 71,0\r\n".encode()


class Fast(OmronHBP9030):
    POLL = 0.01


def measure(stream: bytes, since=None, wait_s: float = 0.2):
    dev = attach(Fast("loop://", options={"wait_s": wait_s}), FakePort(initial=stream))
    return dev.measure(since=since)


def test_recorded_line_layout():
    assert len(LINE) == 55
    assert omron.build_line(datetime(2025, 3, 14, 9, 5), 128, 82, 71) == LINE


def test_reading_with_device_time():
    reading = measure(LINE)
    assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 71)
    assert reading.taken_at == datetime(2025, 3, 14, 9, 5)
    assert reading.flags == frozenset()


def test_movement_flag_and_noise_before_the_line():
    line = LINE.replace(b",0\r\n", b",2\r\n")
    reading = measure(b"\x00\xff\r\n" + b"\x13\x11" + line)
    assert reading.flags == {"body_movement"}


def test_stale_line_before_since_is_skipped():
    newer = LINE.replace(b"09,05", b"09,30").replace(b"128", b"131")
    assert measure(LINE + newer, since=datetime(2025, 3, 14, 9, 30, 40)).systolic == 131


@pytest.mark.parametrize("digit,key", [(1, "bp_cuff_leak"), (2, "bp_motion"), (3, "bp_over_pressure"),
                                       (4, "bp_weak_signal"), (5, "bp_measure_timeout"), (8, "bp_device_fault")])
def test_error_codes(digit, key):
    line = omron.build_line(datetime(2025, 3, 14, 9, 5), None, None, None, error=digit)
    with pytest.raises(DeviceReportedError) as info:
        measure(line)
    assert info.value.code == digit and info.value.user_key == key


BAD = [
    ("line cut off, no CR LF", LINE[:30], InvalidResponse),
    ("a letter inside SYS", LINE.replace(b"128", b"1X8"), InvalidResponse),
    ("month 13", LINE.replace(b"2025,03", b"2025,13"), InvalidResponse),
    ("52 bytes", LINE.replace(b"128", b"28"), InvalidResponse),
    ("blank values with error 0", omron.build_line(datetime(2025, 3, 14, 9, 5), None, None, None), InvalidResponse),
    ("another output format", b"MMBP203N,1,2,3\r\n", WrongFormat),
    ("systolic 300", LINE.replace(b"128", b"300"), ImplausibleReading),
    ("pulse 35", LINE.replace(b" 71", b" 35"), ImplausibleReading),
    ("nothing at all", b"", DeviceTimeout),
]


@pytest.mark.parametrize("why,stream,error", BAD, ids=[b[0] for b in BAD])
def test_malformed(why, stream, error):
    with pytest.raises(error):
        measure(stream)


def test_subject_id_never_kept_or_shown():
    reading = measure(LINE_WITH_ID)
    assert ID_NUMBER not in repr(reading)
    with pytest.raises(InvalidResponse) as info:
        measure(LINE_WITH_ID.replace(b"128", b"1X8"))
    assert ID_NUMBER not in str(info.value) and ID_NUMBER.encode() not in info.value.raw
    with pytest.raises(InvalidResponse) as info:
        measure(LINE_WITH_ID[:40])
    assert ID_NUMBER[:10] not in str(info.value)


def test_cancel_stops_waiting():
    dev = attach(Fast("loop://", options={"wait_s": 30}), FakePort())
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    with pytest.raises(MeasurementCancelled):
        dev.measure(cancel=cancel)
