"""Framing of the Chinese OEM NIBP module with ":" / ">" frames (9600 8N1).

Source: hwy0606/STM32F103 (HARDWARE/Usart2_Protocol/usart2_protocol.c, comments), summarised in
docs/protocols.md §3.2. Whether this is SunTech's Advantage OEM protocol is a guess [unconfirmed].

* Host frames start with ``3A`` (":"), then an opcode and its arguments, then a checksum; their
  length follows from the opcode (``HOST_LENGTHS``).
* Module frames start with ``3E`` (">"); the second byte is the frame's total length.
* Checksum of both: the last byte makes the sum of all bytes of the frame 0 mod 256 [verified on
  every example in the source].

Module frames used here: the 4-byte status packets ``3E 04 <letter> <chk>`` (O = command
received, K = done, B = busy, A and S also exist: their meaning is not documented, A is taken as
"aborted" [unconfirmed]), cuff pressure ``3E 07 01 <p0 p1 p2> <chk>`` (pressure little-endian) and
the result ``3E 19 03 <21 data bytes> <chk>`` whose layout the source does not give: see
``parse_result``.
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import InvalidChecksum, InvalidResponse
from drivers.protocols.stream import StreamBuffer

HOST_SOF = 0x3A
MODULE_SOF = 0x3E

#: Host opcode -> total frame length (start, start with live pressure, 79 xx 00 queries, sleep, reset).
HOST_LENGTHS = {0x20: 3, 0x56: 3, 0x79: 5, 0x81: 7, 0x8A: 3}

# Module frame kinds (byte 2).
KIND_PRESSURE = 0x01
KIND_RESULT = 0x03
PACKET_O = ord("O")  # command received
PACKET_K = ord("K")  # measurement done
PACKET_B = ord("B")  # busy: send the command again
PACKET_A = ord("A")  # [unconfirmed] aborted
PACKET_S = ord("S")  # [unconfirmed] meaning not documented

RESULT_FRAME_LEN = 0x19
RESULT_DATA_LEN = RESULT_FRAME_LEN - 4

#: Result status word -> (meaning, user_key). [unconfirmed] The source does not document the
#: result record; this table is the project's assumption, shared with the simulator, until the
#: module's sheet arrives with a purchased device.
STATUS_CODES: dict[int, tuple[str, str]] = {
    0x01: ("weak or no pulse signal", "bp_weak_signal"),
    0x02: ("erratic signal (movement)", "bp_motion"),
    0x03: ("value out of the measuring range", "bp_implausible"),
    0x04: ("measurement took too long", "bp_measure_timeout"),
    0x05: ("air leak or loose cuff", "bp_cuff_leak"),
    0x06: ("over-pressure", "bp_over_pressure"),
}


def checksum(body: bytes) -> int:
    """The byte that makes ``body`` plus it sum to 0 mod 256."""
    return (-sum(body)) & 0xFF


def host_frame(payload: bytes) -> bytes:
    """``3A`` + payload + checksum (payload = opcode and arguments)."""
    body = bytes([HOST_SOF]) + payload
    return body + bytes([checksum(body)])


def module_frame(kind: int, data: bytes = b"") -> bytes:
    """``3E`` + total length + kind + data + checksum."""
    body = bytes([MODULE_SOF, len(data) + 4, kind]) + data
    return body + bytes([checksum(body)])


START = host_frame(b"\x20")               # 3A 20 A6: start adult measurement, no live pressure
START_LIVE = host_frame(b"\x56")          # 3A 56 70: start with live cuff pressure, result follows K
ABORT = host_frame(b"\x79\x01\x00")       # 3A 79 01 00 4C
GET_RESULT = host_frame(b"\x79\x03\x00")  # 3A 79 03 00 4A: last result
GET_PRESSURE = host_frame(b"\x79\x05\x00")  # 3A 79 05 00 48

PACKET_FRAMES = {letter: module_frame(letter) for letter in (PACKET_O, PACKET_K, PACKET_B, PACKET_A, PACKET_S)}


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``kind`` (module: byte 2; host: the opcode), the bytes after it, raw bytes."""

    kind: int
    data: bytes
    raw: bytes


class _Reader(StreamBuffer):
    """Shared incremental decoder: resync on the start byte, check the sum, hand out frames."""

    SOF: int

    def _length(self) -> int | None:
        raise NotImplementedError

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive.

        Raises:
            InvalidChecksum: a whole frame whose bytes do not sum to 0 (start byte dropped).
            InvalidResponse: a start byte followed by an impossible length or opcode (start dropped).
        """
        buf = self.buffer
        start = buf.find(self.SOF)
        if start < 0:
            self.skipped += len(buf)
            buf.clear()
            return None
        if start:
            self.skipped += start
            del buf[:start]
        if len(buf) < 2:
            return None
        total = self._length()
        if total is None:
            bad = bytes(buf[:2])
            del buf[:1]
            self.skipped += 1
            raise InvalidResponse("NIBP frame with an impossible length or opcode", bad)
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        if sum(raw) & 0xFF:
            # Drop only the start byte: if it was line noise, a real frame may start inside it.
            del buf[:1]
            self.skipped += 1
            raise InvalidChecksum(raw, raw[-1], checksum(raw[:-1]))
        del buf[:total]
        return self._frame(raw)

    def _frame(self, raw: bytes) -> Frame:
        raise NotImplementedError


class ModuleReader(_Reader):
    """Decodes module -> host frames (``3E len …``)."""

    SOF = MODULE_SOF

    def _length(self) -> int | None:
        n = self.buffer[1]
        return n if n >= 4 else None

    def _frame(self, raw: bytes) -> Frame:
        return Frame(raw[2], raw[3:-1], raw)


class HostReader(_Reader):
    """Decodes host -> module frames (``3A opcode …``), for the simulator."""

    SOF = HOST_SOF

    def _length(self) -> int | None:
        return HOST_LENGTHS.get(self.buffer[1])

    def _frame(self, raw: bytes) -> Frame:
        return Frame(raw[1], raw[2:-1], raw)


def parse_pressure(frame: Frame) -> int:
    """Cuff pressure in mmHg from a pressure frame (three bytes, low byte first, per the source).

    Raises:
        InvalidResponse: not three data bytes.
    """
    if len(frame.data) != 3:
        raise InvalidResponse("NIBP pressure frame must carry three bytes", frame.raw)
    return int.from_bytes(frame.data, "little")


def pressure_data(mmhg: int) -> bytes:
    """Data bytes of a pressure frame."""
    return mmhg.to_bytes(3, "little")


@dataclass(frozen=True)
class Result:
    """A decoded result record. ``status`` 0 means a valid measurement."""

    systolic: int
    diastolic: int
    mean: int
    pulse: int
    status: int


def parse_result(frame: Frame) -> Result:
    """Decode the 21-byte result record.

    [unconfirmed] Layout assumed by this project (little-endian like the pressure frame):
    bytes 0–1 SYS, 2–3 DIA, 4–5 MAP, 6–7 pulse, 8–9 status (0 = OK, see ``STATUS_CODES``),
    10–20 reserved.

    Raises:
        InvalidResponse: wrong record length.
    """
    d = frame.data
    if len(d) != RESULT_DATA_LEN:
        raise InvalidResponse(f"NIBP result record has {len(d)} bytes, expected {RESULT_DATA_LEN}", frame.raw)

    def u16(i: int) -> int:
        return int.from_bytes(d[i:i + 2], "little")

    return Result(u16(0), u16(2), u16(4), u16(6), u16(8))


def result_data(systolic: int, diastolic: int, pulse: int, status: int = 0) -> bytes:
    """A result record in the layout of :func:`parse_result` (MAP = DIA + (SYS - DIA) / 3)."""
    mean = diastolic + (systolic - diastolic) // 3
    fields = b"".join(v.to_bytes(2, "little") for v in (systolic, diastolic, mean, pulse, status))
    return fields + bytes(RESULT_DATA_LEN - len(fields))
