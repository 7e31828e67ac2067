"""BP framing: builders against the documented bytes, resynchronisation, and fuzzing of every parser."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ascii_line import DEFAULT_ERROR_PATTERN, DEFAULT_PATTERN, parse_line as ascii_parse
from drivers.bp_common import ImplausibleReading, check_plausible
from drivers.errors import DriverError, InvalidChecksum, InvalidResponse
from drivers.protocols import maibobo, nibp, omron
from drivers.protocols.lines import LineReader

FUZZ = settings(max_examples=200, deadline=None)


def test_documented_host_frames():
    assert maibobo.host_frame(maibobo.CONNECT) == bytes.fromhex("cc 80 03 03 01 01 00 00")
    assert maibobo.host_frame(maibobo.START) == bytes.fromhex("cc 80 03 03 01 02 00 03")
    assert nibp.START == bytes.fromhex("3a 20 a6")
    assert nibp.START_LIVE == bytes.fromhex("3a 56 70")
    assert nibp.ABORT == bytes.fromhex("3a 79 01 00 4c")
    assert nibp.GET_RESULT == bytes.fromhex("3a 79 03 00 4a")


def test_documented_module_frames():
    assert nibp.PACKET_FRAMES[nibp.PACKET_O] == bytes.fromhex("3e 04 4f 6f")
    assert nibp.PACKET_FRAMES[nibp.PACKET_K] == bytes.fromhex("3e 04 4b 73")
    assert nibp.PACKET_FRAMES[nibp.PACKET_B] == bytes.fromhex("3e 04 42 7c")
    assert nibp.module_frame(nibp.KIND_PRESSURE, nibp.pressure_data(142)) == bytes.fromhex("3e 07 01 8e 00 00 2c")
    reader = nibp.ModuleReader()
    reader.feed(bytes.fromhex("3e 07 01 8e 00 00 2c"))
    assert nibp.parse_pressure(reader.next_frame()) == 142


def test_maibobo_reader_split_across_reads_and_noise():
    frame = maibobo.device_frame(maibobo.PRESSURE, (150).to_bytes(2, "big"))
    reader = maibobo.FrameReader()
    reader.feed(b"\x01\x02\xaa")
    assert reader.next_frame() is None
    reader.feed(b"\x00" + frame[:5])
    assert reader.next_frame() is None
    reader.feed(frame[5:])
    got = reader.next_frame()
    assert got.type == maibobo.PRESSURE and maibobo.parse_pressure(got) == 150
    assert reader.skipped == 4


def test_bad_checksum_drops_only_the_header_so_a_following_frame_survives():
    good = nibp.PACKET_FRAMES[nibp.PACKET_K]
    bad = bytes.fromhex("3e 06 01 02 03 04")       # claims 6 bytes, sum not 0
    reader = nibp.ModuleReader()
    reader.feed(bad[:2] + good + bad[2:])           # noise "3E 06" swallowing the real frame
    with pytest.raises(InvalidChecksum) as info:
        reader.next_frame()
    assert info.value.computed == nibp.checksum(info.value.raw[:-1])
    assert reader.next_frame().kind == nibp.PACKET_K


def test_nibp_host_reader():
    reader = nibp.HostReader()
    reader.feed(b"\x99" + nibp.ABORT + nibp.START_LIVE + b"\x3a\x42")
    assert reader.next_frame().raw == nibp.ABORT
    assert reader.next_frame().raw == nibp.START_LIVE
    with pytest.raises(InvalidResponse):
        reader.next_frame()                         # unknown opcode 0x42


def test_plausibility_limits_edges():
    check_plausible(60, 30, 40)
    check_plausible(260, 215, 180)
    check_plausible(120, 80, None)
    for values in [(59, 40, 70), (261, 80, 70), (120, 29, 70), (250, 216, 70), (120, 80, 39), (120, 80, 181),
                   (100, 100, 70)]:
        with pytest.raises(ImplausibleReading):
            check_plausible(*values)


def test_line_reader_strips_cr_and_limits_length():
    reader = LineReader(max_len=8)
    reader.feed(b"ab\r\ncd\n")
    assert reader.next_line() == b"ab" and reader.next_line() == b"cd" and reader.next_line() is None
    reader.feed(b"x" * 9)
    with pytest.raises(InvalidResponse):
        reader.next_line()


def test_omron_redaction():
    line = omron.build_line(datetime(2025, 1, 2, 3, 4), 120, 80, 70, subject="310101199001011234")
    assert b"310101199001011234" not in omron.redact(line)


# -- fuzz: only the drivers' typed errors may escape ---------------------------------------------
def drain(reader, chunks):
    for chunk in chunks:
        reader.feed(chunk)
        for _ in range(len(chunk) + 2):
            try:
                if reader.next_frame() is None:
                    break
            except DriverError:
                pass


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_fuzz_maibobo_reader(chunks):
    for header in (maibobo.DEVICE_HEADER, maibobo.HOST_HEADER):
        drain(maibobo.FrameReader(header), chunks)


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_fuzz_nibp_readers(chunks):
    drain(nibp.ModuleReader(), chunks)
    drain(nibp.HostReader(), chunks)


@FUZZ
@given(st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_fuzz_maibobo_parsers(type_, data):
    frame = maibobo.Frame(type_, data, b"")
    for parse in (maibobo.parse_pressure, maibobo.parse_result, maibobo.parse_error):
        try:
            parse(frame)
        except DriverError:
            pass


@FUZZ
@given(st.integers(0, 255), st.binary(max_size=40))
def test_fuzz_nibp_parsers(kind, data):
    frame = nibp.Frame(kind, data, b"")
    for parse in (nibp.parse_pressure, nibp.parse_result):
        try:
            parse(frame)
        except DriverError:
            pass


@FUZZ
@given(st.one_of(st.binary(max_size=80),
                 st.builds(lambda s, i, b: s[:i] + b + s[i + 1:],
                           st.just(omron.build_line(datetime(2025, 3, 14, 9, 5), 128, 82, 71).rstrip()),
                           st.integers(0, 52), st.binary(min_size=1, max_size=1))))
def test_fuzz_omron_parser(line):
    try:
        record = omron.parse_line(line)
    except DriverError:
        return
    assert 1 <= record.taken_at.month <= 12


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_fuzz_line_reader(chunks):
    reader = LineReader(max_len=64)
    for chunk in chunks:
        reader.feed(chunk)
        try:
            while reader.next_line() is not None:
                pass
        except DriverError:
            pass


@FUZZ
@given(st.text(max_size=80))
def test_fuzz_ascii_parser(text):
    try:
        values = ascii_parse(text, re.compile(DEFAULT_PATTERN), re.compile(DEFAULT_ERROR_PATTERN))
    except DriverError:
        return
    assert values is None or all(isinstance(v, int) for v in values[:2])
