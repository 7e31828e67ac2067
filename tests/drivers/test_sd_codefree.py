"""SD CodeFree at the byte level: the meter's challenge in, exact answer/fetch packets out."""
from __future__ import annotations

from datetime import datetime

import pytest

from drivers.errors import InvalidChecksum, InvalidResponse
from drivers.glucose_common import ImplausibleGlucose, MeterSilent, NoNewReading
from drivers.protocols import sdcodefree as sd
from drivers.readings import MealContext, Unit
from drivers.sd_codefree import SdCodeFree
from tests.drivers.helpers_glucose import scripted  # noqa: F401  (fixture)

# The driver's recording: the meter's challenge; the host's answer (message 10 40, xor 50) and the
# count 2; a fetch (10 60, xor 70) per reading. A reading's message: 2 unknown, yy mm dd hh mi,
# value BE, meal flag, 7 unknown: 2024-03-15 08:30 140 before a meal, 2024-03-14 19:05 90.
RECORDING = SdCodeFree.RECORDED[0]
(CHALLENGE,) = RECORDING.device
(ANSWER, (COUNT_2,)), (FETCH, (REC_NEW,)), (_, (REC_OLD,)) = RECORDING.exchanges
REC_NEW_MSG, REC_OLD_MSG = REC_NEW[3:-2], REC_OLD[3:-2]   # inside STX 20 length … xor ETX
SINCE = RECORDING.since


def pkt(message: bytes) -> bytes:
    return sd.build_packet(message, sd.DIR_TO_HOST)


class Meter:
    """Answer → count, each fetch → the next reading (replayed from the start every session)."""

    def __init__(self, readings: list[bytes], count: bytes | None = None) -> None:
        self.readings = list(readings)
        self.count = count if count is not None else pkt(sd.build_count(len(readings)))
        self.index = 0

    def __call__(self, data: bytes) -> bytes:
        if data == ANSWER:
            self.index = 0
            return self.count
        if data == FETCH and self.index < len(self.readings):
            self.index += 1
            return self.readings[self.index - 1]
        return b""


def make(**options) -> SdCodeFree:
    options.setdefault("measure_timeout", 0.05)
    options.setdefault("poll_interval", 0.01)
    dev = SdCodeFree("fake://", options=options)
    dev.TIMEOUT = 0.05
    return dev


def test_recorded_packets():
    assert sd.build_packet(sd.MSG_CHALLENGE, sd.DIR_TO_HOST) == CHALLENGE
    assert sd.build_packet(sd.MSG_ANSWER) == ANSWER
    assert sd.build_packet(sd.MSG_FETCH) == FETCH
    assert pkt(sd.build_count(2)) == COUNT_2
    assert sd.build_reading(datetime(2024, 3, 15, 8, 30), 140, MealContext.BEFORE_MEAL) == REC_NEW_MSG


def test_session_writes_exact_bytes_and_takes_newest(scripted):
    port = scripted(Meter([pkt(REC_NEW_MSG), pkt(REC_OLD_MSG)]), idle=CHALLENGE)
    with make() as dev:
        reading = dev.measure(since=SINCE)
    assert port.written == [ANSWER, FETCH, FETCH]
    assert (reading.device_value, reading.device_unit, reading.mmol_l) == (140, Unit.MG_DL, 7.8)
    assert reading.taken_at == datetime(2024, 3, 15, 8, 30)
    assert reading.meal is MealContext.BEFORE_MEAL and reading.device_seq == 2


def test_garbage_and_stale_challenges_are_skipped(scripted):
    port = scripted(Meter([pkt(REC_NEW_MSG)]), initial=b"\x00\x53\x99\xff" + CHALLENGE, idle=CHALLENGE)
    port.responder = Meter([pkt(REC_NEW_MSG)], count=CHALLENGE + pkt(sd.build_count(1)))
    with make() as dev:
        assert dev.measure(since=SINCE).device_value == 140


def test_same_minute_as_session_start_counts(scripted):
    # The meter keeps minutes only: a reading at 08:30 counts for a session started 08:30:40.
    scripted(Meter([pkt(REC_NEW_MSG)]), idle=CHALLENGE)
    with make() as dev:
        assert dev.measure(since=datetime(2024, 3, 15, 8, 30, 40)).device_value == 140


@pytest.mark.parametrize("reading,error", [
    (pkt(REC_NEW_MSG)[:-2] + b"\x00\xaa", InvalidChecksum),
    (pkt(REC_NEW_MSG[:10]), InvalidResponse),                                     # short record
    (pkt(REC_NEW_MSG[:9] + b"\x55" + REC_NEW_MSG[10:]), InvalidResponse),         # unknown meal flag
    (pkt(REC_NEW_MSG[:3] + b"\x0d" + REC_NEW_MSG[4:]), InvalidResponse),          # month 13
    (pkt(sd.build_reading(datetime(2024, 3, 15, 8, 30), 700)), ImplausibleGlucose),
    (pkt(sd.build_reading(datetime(2024, 3, 15, 8, 30), 3)), ImplausibleGlucose),
    (pkt(REC_NEW_MSG)[:12], InvalidResponse),                                     # truncated packet
])
def test_bad_readings_raise_typed_errors(scripted, reading, error):
    scripted(Meter([reading]), idle=CHALLENGE)
    # Waits long enough for a loaded machine (a parallel run): the error comes when the bad packet does,
    # and only the truncated packet waits out the read timeout.
    with make(measure_timeout=5.0) as dev, pytest.raises(error):
        dev.TIMEOUT = 1.0
        dev.measure(since=SINCE)


def test_missing_count_is_truncated(scripted):
    scripted(Meter([], count=b""), idle=CHALLENGE)
    with make() as dev:
        dev.RETRIES = 0
        with pytest.raises(InvalidResponse, match="no reading count"):
            dev.measure(since=SINCE)


def test_no_challenge_is_meter_silent(scripted):
    scripted(Meter([]))
    with make() as dev, pytest.raises(MeterSilent):
        dev.measure(since=SINCE)


def test_nothing_new(scripted):
    scripted(Meter([pkt(REC_OLD_MSG)]), idle=CHALLENGE)
    with make() as dev, pytest.raises(NoNewReading):
        dev.measure(since=SINCE)


def test_decoder_resyncs_on_false_start():
    dec = sd.PacketDecoder()
    out = dec.feed(b"\x53\x99" + b"\x53\x20\xff" + CHALLENGE)
    assert out == [CHALLENGE] and dec.garbage == 5
