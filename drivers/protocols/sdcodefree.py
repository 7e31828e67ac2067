"""SD Biosensor SD CodeFree binary protocol: packets, the session handshake, reading records.

Device facts (docs/protocols.md §4.5, from glucometerutils' sdcodefree driver): 38400 8N1.

* Packet: ``53 <dir> <len> <message> <xor> AA``; ``dir`` is ``20`` meter→host and ``10``
  host→meter; ``len`` = message length + 2 (it counts the xor byte and the ``AA``); ``xor`` is the
  XOR of the message bytes.
* The meter opens a session with the challenge ``53 20 04 10 30 20 AA`` (message ``10 30``); the
  host answers with message ``10 40``; the meter sends ``30 <count uint16 BE>`` padded with
  ``AA``; the host fetches each reading with message ``10 60``.
* A reading message: 2 unknown bytes, yy mm dd hh mi, value uint16 BE in mg/dL, meal flag
  (``00`` none, ``10`` before, ``20`` after), 7 unknown bytes.

Pure functions and a byte-stream decoder; the driver owns I/O.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import xor

from drivers.errors import InvalidChecksum, InvalidResponse
from drivers.readings import MealContext

SYNC = 0x53
END = 0xAA
DIR_TO_HOST = 0x20
DIR_TO_METER = 0x10
#: Longest message we accept (the count message is 22 bytes; readings are 17).
MAX_MESSAGE = 62

MSG_CHALLENGE = b"\x10\x30"
MSG_ANSWER = b"\x10\x40"
MSG_FETCH = b"\x10\x60"
#: The count message starts with this byte, followed by the count (uint16 BE).
COUNT_MARK = 0x30
READING_LENGTH = 17

MEAL_FLAGS = {0x00: None, 0x10: MealContext.BEFORE_MEAL, 0x20: MealContext.AFTER_MEAL}
_MEAL_BYTES = {v: k for k, v in MEAL_FLAGS.items()}
_READING = struct.Struct(">2s5BHB7s")


def xor_checksum(message: bytes) -> int:
    """XOR of the message bytes (0 for an empty message)."""
    return reduce(xor, message, 0)


def build_packet(message: bytes, direction: int = DIR_TO_METER, *, corrupt: bool = False) -> bytes:
    """A whole packet around ``message``.

    Args:
        message: the payload.
        direction: ``DIR_TO_METER`` (host) or ``DIR_TO_HOST`` (meter, for simulators).
        corrupt: send a wrong checksum (simulators' fault injection).
    """
    return bytes((SYNC, direction, len(message) + 2)) + message + bytes(
        (xor_checksum(message) ^ (0xFF if corrupt else 0), END))


@dataclass(frozen=True)
class Packet:
    """A packet whose checksum matched."""

    direction: int
    message: bytes


def parse_packet(raw: bytes) -> Packet:
    """Check and decode one whole packet.

    Raises:
        InvalidResponse: wrong start, direction, length or end byte.
        InvalidChecksum: the XOR does not match.
    """
    if len(raw) < 5 or raw[0] != SYNC:
        raise InvalidResponse("not an SD CodeFree packet", raw)
    if raw[1] not in (DIR_TO_HOST, DIR_TO_METER):
        raise InvalidResponse(f"unknown direction byte {raw[1]:#04x}", raw)
    if raw[2] < 2 or len(raw) != raw[2] + 3:
        raise InvalidResponse(f"length byte {raw[2]} does not match a {len(raw)}-byte packet", raw)
    if raw[-1] != END:
        raise InvalidResponse(f"packet ends with {raw[-1]:#04x}, not 0xaa", raw)
    message = bytes(raw[3:-2])
    computed = xor_checksum(message)
    if raw[-2] != computed:
        raise InvalidChecksum(raw, raw[-2], computed)
    return Packet(raw[1], message)


class PacketDecoder:
    """Incremental decoder: feed bytes, get whole raw packets; garbage before a packet is skipped.

    Garbage is counted in ``garbage``. A candidate start whose direction or length is
    impossible is treated as garbage too, so the decoder resynchronises on the next ``53``.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return complete raw packets (check them with :func:`parse_packet`)."""
        self._buf += data
        out: list[bytes] = []
        while self._buf:
            if self._buf[0] != SYNC:
                start = self._buf.find(SYNC)
                skip = len(self._buf) if start < 0 else start
                self.garbage += skip
                del self._buf[:skip]
                continue
            if len(self._buf) < 3:
                break
            if self._buf[1] not in (DIR_TO_HOST, DIR_TO_METER) or not 2 <= self._buf[2] <= MAX_MESSAGE + 2:
                self.garbage += 1
                del self._buf[:1]
                continue
            total = self._buf[2] + 3
            if len(self._buf) < total:
                break
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete packet still buffered."""
        return len(self._buf)


def parse_count(message: bytes) -> int:
    """The number of stored readings from the count message ``30 <uint16 BE> AA…``.

    Raises:
        InvalidResponse: not a count message.
    """
    if len(message) < 3 or message[0] != COUNT_MARK:
        raise InvalidResponse("not a reading-count message", message)
    return struct.unpack_from(">H", message, 1)[0]


def build_count(count: int) -> bytes:
    """The count message a meter sends (for simulators): ``30``, count, 19 bytes of ``AA``."""
    return bytes((COUNT_MARK,)) + struct.pack(">H", count) + b"\xAA" * 19


@dataclass(frozen=True)
class Record:
    """One stored reading (value always mg/dL; the meter keeps minutes, not seconds)."""

    taken_at: datetime
    mg_dl: int
    meal: MealContext | None


def parse_reading(message: bytes) -> Record:
    """Decode a 17-byte reading message.

    Raises:
        InvalidResponse: wrong length, unknown meal flag or an impossible date.
    """
    if len(message) != READING_LENGTH:
        raise InvalidResponse(f"reading message is {len(message)} bytes, expected {READING_LENGTH}", message)
    _, yy, mm, dd, hh, mi, value, meal, _ = _READING.unpack(message)
    if meal not in MEAL_FLAGS:
        raise InvalidResponse(f"unknown meal flag {meal:#04x}", message)
    try:
        taken_at = datetime(2000 + yy, mm, dd, hh, mi)
    except ValueError as exc:
        raise InvalidResponse("impossible date in reading", message) from exc
    return Record(taken_at, value, MEAL_FLAGS[meal])


def build_reading(taken_at: datetime, mg_dl: int, meal: MealContext | None = None) -> bytes:
    """A reading message as the meter sends it (for simulators and tests)."""
    return _READING.pack(b"\x00\x00", taken_at.year - 2000, taken_at.month, taken_at.day,
                         taken_at.hour, taken_at.minute, mg_dl, _MEAL_BYTES.get(meal, 0), b"\x00" * 7)
