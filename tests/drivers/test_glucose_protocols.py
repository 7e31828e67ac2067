"""Hypothesis fuzz of every glucometer parser: only the drivers' typed errors may escape."""
from __future__ import annotations

from datetime import datetime

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DriverError
from drivers.protocols import astm, lifescan_ascii as la, sdcodefree as sd

FUZZ = settings(max_examples=200, deadline=None)


def typed(fn, *args):
    try:
        return fn(*args)
    except DriverError:
        return None


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([b"", b"?", b"@ ", b"P ", b'P "']))
def test_lifescan_decode_line(raw, prefix):
    typed(la.decode_line, raw, prefix)


@FUZZ
@given(st.text(max_size=120))
def test_lifescan_text_parsers(text):
    for fn in (la.parse_firmware, la.parse_serial, la.parse_dump_header, la.parse_dump_record):
        typed(fn, text)


@FUZZ
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
       st.integers(0, 999), st.booleans())
def test_lifescan_record_round_trip(when, value, control):
    when = when.replace(microsecond=0)
    line = la.encode_line(la.format_dump_record(when, value, control=control))
    record = la.parse_dump_record(la.decode_line(line, b'P "'))
    assert (record.taken_at, record.mg_dl, record.control) == (when, value, control)


@FUZZ
@given(st.binary(max_size=300))
def test_astm_parse_frame(raw):
    typed(astm.parse_frame, raw)


@FUZZ
@given(st.binary(max_size=600))
def test_astm_frame_reader_then_parse(raw):
    reader = astm.FrameReader()
    for item in reader.feed(raw):
        if item not in (astm.ENQ, astm.EOT):
            typed(astm.parse_frame, item)


@pytest.mark.slow
@FUZZ
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=200))
def test_astm_record_parsers(text):
    typed(astm.parse_header, text)
    typed(astm.parse_result, text, astm.Delimiters())
    typed(astm.check_message, [text, "R" + text, "L|1"])


@FUZZ
@given(st.lists(st.sampled_from(["H|\\^&|", "R|", "|", "^", "\\", "0", "12", "Glucose", "mg/dL", "HI",
                                 ">", "201202052034", "U=1", "V=10600", "7.4", "x"]), max_size=30))
def test_astm_structured_records(parts):
    text = "".join(parts)
    typed(astm.parse_header, text)
    typed(astm.parse_result, text, astm.Delimiters())


@FUZZ
@given(st.integers(0, 7), st.binary(max_size=240).filter(lambda b: not set(b) & {2, 3, 0x17}), st.booleans())
def test_astm_frame_round_trip(fn, text, final):
    frame = astm.parse_frame(astm.build_frame(fn, text, final))
    assert (frame.fn, frame.text, frame.final) == (fn, text, final)


@FUZZ
@given(st.binary(max_size=100))
def test_sd_parse_packet(raw):
    typed(sd.parse_packet, raw)


@FUZZ
@given(st.binary(max_size=400))
def test_sd_decoder_then_parsers(raw):
    dec = sd.PacketDecoder()
    for packet in dec.feed(raw):
        parsed = typed(sd.parse_packet, packet)
        if parsed:
            typed(sd.parse_count, parsed.message)
            typed(sd.parse_reading, parsed.message)
    assert dec.pending <= sd.MAX_MESSAGE + 5


@FUZZ
@given(st.binary(min_size=0, max_size=40))
def test_sd_message_parsers(message):
    typed(sd.parse_count, message)
    typed(sd.parse_reading, message)


@FUZZ
@given(st.binary(max_size=60), st.binary(max_size=60))
def test_sd_decoder_finds_packet_after_noise(noise, message):
    packet = sd.build_packet(message[:40], sd.DIR_TO_HOST)
    dec = sd.PacketDecoder()
    found = dec.feed(noise.replace(b"\x53", b"") + packet)
    assert sd.parse_packet(found[-1]).message == message[:40]
