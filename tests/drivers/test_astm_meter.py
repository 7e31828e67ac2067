"""ASTM E1381/E1394 meter at the byte level: the host's ENQ/ACK/NAK/EOT, recorded frames in."""
from __future__ import annotations

from datetime import datetime

import pytest

from drivers.astm_meter import AstmMeter
from drivers.errors import InvalidChecksum, InvalidResponse
from drivers.glucose_common import ImplausibleGlucose, MeterSilent, NoNewReading
from drivers.protocols import astm
from drivers.readings import RangeFlag, Unit
from tests.drivers.helpers_glucose import scripted  # noqa: F401  (fixture)

# The driver's recording: the Contour header frame recorded in glucometerutils' tests (frame 1,
# text ends with the record's CR, then ETB; its checksum D7 is verified below), and a result.
RECORDING = AstmMeter.RECORDED[0]
(HEADER_FRAME,) = RECORDING.exchanges[1][1]
RESULT_8 = "R|8|^^^Glucose|133|mg/dL^P||B/X||201202052034"
SINCE = RECORDING.since


class Meter:
    """Replays a transfer: EOT → ENQ; ACK → next frame (EOT after the last); NAK → same frame."""

    def __init__(self, frames: list[bytes], bad_first: int = 0) -> None:
        self.frames = frames
        self.index = -1
        self.bad_first = bad_first          # send the first frame corrupted this many times

    def __call__(self, data: bytes) -> bytes:
        if data == astm.EOT:
            self.index = -1
            return astm.ENQ
        if data == astm.ACK:
            self.index += 1
            return self._frame() if self.index < len(self.frames) else astm.EOT
        if data == astm.NAK:
            return self._frame()
        return b""

    def _frame(self) -> bytes:
        frame = self.frames[self.index]
        if self.index == 0 and self.bad_first:
            self.bad_first -= 1
            return frame[:-4] + b"00" + frame[-2:]
        return frame


def frames_for(records: list[str], first_fn: int = 1) -> list[bytes]:
    out, fn = [], first_fn
    for record in records:
        for frame in astm.build_record_frames(record, fn):
            out.append(frame)
            fn += 1
    return out


def transfer(*results: str) -> list[bytes]:
    return [HEADER_FRAME] + frames_for(["P|1", *results, "L|1|N"], first_fn=2)


def make(**options) -> AstmMeter:
    options.setdefault("measure_timeout", 0.05)
    options.setdefault("poll_interval", 0.01)
    dev = AstmMeter("fake://", options=options)
    dev.TIMEOUT = 0.05
    return dev


def test_the_recorded_transfer_is_the_one_the_link_layer_builds():
    assert [frame for _, frames in RECORDING.exchanges[1:5] for frame in frames] == transfer(RESULT_8)
    assert RECORDING.exchanges[0] == (astm.EOT, (astm.ENQ,)) and RECORDING.exchanges[-1] == (astm.ACK, (astm.EOT,))


def test_header_frame_checksum_is_the_verified_d7():
    frame = astm.parse_frame(HEADER_FRAME)
    assert frame.fn == 1 and not frame.final
    assert astm.checksum(HEADER_FRAME[1:HEADER_FRAME.index(astm.ETB) + 1]) == 0xD7


def test_forum_example_checksum_is_0a():
    # The widely copied "<STX>7L|1|N<CR><ETX>40" is wrong: the real checksum is 0A.
    assert astm.build_frame(7, b"L|1|N\r") == b"\x027L|1|N\r\x030A\r\n"


def test_reads_result_and_writes_exact_link_bytes(scripted):
    port = scripted(Meter(transfer(RESULT_8)))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    # EOT asks for data; ACK to ENQ; one ACK per frame (header, P, R, L).
    assert port.written == [astm.EOT, astm.ACK, astm.ACK, astm.ACK, astm.ACK, astm.ACK]
    assert (reading.device_value, reading.device_unit, reading.mmol_l) == (133.0, Unit.MG_DL, 7.4)
    assert reading.taken_at == datetime(2012, 2, 5, 20, 34) and reading.device_seq == 8
    assert reading.device.serial == "7390-2336773"
    assert reading.device.firmware == "01.24/01.04/09.02.20"
    assert "Bayer7390" in reading.device.model


def test_bad_checksum_is_naked_and_the_resent_frame_accepted(scripted):
    port = scripted(Meter(transfer(RESULT_8), bad_first=2))
    with make() as dev:
        assert dev.measure(since=SINCE).device_value == 133
    assert port.written[:4] == [astm.EOT, astm.ACK, astm.NAK, astm.NAK]


def test_nak_storm_gives_up_with_typed_error(scripted):
    scripted(Meter(transfer(RESULT_8), bad_first=10**6))
    # The give-up is by count of NAKs, not by time: a deadline this loaded machine cannot reach.
    with make(measure_timeout=60) as dev, pytest.raises(astm.TransferAborted):
        dev.measure(since=SINCE)


def test_wrong_frame_number_is_naked(scripted):
    frames = transfer(RESULT_8)
    frames[1] = astm.build_frame(5, b"P|1\r")          # expected frame number 2
    port = scripted(Meter(frames))
    with make() as dev, pytest.raises(astm.TransferAborted):
        dev.measure(since=SINCE)
    assert astm.NAK in port.written


def test_repeated_frame_is_acked_and_dropped():
    link_frames = transfer(RESULT_8)
    link_frames.insert(2, link_frames[1])               # P frame sent twice (our ACK was lost)

    class Port:
        written: list[bytes] = []

        def __init__(self):
            self.meter = Meter(link_frames)
            self.buf = bytearray(self.meter(astm.EOT))

        def write(self, data):
            self.written.append(data)
            self.buf += self.meter(data)

        def read_exact(self, n, timeout=None):
            out = bytes(self.buf[:n])
            del self.buf[:n]
            if len(out) < n:
                raise astm.DeviceTimeout("empty")
            return out

    link = astm.LinkReceiver(Port(), 0.05)
    link.wait_enq(0.05)
    records = link.receive()
    assert [r[0] for r in records] == ["H", "P", "R", "L"]


def test_long_record_split_over_frames_with_etb():
    comment = "C|1|I|" + "x" * 400
    frames = astm.build_record_frames(comment, 3)
    assert len(frames) == 2
    assert frames[0][1:2] == b"3" and frames[1][1:2] == b"4"
    assert frames[0][-5:-4] == astm.ETB and frames[1][-5:-4] == astm.ETX
    assert all(len(astm.parse_frame(f).text) <= 240 for f in frames)
    with pytest.raises(ValueError):
        astm.build_frame(1, b"x" * 241)


def test_frame_numbers_wrap_modulo_8(scripted):
    results = [f"R|{i}|^^^Glucose|{100 + i}|mg/dL^P||||2012020520{i:02d}" for i in range(1, 12)]
    scripted(Meter(transfer(*results)))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    assert reading.device_value == 111 and reading.device_seq == 11


def test_hi_flag_is_range_limit(scripted):
    scripted(Meter(transfer("R|9|^^^Glucose|HI|mg/dL^P||>||201202052040")))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    assert reading.range_flag is RangeFlag.HIGH and reading.mmol_l == 33.3 and reading.device_value == 600


def test_lo_flag_is_range_limit(scripted):
    scripted(Meter(transfer("R|9|^^^Glucose|LO|mg/dL^P||<||201202052040")))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    assert reading.range_flag is RangeFlag.LOW and reading.device_value == 10 and reading.mmol_l == 0.6


def test_mmol_result_kept_in_device_unit(scripted):
    scripted(Meter(transfer("R|3|^^^Glucose|7.4|mmol/L^P||||201202052040")))
    with make() as dev:
        reading = dev.measure(since=SINCE)
    assert (reading.device_value, reading.device_unit, reading.mmol_l) == (7.4, Unit.MMOL_L, 7.4)


@pytest.mark.parametrize("result,error", [
    ("R|3|^^^Glucose|700|mg/dL^P||||201202052040", ImplausibleGlucose),
    ("R|3|^^^Glucose|5|mg/dL^P||||201202052040", ImplausibleGlucose),
    ("R|3|^^^Glucose|abc|mg/dL^P||||201202052040", InvalidResponse),
    ("R|3|^^^Glucose|100|furlongs||||201202052040", InvalidResponse),
    ("R|x|^^^Glucose|100|mg/dL||||201202052040", InvalidResponse),
    ("R|3|^^^Glucose|100|mg/dL||||201213452040", InvalidResponse),
])
def test_bad_results_raise_typed_errors(scripted, result, error):
    scripted(Meter(transfer(result)))
    with make() as dev, pytest.raises(error):
        dev.measure(since=SINCE)


def test_truncated_transfer_without_terminator(scripted):
    frames = transfer(RESULT_8)[:3]                     # H, P, R then EOT: no L record
    scripted(Meter(frames))
    with make() as dev, pytest.raises(astm.TransferAborted, match="without a terminator"):
        dev.measure(since=SINCE)


def test_corrupted_recorded_frame_raises_checksum_error():
    bad = HEADER_FRAME.replace(b"D7", b"D8")
    with pytest.raises(InvalidChecksum):
        astm.parse_frame(bad)


def test_nothing_new(scripted):
    scripted(Meter(transfer(RESULT_8)))
    with make() as dev, pytest.raises(NoNewReading):
        dev.measure(since=datetime(2020, 1, 1))


def test_silent_meter(scripted):
    scripted(lambda data: b"")
    with make() as dev, pytest.raises(MeterSilent):
        dev.measure(since=SINCE)


def test_header_parse_of_recorded_frame():
    header = astm.parse_header(astm.parse_frame(HEADER_FRAME).text.decode().rstrip("\r"))
    assert header.product == "Bayer7390" and header.serial == "7390-2336773"
    assert header.unit is Unit.MG_DL and header.range_mg_dl == (10, 600)
    assert header.record_count == 1714 and header.meter_time == datetime(2019, 9, 22, 13, 4)
    assert header.delimiters == astm.Delimiters("|", "\\", "^", "&")
