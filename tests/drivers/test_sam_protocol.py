"""SAM host protocol framing: recorded frames from docs/protocols.md §1.3–1.5, every SW3 code, fuzzing."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceTimeout, DriverError, InvalidChecksum, InvalidResponse
from drivers.protocols import sam
from drivers.protocols.sam import (CardAuthFailed, CommandRejected, NoCard, NoContent, ReadFailed, SamFault,
                                   SelectFailed, UnknownStatus, WrongCard)
from kiosk.i18n import gettext
from tests.drivers.helpers_sam import BytesSource, read_payload, rsp

# Complete request frames from docs/protocols.md §1.3, byte for byte.
RECORDED_COMMANDS = [
    ("reset SAM", sam.RESET_SAM, b"", "AA AA AA 96 69 00 03 10 FF EC"),
    ("SAM status", sam.SAM_STATUS, b"", "AA AA AA 96 69 00 03 11 FF ED"),
    ("SAM id", sam.SAM_ID, b"", "AA AA AA 96 69 00 03 12 FF EE"),
    ("find card", sam.FIND_CARD, b"", "AA AA AA 96 69 00 03 20 01 22"),
    ("select card", sam.SELECT_CARD, b"", "AA AA AA 96 69 00 03 20 02 21"),
    ("read text+photo", sam.READ_TEXT_PHOTO, b"", "AA AA AA 96 69 00 03 30 01 32"),
    ("read text+photo+fingerprint", sam.READ_TEXT_PHOTO_FINGERPRINT, b"", "AA AA AA 96 69 00 03 30 10 23"),
    ("read appended address", sam.READ_NEW_ADDRESS, b"", "AA AA AA 96 69 00 03 30 03 30"),
    ("set 115200 baud", (sam.SET_BAUD, sam.BAUD_PARA[115200]), b"", "AA AA AA 96 69 00 03 60 00 63"),
    ("set max RF byte", (0x61, 0xFF), b"\x50", "AA AA AA 96 69 00 04 61 FF 50 CA"),
]


@pytest.mark.parametrize(("name", "command", "data", "frame"), RECORDED_COMMANDS, ids=[r[0] for r in RECORDED_COMMANDS])
def test_command_frames_match_recorded_bytes(name, command, data, frame):
    assert sam.build_command(*command, data) == bytes.fromhex(frame)


def test_build_command_rejects_out_of_range():
    with pytest.raises(ValueError):
        sam.build_command(0x100, 0)


# Observed responses from docs/protocols.md §1.4, with the outcome each must have.
RECORDED_RESPONSES = [
    ("SAM OK", "AA AA AA 96 69 00 04 00 00 90 94", (0x90,), None),
    ("find card OK", "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", (0x9F,), None),
    ("find card: no card", "AA AA AA 96 69 00 04 00 00 80 84", (0x9F,), NoCard),
    ("select OK", "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", (0x90,), None),
    ("select failed", "AA AA AA 96 69 00 04 00 00 81 85", (0x90,), SelectFailed),
    ("read failed", "AA AA AA 96 69 00 04 00 00 41 45", (0x90,), ReadFailed),
    ("SAM could not authenticate card", "AA AA AA 96 69 00 04 00 00 32 36", (0x90,), CardAuthFailed),
]


@pytest.mark.parametrize(("name", "frame", "ok", "error"), RECORDED_RESPONSES, ids=[r[0] for r in RECORDED_RESPONSES])
def test_recorded_responses(name, frame, ok, error):
    raw = bytes.fromhex(frame)
    read = sam.read_frame(BytesSource(raw).read_exact)
    assert read == raw
    response = sam.parse_response(raw)
    assert response.data == raw[10:-1]
    if error is None:
        assert sam.check_status(response, ok) is response
    else:
        with pytest.raises(error):
            sam.check_status(response, ok)


# Every SW3 of the docs/protocols.md §1.4 table: the class and the user_key the UI shows.
STATUS_CASES = [
    (0x10, CommandRejected, "idcard_reader_fault"),
    (0x11, CommandRejected, "idcard_reader_fault"),
    (0x21, CommandRejected, "idcard_reader_fault"),
    (0x23, SamFault, "idcard_reader_fault"),
    (0x24, SamFault, "idcard_reader_fault"),
    (0x31, CardAuthFailed, "idcard_auth_failed"),
    (0x32, CardAuthFailed, "idcard_auth_failed"),
    (0x33, CardAuthFailed, "idcard_auth_failed"),
    (0x40, WrongCard, "idcard_wrong_card"),
    (0x41, ReadFailed, "idcard_read_failed"),
    (0x47, ReadFailed, "idcard_read_failed"),
    (0x60, SamFault, "idcard_reader_fault"),
    (0x66, SamFault, "idcard_reader_fault"),
    (0x80, NoCard, "idcard_no_card"),
    (0x81, SelectFailed, "idcard_select_failed"),
    (0x91, NoContent, "idcard_no_content"),
]


def test_status_cases_cover_the_whole_table():
    assert {code for code, _, _ in STATUS_CASES} == set(sam.STATUS_TABLE)


@pytest.mark.parametrize(("sw3", "cls", "user_key"), STATUS_CASES, ids=[f"{c[0]:02X}" for c in STATUS_CASES])
def test_every_status_code_maps_to_its_typed_error(sw3, cls, user_key):
    response = sam.parse_response(rsp(sw3))
    with pytest.raises(cls) as info:
        sam.check_status(response)
    err = info.value
    assert isinstance(err, DriverError)
    assert err.sw3 == sw3
    assert err.user_key == user_key
    assert f"{sw3:02X}" in str(err)
    assert gettext(err.user_message, "zh_CN") != err.user_message


@pytest.mark.parametrize("sw3", [0x00, 0x55, 0x92, 0xFF])
def test_unknown_status_names_the_code(sw3):
    with pytest.raises(UnknownStatus, match=f"{sw3:02X}"):
        sam.check_status(sam.parse_response(rsp(sw3)))


def test_success_code_of_another_command_is_not_success():
    # 9F means "find card OK"; answered to a read it is a protocol error, not a success.
    with pytest.raises(UnknownStatus, match="9F"):
        sam.check_status(sam.parse_response(rsp(0x9F, bytes(4))), ok=(0x90,))


def test_forwarded_card_status_word_is_kept():
    with pytest.raises(ReadFailed) as info:
        sam.check_status(sam.parse_response(rsp(0x41, sw1=0x6A, sw2=0x82)))
    assert (info.value.sw1, info.value.sw2) == (0x6A, 0x82)
    assert "6A 82" in str(info.value)


# -- frame reader ---------------------------------------------------------------------------------

def test_garbage_before_preamble_is_skipped():
    frame = rsp(0x90)
    garbage = bytes.fromhex("00 FF AA AA 13 AA AA AA 96 55 AA 96 69")
    source = BytesSource(garbage + frame + b"trailing")
    assert sam.read_frame(source.read_exact) == frame
    assert source.pos == len(garbage) + len(frame)


def test_preamble_with_extra_sync_byte_is_found():
    frame = rsp(0x9F, bytes(4))
    assert sam.read_frame(BytesSource(b"\xaa" + frame).read_exact) == frame


def test_truncated_frame_is_a_timeout():
    frame = rsp(0x90, bytes(8))
    with pytest.raises(DeviceTimeout):
        sam.read_frame(BytesSource(frame[:-3]).read_exact)


def test_silence_is_a_timeout():
    with pytest.raises(DeviceTimeout):
        sam.read_frame(BytesSource(b"").read_exact)


def test_bad_checksum():
    frame = bytearray(rsp(0x90))
    frame[-1] ^= 0x01
    with pytest.raises(InvalidChecksum) as info:
        sam.read_frame(BytesSource(bytes(frame)).read_exact)
    assert info.value.received == 0x95 and info.value.computed == 0x94


def test_checksum_error_evidence_holds_no_payload():
    # A read response carries the holder's name right after the header: never in the error.
    name = "王测明".encode("utf-16-le")
    frame = bytearray(rsp(0x90, read_payload(name + bytes(256 - len(name)))))
    frame[-1] ^= 0xFF
    with pytest.raises(InvalidChecksum) as info:
        sam.read_frame(BytesSource(bytes(frame)).read_exact)
    assert len(info.value.raw) <= 10
    assert name.hex(" ")[:11] not in str(info.value)


@pytest.mark.parametrize("length", [0, 1, 3, sam.MAX_LENGTH + 1, 0xFFFF])
def test_impossible_length(length):
    header = sam.PREAMBLE + length.to_bytes(2, "big")
    with pytest.raises(InvalidResponse, match="length"):
        sam.read_frame(BytesSource(header + bytes(8)).read_exact)


def test_endless_garbage_gives_up():
    with pytest.raises(InvalidResponse, match="garbage"):
        sam.read_frame(BytesSource(bytes(range(256)) * 40).read_exact, max_skip=1000)


@pytest.mark.parametrize(("frame", "message"), [
    (bytes.fromhex("AA AA AA 96 68 00 04 00 00 90 94"), "preamble"),
    (bytes.fromhex("AA AA AA 96 69 00 05 00 00 90 94"), "length"),
    (bytes.fromhex("AA AA AA 96 69 00 03 00 90 93"), "short"),
])
def test_parse_response_rejects_malformed(frame, message):
    with pytest.raises(InvalidResponse, match=message):
        sam.parse_response(frame)


# -- read-card payload ---------------------------------------------------------------------------

def test_read_response_layout_30_01():
    text = bytes(range(256))
    frame = rsp(0x90, read_payload(text, bytes(1024)))
    # Total 1295 bytes and the vendor's example header (docs/protocols.md §1.5).
    assert len(frame) == 1295
    assert frame[:14] == bytes.fromhex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    blocks = sam.split_card_data(sam.parse_response(frame).data, fingerprint=False)
    assert blocks.text == text and len(blocks.photo) == 1024 and blocks.fingerprint == b""
    assert "bytes" in repr(blocks) and "\\x" not in repr(blocks)


@pytest.mark.parametrize(("fp_size", "total"), [(1024, 2321), (512, 1809), (0, 1297)])
def test_read_response_layout_30_10(fp_size, total):
    frame = rsp(0x90, read_payload(bytes(256), bytes(1024), bytes([7]) * fp_size))
    assert len(frame) == total
    if fp_size == 1024:
        assert frame[:16] == bytes.fromhex("AA AA AA 96 69 09 0A 00 00 90 01 00 04 00 04 00")
    blocks = sam.split_card_data(sam.parse_response(frame).data, fingerprint=True)
    assert len(blocks.text) == 256 and len(blocks.photo) == 1024 and blocks.fingerprint == bytes([7]) * fp_size


@pytest.mark.parametrize("data", [
    b"",
    bytes.fromhex("01 00"),
    bytes.fromhex("01 00 04 00") + bytes(256 + 1023),       # one photo byte short
    bytes.fromhex("00 FF 04 00") + bytes(255 + 1024),       # text not 256 bytes
])
def test_split_card_data_rejects_inconsistent_lengths(data):
    with pytest.raises(InvalidResponse):
        sam.split_card_data(data, fingerprint=False)


def test_format_sam_id():
    data = bytes.fromhex("05 00 01 00 e8 03 00 00 15 cd 5b 07 b1 68 de 3a")
    assert sam.format_sam_id(data) == "05.01-1000-123456789-987654321"
    with pytest.raises(InvalidResponse):
        sam.format_sam_id(data[:15])


# -- fuzzing: nothing escapes but the driver's own errors --------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_read_frame_arbitrary_bytes(data):
    try:
        frame = sam.read_frame(BytesSource(data).read_exact)
    except DriverError:
        return
    assert sam.parse_response(frame).sw3 == frame[9]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=20), st.integers(0, 0xFF), st.binary(max_size=40),
       st.lists(st.tuples(st.integers(0, 80), st.integers(0, 0xFF)), max_size=4))
def test_fuzz_read_frame_mutated_frames(prefix, sw3, data, flips):
    raw = bytearray(prefix + rsp(sw3, data))
    for index, value in flips:
        if index < len(raw):
            raw[index] = value
    try:
        frame = sam.read_frame(BytesSource(bytes(raw)).read_exact)
    except DriverError:
        return
    response = sam.parse_response(frame)
    try:
        sam.check_status(response)
    except DriverError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_parse_response(data):
    try:
        sam.parse_response(data)
    except InvalidResponse:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1400), st.booleans())
def test_fuzz_split_card_data(data, fingerprint):
    try:
        blocks = sam.split_card_data(data, fingerprint)
    except InvalidResponse:
        return
    assert len(blocks.text) == 256
