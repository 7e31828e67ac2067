"""Framing of the "Maibobo" BP module protocol (9600 8N1), for the driver and its simulator.

Source: zrr1999/maibobo (maibobo/engine.py), summarised in docs/protocols.md §3.3.

Frame (both directions)::

    <header 2> 03 <len> <type_hi> <type_lo> <data…> <xor>

* header: ``CC 80`` from the host, ``AA 80`` from the module;
* ``03`` is a constant protocol byte; ``len`` = number of data bytes + 2 (the type);
* ``xor`` is the XOR of every byte after the header (``03``, ``len``, type and data).

Commands carry one data byte ``00``; the module acknowledges a command by echoing its type with
data ``00``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from drivers.errors import InvalidChecksum, InvalidResponse
from drivers.protocols.stream import StreamBuffer

HOST_HEADER = b"\xcc\x80"
DEVICE_HEADER = b"\xaa\x80"
PROTOCOL_BYTE = 0x03

# Frame types (type_hi << 8 | type_lo).
CONNECT = 0x0101
START = 0x0102
STOP = 0x0103
PRESSURE = 0x0105   # data: current cuff pressure, uint16 big-endian, mmHg
RESULT = 0x0106     # data: see parse_result
ERROR = 0x0107      # data: one error code byte, see ERROR_CODES

#: Error codes of the ERROR frame -> (meaning, user_key); the meanings are the source's Chinese
#: messages in English.
ERROR_CODES: dict[int, tuple[str, str]] = {
    0x01: ("over-pressure protection", "bp_over_pressure"),
    0x02: ("signal error or upstream cuff leak", "bp_cuff_leak"),
    0x05: ("signal error or downstream cuff leak", "bp_cuff_leak"),
    0x06: ("signal error or sensor fault", "bp_weak_signal"),
    0x09: ("abnormal deflation", "bp_device_fault"),
    0x0F: ("system air leak", "bp_cuff_leak"),
    0x10: ("motor fault", "bp_device_fault"),
}

#: Offset of SYS, DIA, pulse (three uint16 big-endian) inside the RESULT data. [unconfirmed] The
#: source reads them at data offset 7 in one function and at offset 10 in another; 7 is the one
#: whose frame indexing matches the documented layout. The seven leading bytes are not documented
#: and are ignored. The simulator sends the same layout.
RESULT_VALUES_OFFSET = 7
RESULT_DATA_LEN = RESULT_VALUES_OFFSET + 6

#: Longest frame: header 2 + 03 + len + 255 bytes + xor.
MAX_FRAME = 2 + 2 + 255 + 1


def xor(data: bytes) -> int:
    """XOR of all bytes (0 for none)."""
    return reduce(lambda a, b: a ^ b, data, 0)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its 16-bit type and data bytes, plus the raw bytes for evidence."""

    type: int
    data: bytes
    raw: bytes


def build(header: bytes, type_: int, data: bytes = b"\x00") -> bytes:
    """Build a frame.

    Args:
        header: ``HOST_HEADER`` or ``DEVICE_HEADER``.
        type_: 16-bit frame type (``START`` …).
        data: payload (commands send one ``00`` byte).

    Raises:
        ValueError: payload longer than the length byte allows (a programming error).
    """
    if len(data) > 253:
        raise ValueError("payload too long for the length byte")
    body = bytes([PROTOCOL_BYTE, len(data) + 2, type_ >> 8, type_ & 0xFF]) + data
    return header + body + bytes([xor(body)])


def host_frame(type_: int, data: bytes = b"\x00") -> bytes:
    """A host -> module frame (``CC 80 …``)."""
    return build(HOST_HEADER, type_, data)


def device_frame(type_: int, data: bytes = b"\x00") -> bytes:
    """A module -> host frame (``AA 80 …``)."""
    return build(DEVICE_HEADER, type_, data)


class FrameReader(StreamBuffer):
    """Incremental decoder: feed bytes as they arrive, take frames out one by one.

    Bytes before a header are skipped (counted in ``skipped``). A bad checksum or an impossible
    length byte raises from :meth:`next_frame` after dropping only the first header byte, so a real
    frame that starts inside line noise is still found on the next call.

    Args:
        header: the header to look for (``DEVICE_HEADER`` in the driver, ``HOST_HEADER`` in the
            simulator).
    """

    def __init__(self, header: bytes = DEVICE_HEADER) -> None:
        super().__init__()
        self.header = header

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive.

        Raises:
            InvalidChecksum: a whole frame arrived but its XOR does not match (header byte dropped).
            InvalidResponse: a header followed by a wrong protocol byte or length (header dropped).
        """
        buf = self.buffer
        start = buf.find(self.header)
        if start < 0:
            # Keep a last byte that may be the first half of a header.
            keep = 1 if buf[-1:] == self.header[:1] else 0
            self.skipped += len(buf) - keep
            del buf[:len(buf) - keep]
            return None
        if start:
            self.skipped += start
            del buf[:start]
        if len(buf) < 4:
            return None
        if buf[2] != PROTOCOL_BYTE or buf[3] < 2:
            bad = bytes(buf[:4])
            del buf[:1]
            self.skipped += 1
            raise InvalidResponse("Maibobo frame with a bad protocol or length byte", bad)
        total = 4 + buf[3] + 1
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        computed = xor(raw[2:-1])
        if computed != raw[-1]:
            # Drop only the header: if it was line noise, a real frame may start inside it.
            del buf[:1]
            self.skipped += 1
            raise InvalidChecksum(raw, raw[-1], computed)
        del buf[:total]
        return Frame((raw[4] << 8) | raw[5], raw[6:-1], raw)


def parse_pressure(frame: Frame) -> int:
    """Cuff pressure in mmHg from a PRESSURE frame.

    Raises:
        InvalidResponse: fewer than two data bytes.
    """
    if len(frame.data) < 2:
        raise InvalidResponse("Maibobo pressure frame too short", frame.raw)
    return int.from_bytes(frame.data[:2], "big")


def parse_result(frame: Frame) -> tuple[int, int, int]:
    """(systolic, diastolic, pulse) from a RESULT frame.

    Raises:
        InvalidResponse: the data is shorter than the result layout.
    """
    if len(frame.data) < RESULT_DATA_LEN:
        raise InvalidResponse(f"Maibobo result has {len(frame.data)} data bytes, expected {RESULT_DATA_LEN}",
                              frame.raw)
    v = frame.data[RESULT_VALUES_OFFSET:RESULT_DATA_LEN]
    return (int.from_bytes(v[0:2], "big"), int.from_bytes(v[2:4], "big"), int.from_bytes(v[4:6], "big"))


def result_data(systolic: int, diastolic: int, pulse: int) -> bytes:
    """RESULT data for the simulator and tests (the undocumented leading bytes are zero)."""
    return (bytes(RESULT_VALUES_OFFSET) + systolic.to_bytes(2, "big") + diastolic.to_bytes(2, "big")
            + pulse.to_bytes(2, "big"))


def parse_error(frame: Frame) -> int:
    """The error code byte of an ERROR frame.

    Raises:
        InvalidResponse: no data byte.
    """
    if not frame.data:
        raise InvalidResponse("Maibobo error frame without a code", frame.raw)
    return frame.data[0]
