"""OneTouch Ultra 2 at the byte level: recorded lines in, exact command bytes out."""
from __future__ import annotations

from datetime import datetime

import pytest

from drivers.errors import DriverError, InvalidChecksum, InvalidResponse, UnsupportedFeature
from drivers.glucose_common import ImplausibleGlucose, MeterSilent, NoNewReading
from drivers.onetouch_ultra2 import OneTouchUltra2
from drivers.protocols import lifescan_ascii as la
from drivers.readings import MealContext, Unit
from tests.drivers.helpers_glucose import scripted  # noqa: F401  (fixture)

# The driver's recorded replies (text + 16-bit sum + CR LF; each sum is checked below): firmware,
# serial, and the dump: header, 133 mg/dL before a meal, 95 mg/dL.
(_, (FIRMWARE,)), (_, (SERIAL,)), (_, (HEADER_2, REC_NEW, REC_OLD)) = OneTouchUltra2.RECORDED[0].exchanges
SINCE = OneTouchUltra2.RECORDED[0].since


def meter(dump: list[bytes], firmware=FIRMWARE, serial=SERIAL):
    """A responder: DM? → firmware, DM@ → serial, DMP → the dump lines."""
    def respond(data: bytes) -> bytes:
        return {la.command("DM?"): firmware, la.command("DM@"): serial,
                la.command("DMP"): b"".join(dump)}.get(data, b"")
    return respond


def make(**options) -> OneTouchUltra2:
    options.setdefault("measure_timeout", 0.05)
    options.setdefault("poll_interval", 0.01)
    return OneTouchUltra2("fake://", options=options)


def test_recorded_lines_have_the_right_checksums():
    for line in (FIRMWARE, SERIAL, HEADER_2, REC_NEW, REC_OLD):
        text, _, tail = line.rpartition(b" ")
        assert int(tail[:4], 16) == la.checksum(text), line
    # the verified example from docs/protocols.md §4.2
    assert la.checksum(b'T "SAT","08/03/13","22:12:00   "') == 0x0608


def test_newest_reading_after_since_and_exact_bytes_written(scripted):
    port = scripted(meter([HEADER_2, REC_NEW, REC_OLD]))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    # DC1 CR cmd CR for DM? (firmware), DM@ (serial), DMP (dump)
    assert port.written == [b"\x11\rDM?\r", b"\x11\rDM@\r", b"\x11\rDMP\r"]
    assert reading.device_value == 133 and reading.device_unit is Unit.MG_DL
    assert reading.mmol_l == 7.4                       # 133 / 18 = 7.39 → 7.4
    assert reading.taken_at == datetime(2013, 8, 3, 22, 12)
    assert reading.meal is MealContext.BEFORE_MEAL
    assert reading.device_seq == 2                     # numbered from the oldest
    assert reading.device.serial == "QAZ12345Y" and reading.device.firmware == "P02.00.00 30/08/06"


def test_control_solution_is_ignored(scripted):
    control = la.encode_line(la.format_dump_record(datetime(2013, 8, 3, 23, 0), 120, control=True))
    scripted(meter([HEADER_2, control, REC_NEW]))
    with make() as dev:
        assert dev.measure(since=SINCE).device_value == 133


def test_nothing_new_is_no_new_reading_with_measure_first_key(scripted):
    scripted(meter([HEADER_2, REC_NEW, REC_OLD]))
    with make() as dev, pytest.raises(NoNewReading) as err:
        dev.measure(since=datetime(2013, 8, 4))
    assert err.value.user_key == "glucose_measure_first"
    assert dev.transfers >= 1


def test_garbage_before_a_reply_is_skipped(scripted):
    scripted(meter([HEADER_2, REC_NEW, REC_OLD], firmware=b"\x00\xfe~#" + FIRMWARE))
    with make() as dev:
        assert dev.measure(since=SINCE).device_value == 133


def line_with(text: str) -> bytes:
    return la.encode_line(text)


@pytest.mark.parametrize("dump,error", [
    ([HEADER_2, REC_NEW.replace(b"0999", b"099A"), REC_OLD], InvalidChecksum),     # wrong checksum
    ([HEADER_2, REC_NEW], InvalidResponse),                                        # truncated dump
    ([HEADER_2, b'P "SAT","08/03/13" 1234\r\n', REC_OLD], InvalidResponse),        # malformed record
    ([HEADER_2, line_with(la.format_dump_record(datetime(2013, 8, 3, 22, 0), 5)), REC_OLD], ImplausibleGlucose),
    ([HEADER_2, line_with(la.format_dump_record(datetime(2013, 8, 3, 22, 0), 700)), REC_OLD], ImplausibleGlucose),
    ([b'P 002,"QAZ12345Y","MG/DL "\r\n', REC_NEW, REC_OLD], InvalidResponse),       # missing checksum
    ([line_with('P 001,"OTHER000Y","MG/DL "'), REC_NEW], InvalidResponse),          # someone else's dump
    ([line_with('P "SAT","13/45/13","22:12:00   ","  133 ","N","00", 00')], InvalidResponse),
])
def test_bad_dumps_raise_typed_errors(scripted, dump, error):
    scripted(meter(dump))
    with make() as dev, pytest.raises(error):
        dev.measure(since=SINCE)


def test_truncated_dump_is_retried_then_reported(scripted):
    port = scripted(meter([HEADER_2, REC_NEW]))
    # a deadline far away, so every retry runs however slow the machine (a failed dump is retried at once)
    with make(measure_timeout=30) as dev, pytest.raises(InvalidResponse, match="dump ended after 1 of 2"):
        dev.measure(since=SINCE)
    assert port.written.count(b"\x11\rDMP\r") == OneTouchUltra2.RETRIES + 1


def test_parity_flagged_reading_asks_to_measure_again(scripted):
    text = la.format_dump_record(datetime(2013, 8, 3, 22, 0), 133).replace(" 133 ", " 133?")
    scripted(meter([HEADER_2, la.encode_line(text), REC_OLD]))
    with make() as dev, pytest.raises(ImplausibleGlucose):
        dev.measure(since=SINCE)


def test_not_an_ultra2_serial(scripted):
    scripted(meter([HEADER_2], serial=line_with('@ "QAZ12345N"')))
    with make() as dev, pytest.raises(UnsupportedFeature):
        dev.measure(since=SINCE)


def test_silent_meter_is_meter_silent(scripted):
    scripted(lambda data: b"")
    with make() as dev:
        dev.TIMEOUT = 0.01
        with pytest.raises(MeterSilent) as err:
            dev.measure(since=SINCE)
    assert err.value.user_key == "glucose_meter_silent"
    assert isinstance(err.value, DriverError)


def test_mmol_meter_still_dumps_mg_dl(scripted):
    header = line_with('P 001,"QAZ12345Y","MMOL/L"')
    scripted(meter([header, REC_NEW]))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    assert reading.device_unit is Unit.MG_DL and reading.mmol_l == 7.4
