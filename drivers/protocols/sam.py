"""Host protocol of the resident ID card security module (SAM), GA/T 467 "业务终端接口".

Every serial resident ID card reader built around a SAM_A/SAM_V module speaks these frames
(docs/protocols.md §1.2–1.5):

* command: ``AA AA AA 96 69 | Len1 Len2 | CMD Para Data… | CHK``
* response: ``AA AA AA 96 69 | Len1 Len2 | SW1 SW2 SW3 Data… | CHK``

The length is big-endian and counts everything after itself, checksum included; the checksum
is the XOR of every byte from Len1 to the byte before it. SW3 is the module's own status; SW1
and SW2 forward the card's status word for some failures.

This module builds command frames, reads and validates response frames from any byte source
(skipping garbage before a preamble), splits the read-card payload, and maps SW3 to typed errors.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from drivers.errors import DeviceReportedError, InvalidChecksum, InvalidResponse
from drivers.messages import N_

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
#: Preamble plus the two length bytes: what is read before the length is known.
HEADER_SIZE = 7
#: The largest response defined is text + photo + 1024 B fingerprint: 2321 - 7 = 2314 B after
#: the header. Anything much larger is a corrupt length field.
MAX_LENGTH = 4096
#: A response holds at least SW1 SW2 SW3 and the checksum.
MIN_RESPONSE_LENGTH = 4
#: Bytes the reader may skip looking for a preamble before it calls the line garbled.
MAX_SKIP = 4096

# Commands as (CMD, Para), docs/protocols.md §1.3.
RESET_SAM = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT_PHOTO = (0x30, 0x01)
READ_NEW_ADDRESS = (0x30, 0x03)
READ_TEXT_PHOTO_FINGERPRINT = (0x30, 0x10)
SET_BAUD = 0x60
#: Para of the set-UART-speed command per baud rate.
BAUD_PARA = {115200: 0x00, 57600: 0x01, 38400: 0x02, 19200: 0x03, 9600: 0x04}

# SW3 values that mean success.
SW3_OK = 0x90
SW3_FIND_OK = 0x9F
SW3_NO_CONTENT = 0x91

#: Size of the text block and photo in a read response (docs/protocols.md §1.5).
TEXT_SIZE = 256
PHOTO_SIZE = 1024


def xor_checksum(data: bytes) -> int:
    """XOR of all bytes (the frame checksum when given Len1 … last data byte)."""
    return reduce(lambda a, b: a ^ b, data, 0)


def build_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """A complete command frame.

    Args:
        cmd: command byte, e.g. 0x20.
        para: parameter byte, e.g. 0x01.
        data: optional data bytes (almost always empty).

    Returns:
        The frame, e.g. ``AA AA AA 96 69 00 03 20 01 22`` for find card.

    Raises:
        ValueError: a byte out of range or data too long for the length field.
    """
    if not (0 <= cmd <= 0xFF and 0 <= para <= 0xFF):
        raise ValueError("cmd and para must be bytes")
    length = 2 + len(data) + 1
    if length > 0xFFFF:
        raise ValueError("command data too long")
    body = length.to_bytes(2, "big") + bytes((cmd, para)) + bytes(data)
    return PREAMBLE + body + bytes((xor_checksum(body),))


def build_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A complete response frame, as a reader sends it (used by the simulator and tests).

    Args:
        sw3: the module status byte.
        data: payload after SW3.
        sw1: forwarded card status byte 1.
        sw2: forwarded card status byte 2.

    Returns:
        The frame with its length and checksum.
    """
    length = 3 + len(data) + 1
    body = length.to_bytes(2, "big") + bytes((sw1, sw2, sw3)) + bytes(data)
    return PREAMBLE + body + bytes((xor_checksum(body),))


@dataclass(frozen=True)
class Response:
    """One validated response frame.

    ``data`` may hold personal data (the text block): it is left out of ``repr``.
    """

    sw1: int
    sw2: int
    sw3: int
    data: bytes

    def __repr__(self) -> str:
        return f"Response(sw1={self.sw1:#04x}, sw2={self.sw2:#04x}, sw3={self.sw3:#04x}, data=<{len(self.data)} bytes>)"


def _evidence(frame: bytes) -> bytes:
    """The part of a frame that may go into an error: the header only.

    A read response carries the holder's name right after the header, so error evidence never
    includes payload bytes.
    """
    return bytes(frame[:10])


def parse_response(frame: bytes) -> Response:
    """Validate one complete response frame and split it.

    Args:
        frame: the bytes from the preamble to the checksum.

    Returns:
        The status bytes and data.

    Raises:
        InvalidResponse: wrong preamble, a length that does not match the frame, too short.
        InvalidChecksum: the XOR does not match.
    """
    frame = bytes(frame)
    if not frame.startswith(PREAMBLE):
        raise InvalidResponse("response does not start with the SAM preamble AA AA AA 96 69", _evidence(frame))
    if len(frame) < HEADER_SIZE + MIN_RESPONSE_LENGTH:
        raise InvalidResponse(f"response frame too short ({len(frame)} bytes)", _evidence(frame))
    length = int.from_bytes(frame[5:7], "big")
    if length != len(frame) - HEADER_SIZE:
        raise InvalidResponse(f"length field says {length} bytes, frame has {len(frame) - HEADER_SIZE}",
                              _evidence(frame))
    computed = xor_checksum(frame[5:-1])
    if computed != frame[-1]:
        raise InvalidChecksum(_evidence(frame), frame[-1], computed)
    return Response(sw1=frame[7], sw2=frame[8], sw3=frame[9], data=frame[10:-1])


def _sync_offset(buf: bytes) -> int:
    """Index of the first position where a preamble starts (or could start, at the end)."""
    for i in range(len(buf)):
        if PREAMBLE.startswith(buf[i:i + len(PREAMBLE)]):
            return i
    return len(buf)


def read_frame(read_exact: Callable[[int], bytes], max_skip: int = MAX_SKIP) -> bytes:
    """Read one response frame from a byte source, skipping garbage before the preamble.

    The strategy every implementation shares (docs/protocols.md §1.2): read 7 bytes, find the
    preamble, take the big-endian length ``L``, read ``L`` more bytes, check the XOR.

    Args:
        read_exact: returns exactly ``n`` bytes or raises the caller's typed timeout
            (``DeviceTimeout``) / connection error; every call must have a timeout.
        max_skip: garbage bytes tolerated before a preamble.

    Returns:
        The complete frame, checksum verified.

    Raises:
        DeviceTimeout: (from ``read_exact``) the frame stopped short.
        InvalidResponse: no preamble within ``max_skip`` bytes, or an impossible length.
        InvalidChecksum: the XOR does not match.
    """
    buf = read_exact(HEADER_SIZE)
    skipped = 0
    while not buf.startswith(PREAMBLE):
        offset = _sync_offset(buf)
        skipped += offset
        if skipped > max_skip:
            raise InvalidResponse(f"no SAM frame start in {skipped} bytes of garbage", buf)
        buf = buf[offset:] + read_exact(offset)
    length = int.from_bytes(buf[5:7], "big")
    if not MIN_RESPONSE_LENGTH <= length <= MAX_LENGTH:
        raise InvalidResponse(f"impossible response length {length}", buf)
    frame = buf + read_exact(length)
    parse_response(frame)
    return frame


# ---------------------------------------------------------------------------------------------
# Status byte SW3 → typed errors (docs/protocols.md §1.4)

class SamStatusError(DeviceReportedError):
    """The reader answered with a failure status byte SW3.

    Attributes:
        sw3: the module status; sw1, sw2: the card's status word it forwarded (often 00 00).
    """

    user_key = "idcard_reader_fault"
    user_message = N_("The ID card reader has a fault. Please ask the staff for help.")

    def __init__(self, sw3: int, meaning: str, sw1: int = 0, sw2: int = 0) -> None:
        self.sw1, self.sw2, self.sw3 = sw1, sw2, sw3
        detail = f" (card SW {sw1:02X} {sw2:02X})" if (sw1 or sw2) else ""
        super().__init__(f"SW3={sw3:02X}", meaning + detail)


class NoCard(SamStatusError):
    """No card in the field (find card failed, SW3 80)."""

    user_key = "idcard_no_card"
    user_message = N_("Please place your ID card on the reader.")


class SelectFailed(SamStatusError):
    """The card was found but could not be selected (SW3 81): usually moved or half on the reader."""

    user_key = "idcard_select_failed"
    user_message = N_("The card could not be read. Please lift it and place it flat on the reader again.")


class ReadFailed(SamStatusError):
    """Reading the card failed (SW3 41, 47): usually pulled away during the read."""

    user_key = "idcard_read_failed"
    user_message = N_("Reading the card was interrupted. Please keep the card still on the reader.")


class CardAuthFailed(SamStatusError):
    """Card and SAM did not authenticate each other, or the data failed verification (31, 32, 33)."""

    user_key = "idcard_auth_failed"
    user_message = N_("This card could not be verified. Please ask the staff for help.")


class WrongCard(SamStatusError):
    """A card the SAM does not recognise (SW3 40): a bank card, a transit card…"""

    user_key = "idcard_wrong_card"
    user_message = N_("This is not an identity card. Please use your resident ID card or residence permit.")


class NoContent(SamStatusError):
    """The card holds no content for the item asked (SW3 91), e.g. no appended address."""

    user_key = "idcard_no_content"
    user_message = N_("The card holds no data for this item.")


class CommandRejected(SamStatusError):
    """The module rejected the host's frame (checksum 10, length 11, command 21): a driver bug or line noise."""


class SamFault(SamStatusError):
    """The SAM itself is unusable: self-test failed, not authorised, unrecognised error (23, 24, 60, 66)."""


class UnknownStatus(SamStatusError):
    """A status byte that is not in the protocol table."""


#: SW3 -> (meaning, error class), from docs/protocols.md §1.4.
STATUS_TABLE: dict[int, tuple[str, type[SamStatusError]]] = {
    0x10: ("checksum error in the frame received from the host", CommandRejected),
    0x11: ("length error in the frame received from the host", CommandRejected),
    0x21: ("command error (bad values or combination)", CommandRejected),
    0x23: ("unauthorised operation", SamFault),
    0x24: ("unrecognised error", SamFault),
    0x31: ("the card failed to authenticate the SAM", CardAuthFailed),
    0x32: ("the SAM failed to authenticate the card", CardAuthFailed),
    0x33: ("information verification error", CardAuthFailed),
    0x40: ("unrecognised card type", WrongCard),
    0x41: ("read card failed", ReadFailed),
    0x47: ("get random number failed", ReadFailed),
    0x60: ("SAM self-test failed, accepts no command", SamFault),
    0x66: ("SAM not authorised", SamFault),
    0x80: ("find card failed: no card in the field", NoCard),
    0x81: ("select card failed", SelectFailed),
    0x91: ("the card holds no content for this item", NoContent),
}

#: Success meanings, for probes and logs.
OK_STATUS = {SW3_OK: "operation successful", SW3_FIND_OK: "find card successful"}


def status_error(response: Response) -> SamStatusError:
    """The typed error for a failure status (also for codes not in the table)."""
    meaning, cls = STATUS_TABLE.get(response.sw3, (f"unknown status code {response.sw3:02X}", UnknownStatus))
    return cls(response.sw3, meaning, response.sw1, response.sw2)


def check_status(response: Response, ok: frozenset[int] | set[int] | tuple[int, ...] = (SW3_OK,)) -> Response:
    """Return ``response`` if its SW3 is one of ``ok``, else raise the matching typed error.

    Raises:
        SamStatusError: a subclass chosen by :data:`STATUS_TABLE`; ``UnknownStatus`` (naming the
            code) for a code outside it, or a success code that this command does not expect.
    """
    if response.sw3 in ok:
        return response
    if response.sw3 in OK_STATUS:
        raise UnknownStatus(response.sw3, f"unexpected status {response.sw3:02X} for this command",
                            response.sw1, response.sw2)
    raise status_error(response)


@dataclass(frozen=True)
class CardData:
    """The blocks of a read-card response. The photo and fingerprint are opaque bytes."""

    text: bytes
    photo: bytes
    fingerprint: bytes

    def __repr__(self) -> str:
        return (f"CardData(text=<{len(self.text)} bytes>, photo=<{len(self.photo)} bytes>, "
                f"fingerprint=<{len(self.fingerprint)} bytes>)")


def split_card_data(data: bytes, fingerprint: bool) -> CardData:
    """Split the data of a ``30 01`` / ``30 10`` response into text, photo and fingerprint.

    Layout (docs/protocols.md §1.5): textLen(2) photoLen(2) [fpLen(2)] text photo [fingerprint],
    lengths big-endian.

    Args:
        data: response data after SW3.
        fingerprint: True for the ``30 10`` variant with the third length field.

    Raises:
        InvalidResponse: the lengths do not add up to the data, or the text is not 256 bytes.
    """
    fields = 3 if fingerprint else 2
    head = 2 * fields
    if len(data) < head:
        raise InvalidResponse(f"read response too short for its {fields} length fields ({len(data)} bytes)",
                              data[:head])
    sizes = [int.from_bytes(data[2 * i:2 * i + 2], "big") for i in range(fields)]
    if head + sum(sizes) != len(data):
        raise InvalidResponse(f"read response lengths {sizes} do not add up to {len(data) - head} data bytes",
                              data[:head])
    if sizes[0] != TEXT_SIZE:
        raise InvalidResponse(f"text block is {sizes[0]} bytes, expected {TEXT_SIZE}", data[:head])
    text = data[head:head + sizes[0]]
    photo = data[head + sizes[0]:head + sizes[0] + sizes[1]]
    fp = data[head + sizes[0] + sizes[1]:] if fingerprint else b""
    return CardData(text=text, photo=photo, fingerprint=fp)


def format_sam_id(data: bytes) -> str:
    """Format the 16 data bytes of the ``12 FF`` answer the way vendor tools print them.

    ``D2(b0) "." D2(b2) "-" int32LE(b4) "-" D9(int32LE(b8)) "-" D9(int32LE(b12))``
    (docs/protocols.md §1.10; the meaning of each part is unconfirmed).

    Raises:
        InvalidResponse: fewer than 16 bytes.
    """
    if len(data) < 16:
        raise InvalidResponse(f"SAM id needs 16 bytes, got {len(data)}", data)
    le = [int.from_bytes(data[i:i + 4], "little") for i in (4, 8, 12)]
    return f"{data[0]:02d}.{data[2]:02d}-{le[0]}-{le[1]:09d}-{le[2]:09d}"


