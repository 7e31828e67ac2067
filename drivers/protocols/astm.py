"""ASTM E1381 (low level, LIS1) framing and E1394 (LIS2) records, as glucometers send them.

Device facts (docs/protocols.md §4.7):

* A frame is ``STX FN text (ETB|ETX) C1 C2 CR LF``. ``FN`` is an ASCII digit; the first frame
  of a transfer is ``1``, then counting modulo 8 (``…7 0 1…``). ``text`` is at most 240
  characters; a longer record is split and its intermediate frames end with ETB, the last
  with ETX. ``C1 C2`` are two upper-case hex digits of the sum of the bytes from FN through
  ETB/ETX inclusive, modulo 256.
* Link control: the sender opens with ENQ, the receiver answers ACK (or NAK when busy); each
  frame is ACKed, or NAKed and sent again (the sender gives up after 6 tries); EOT ends.
* Records are lines ending with CR: ``H`` header, ``P`` patient, ``O`` order, ``R`` result,
  ``C`` comment, ``M`` manufacturer, ``Q`` request, ``L`` terminator. The header's first field
  names the delimiters: ``H|\\^&`` = field ``|``, repeat ``\\``, component ``^``, escape ``&``.
  Contour meters end every record frame with ETB and only the last with ETX, so a record
  boundary is the CR inside the text, not the ETX.

Frame parsing and record parsing are pure; :class:`LinkReceiver` runs the host side of the
link over any transport with ``read_exact``/``write`` (a :class:`drivers.base.SerialDevice`).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from drivers.errors import DeviceTimeout, InvalidChecksum, InvalidResponse
from drivers.readings import RangeFlag, Unit

ENQ, ACK, NAK, EOT = b"\x05", b"\x06", b"\x15", b"\x04"
STX, ETX, ETB = b"\x02", b"\x03", b"\x17"
CR, LF = b"\r", b"\n"
#: Longest text of one frame.
MAX_TEXT = 240
#: Longest whole frame: STX FN text end C1 C2 CR LF.
MAX_FRAME = MAX_TEXT + 7
#: A sender retransmits a NAKed frame at most this many times before aborting (E1381).
MAX_RETRIES = 6


def checksum(body: bytes) -> int:
    """Sum of the bytes from FN through ETB/ETX inclusive, modulo 256."""
    return sum(body) & 0xFF


def build_frame(fn: int, text: bytes, final: bool = True, *, corrupt: bool = False) -> bytes:
    """One E1381 frame.

    Args:
        fn: frame number; sent modulo 8.
        text: at most 240 bytes.
        final: end with ETX (last frame of a record) rather than ETB.
        corrupt: send a wrong checksum (simulators' fault injection).

    Raises:
        ValueError: text too long.
    """
    if len(text) > MAX_TEXT:
        raise ValueError(f"frame text is {len(text)} bytes, limit {MAX_TEXT}")
    body = str(fn % 8).encode() + text + (ETX if final else ETB)
    value = (checksum(body) + (1 if corrupt else 0)) & 0xFF
    return STX + body + f"{value:02X}".encode() + CR + LF


def build_record_frames(record: str, first_fn: int) -> list[bytes]:
    """Split one record (CR added) into frames of at most 240 characters.

    Returns:
        The frames; intermediate ones end with ETB, the last with ETX.
    """
    text = record.encode("latin-1") + CR
    chunks = [text[i:i + MAX_TEXT] for i in range(0, len(text), MAX_TEXT)]
    return [build_frame(first_fn + i, chunk, i == len(chunks) - 1) for i, chunk in enumerate(chunks)]


@dataclass(frozen=True)
class Frame:
    """A frame whose checksum matched."""

    fn: int
    text: bytes
    final: bool


_FRAME_RE = re.compile(rb"\x02([0-7])([^\x02\x03\x17]{0,240})([\x03\x17])([0-9A-Fa-f]{2})\r\n\Z", re.S)


def parse_frame(raw: bytes) -> Frame:
    """Check and decode one frame (STX through LF).

    Raises:
        InvalidResponse: not a frame (bad start, frame number, end, length, missing CR LF).
        InvalidChecksum: the checksum does not match.
    """
    match = _FRAME_RE.match(raw)
    if not match:
        raise InvalidResponse("not an ASTM frame", raw)
    fn, text, end, sent = match.groups()
    computed = checksum(fn + text + end)
    received = int(sent, 16)
    if received != computed:
        raise InvalidChecksum(raw, received, computed)
    return Frame(int(fn), text, end == ETX)


# -- E1394 records ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delimiters:
    """Field, repeat, component and escape delimiters named by the header."""

    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"


@dataclass(frozen=True)
class Header:
    """What an ``H`` record says about the meter."""

    delimiters: Delimiters
    product: str
    versions: tuple[str, ...]
    serial: str
    unit: Unit | None
    #: Measuring range in mg/dL from ``V=`` (e.g. 10600 → 10–600), when the meter sends it.
    range_mg_dl: tuple[int, int] | None
    record_count: int | None
    meter_time: datetime | None
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """An ``R`` record: one measurement."""

    seq: int
    test: str
    value: str
    unit: str
    method: str
    markers: tuple[str, ...]
    taken_at: datetime | None
    range_flag: RangeFlag | None


def parse_delimiters(record: str) -> Delimiters:
    """Delimiters from a header record's first five characters (``H|\\^&``).

    Raises:
        InvalidResponse: not a header, or delimiters that are not four distinct characters.
    """
    if len(record) < 5 or record[0] != "H":
        raise InvalidResponse(f"not a header record: {record[:40]!r}")
    chars = record[1:5]
    if len(set(chars)) != 4 or any(c.isalnum() or c in "\r\n" for c in chars):
        raise InvalidResponse(f"bad delimiters in header: {chars!r}")
    return Delimiters(*chars)


def _timestamp(text: str) -> datetime | None:
    """``YYYYMMDDHHMM[SS]`` → datetime; empty → None.

    Raises:
        InvalidResponse: any other text.
    """
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{12}([0-9]{2})?", text):
        raise InvalidResponse(f"bad ASTM timestamp {text!r}")
    try:
        return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                        int(text[10:12]), int(text[12:14] or 0))
    except ValueError as exc:
        raise InvalidResponse(f"impossible ASTM timestamp {text!r}") from exc


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def parse_header(record: str) -> Header:
    """Parse an ``H`` record (Contour layout: sender = product^versions^serial^sku).

    Raises:
        InvalidResponse: not a header, or malformed fields.
    """
    delims = parse_delimiters(record)
    fields = record.split(delims.field)
    sender = _field(fields, 4).split(delims.component)
    product = sender[0]
    versions = tuple(v for v in _field(sender, 1).split(delims.repeat) if v)
    serial = _field(sender, 2)
    settings: dict[str, str] = {}
    for item in _field(fields, 5).split(delims.component):
        key, sep, value = item.partition("=")
        if sep:
            settings[key] = value
    unit = {"0": Unit.MG_DL, "1": Unit.MMOL_L}.get(settings.get("U", ""))
    if "U" in settings and unit is None:
        raise InvalidResponse(f"unknown unit setting U={settings['U']!r}")
    range_mg_dl = None
    if settings.get("V"):
        # Contour packs low and high bounds into one number: 10600 = 10 .. 600 mg/dL.
        if not re.fullmatch(r"[0-9]{4,6}", settings["V"]):
            raise InvalidResponse(f"bad range setting V={settings['V']!r}")
        low, high = divmod(int(settings["V"]), 1000)
        if not 0 < low < high:
            raise InvalidResponse(f"bad range setting V={settings['V']!r}")
        range_mg_dl = (low, high)
    count_text = _field(fields, 6)
    if count_text and not count_text.isdigit():
        raise InvalidResponse(f"bad record count {count_text!r}")
    return Header(delims, product, versions, serial, unit, range_mg_dl,
                  int(count_text) if count_text else None, _timestamp(_field(fields, 13)), settings)


def parse_result(record: str, delims: Delimiters) -> Result:
    """Parse an ``R`` record such as ``R|8|^^^Glucose|133|mg/dL^P||B/X||201202052034``.

    Range flags: E1394 marks a value beyond the instrument's range with ``>`` (above) or ``<``
    (below) in the abnormal-flags field; a value field of ``HI``/``LO`` or ``>600``/``<10`` is
    read the same way. (Contour's own marker letters are [unconfirmed] and kept as markers.)

    Raises:
        InvalidResponse: not a result record, or malformed fields.
    """
    fields = record.split(delims.field)
    if fields[0] != "R" or len(fields) < 4:
        raise InvalidResponse(f"not a result record: {record[:60]!r}")
    if not fields[1].isdigit():
        raise InvalidResponse(f"bad result sequence number {fields[1]!r}")
    test = fields[2].split(delims.component)[-1]
    units = _field(fields, 4).split(delims.component)
    markers = tuple(m for m in _field(fields, 6).split("/") if m)
    value = fields[3]
    flag = None
    if ">" in markers or value.upper().startswith(("HI", ">")):
        flag = RangeFlag.HIGH
    elif "<" in markers or value.upper().startswith(("LO", "<")):
        flag = RangeFlag.LOW
    return Result(int(fields[1]), test, value, units[0], _field(units, 1), markers,
                  _timestamp(_field(fields, 8)), flag)


def record_type(record: str) -> str:
    """The record's type letter (``H``, ``P``, ``R``, ``L`` …); '' for an empty record."""
    return record[:1]


# -- link layer (host side) ----------------------------------------------------------------

class Transport(Protocol):
    """What :class:`LinkReceiver` needs from a port (a SerialDevice has all three)."""

    def read_exact(self, n: int, timeout: float | None = None) -> bytes: ...

    def write(self, data: bytes) -> None: ...


class TransferAborted(InvalidResponse):
    """The sender ended the transfer (EOT) before the message was complete, or NAKs ran out."""


class FrameReader:
    """Pure incremental frame decoder: feed bytes, get frames and link-control bytes.

    Bytes outside a frame that are not ENQ/EOT are garbage and are counted, then skipped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return complete items: ``ENQ``, ``EOT`` or whole raw frames (STX…LF).

        A raw frame returned here is not yet checked; pass it to :func:`parse_frame`.
        Raises nothing: an over-long frame is returned as is (parse_frame rejects it).
        """
        self._buf += data
        out: list[bytes] = []
        while self._buf:
            first = self._buf[:1]
            if first in (ENQ, EOT):
                out.append(bytes(first))
                del self._buf[:1]
            elif first == STX:
                end = self._buf.find(LF)
                if end < 0:
                    if len(self._buf) > MAX_FRAME:
                        out.append(bytes(self._buf))
                        self._buf.clear()
                    break
                out.append(bytes(self._buf[:end + 1]))
                del self._buf[:end + 1]
            else:
                self.garbage += 1
                del self._buf[:1]
        return out


class LinkReceiver:
    """The host side of one E1381 transfer: ENQ → ACK, frames ACK/NAK, EOT ends.

    Args:
        transport: the open port.
        timeout: seconds to wait for each byte before the meter counts as gone (E1381 allows 30 s;
            the driver passes its own shorter timeout).
    """

    def __init__(self, transport: Transport, timeout: float) -> None:
        self.transport = transport
        self.timeout = timeout
        self.naks_sent = 0

    def _next_item(self, reader: FrameReader, deadline: float) -> bytes:
        while True:
            items = reader.feed(b"")
            if items:
                return items[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransferAborted("the meter stopped sending in the middle of an ASTM transfer")
            try:
                byte = self.transport.read_exact(1, timeout=left)
            except DeviceTimeout:
                raise TransferAborted("the meter stopped sending in the middle of an ASTM transfer") from None
            items = reader.feed(byte)
            if items:
                return items[0]

    def wait_enq(self, timeout: float) -> None:
        """Wait for the meter's ENQ (skipping noise) and answer ACK.

        Raises:
            DeviceTimeout: no ENQ within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout("the meter did not start an ASTM transfer (no ENQ)")
            try:
                byte = self.transport.read_exact(1, timeout=left)
            except DeviceTimeout:
                raise DeviceTimeout("the meter did not start an ASTM transfer (no ENQ)") from None
            if byte == ENQ:
                self.transport.write(ACK)
                return

    def receive(self) -> list[str]:
        """After :meth:`wait_enq`: receive frames until EOT and return the records (no CR).

        Each frame with a good checksum and the expected number is ACKed; a bad checksum or an
        out-of-order number is NAKed (the meter sends it again); a repeat of the previous frame
        (our ACK was lost) is ACKed and dropped.

        Raises:
            TransferAborted: EOT before a terminator record, more than 6 NAKs for one frame, or
                the meter went quiet mid-transfer.
            ConnectionFailed: the port went away.
        """
        reader = FrameReader()
        expected = 1
        text = bytearray()
        records: list[str] = []
        naks_for_frame = 0
        while True:
            item = self._next_item(reader, time.monotonic() + self.timeout)
            if item == EOT:
                break
            if item == ENQ:
                # The meter restarted the transfer: start over.
                self.transport.write(ACK)
                expected, text, records = 1, bytearray(), []
                continue
            try:
                frame = parse_frame(item)
            except InvalidResponse as exc:
                naks_for_frame += 1
                self.naks_sent += 1
                if naks_for_frame > MAX_RETRIES:
                    raise TransferAborted(f"gave up after {naks_for_frame} bad frames: {exc}", item) from exc
                self.transport.write(NAK)
                continue
            if frame.fn == (expected - 1) % 8 and expected != 1:
                self.transport.write(ACK)
                continue
            if frame.fn != expected % 8:
                naks_for_frame += 1
                self.naks_sent += 1
                if naks_for_frame > MAX_RETRIES:
                    raise TransferAborted(f"frame number {frame.fn}, expected {expected % 8}", item)
                self.transport.write(NAK)
                continue
            naks_for_frame = 0
            expected += 1
            text += frame.text
            self.transport.write(ACK)
            while CR in text:
                line, _, rest = bytes(text).partition(CR)
                text = bytearray(rest)
                records.append(line.decode("latin-1"))
        if not records or record_type(records[-1]) != "L":
            raise TransferAborted(f"transfer ended after {len(records)} records without a terminator")
        return records


def check_message(records: list[str]) -> tuple[Header, list[Result]]:
    """The header and glucose results of a received message.

    Raises:
        InvalidResponse: no header first, or a malformed header/result.
    """
    if not records or record_type(records[0]) != "H":
        raise InvalidResponse(f"ASTM message does not start with a header: {records[:1]!r}")
    header = parse_header(records[0])
    results = [parse_result(r, header.delimiters) for r in records[1:] if record_type(r) == "R"]
    return header, results

