"""LifeScan ASCII serial protocol (OneTouch Ultra / Ultra 2), framing and record parsing.

Device facts (docs/protocols.md §4.2, from glucometerutils' otultra2 driver and its tests):

* every command is sent as ``DC1 CR <cmd> CR`` (``11 0D … 0D``);
* every reply line is ``<text> <CCCC>`` ended by CR (the meter adds LF), where ``CCCC`` is four
  upper-case hex digits of the 16-bit sum of the text's bytes;
* ``DM?`` → ``?P02.00.00 30/08/06`` (firmware), ``DM@`` → ``@ "XXXXXXXXY"`` (serial, 9 characters,
  Ultra 2 serials end in ``Y``), ``DMP`` → a header ``P nnn,"SERIALNUM","MG/DL "`` then ``nnn``
  record lines ``P "DOW","MM/DD/YY","HH:MM:SS   ","C VVV?","M","CC", 00``.

Everything here is pure (bytes in, values out) so the parsers can be fuzzed; the driver owns I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from drivers.errors import InvalidChecksum, InvalidResponse
from drivers.readings import MealContext, Unit

DC1 = b"\x11"
CR = b"\r"
LF = b"\n"
#: Longest reply line the meter sends (a dump record is 61 characters with its checksum).
MAX_LINE = 128

CMD_FIRMWARE = "DM?"
CMD_SERIAL = "DM@"
CMD_DUMP = "DMP"

_LINE_RE = re.compile(rb"(?P<text>[\x20-\x7e]+) (?P<sum>[0-9A-F]{4})\r\n?\Z")
_FIRMWARE_RE = re.compile(r"\?(?P<version>[\x20-\x7e]{1,40})\Z")
_SERIAL_RE = re.compile(r'@ "(?P<serial>[A-Z0-9]{9})"\Z')
_HEADER_RE = re.compile(r'P (?P<count>[0-9]{3}),"(?P<serial>[A-Z0-9]{9})","(?P<unit>MG/DL |MMOL/L)"\Z')
_RECORD_RE = re.compile(
    r'P "(?P<dow>[A-Z]{3})","(?P<date>[0-9]{2}/[0-9]{2}/[0-9]{2})","(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})   ",'
    r'"(?P<control>[C ]) (?P<value>[0-9]{3})(?P<parity>[? ])","(?P<meal>[NBA])","(?P<comment>0[0-9]|1[01])", 00\Z')

# Meal marker letters: N none, B before the meal, A after the meal.
MEAL_CODES = {"N": None, "B": MealContext.BEFORE_MEAL, "A": MealContext.AFTER_MEAL}
#: Comment codes 00–11 from LifeScan's documentation.
COMMENT_CODES = {
    0: "", 1: "not enough food", 2: "too much food", 3: "mild exercise", 4: "hard exercise",
    5: "medication", 6: "stress", 7: "illness", 8: "feel hypo", 9: "menses", 10: "vacation", 11: "other",
}


def checksum(text: bytes) -> int:
    """16-bit sum of the bytes of ``text`` (what the meter appends to every reply line)."""
    return sum(text) & 0xFFFF


def command(cmd: str) -> bytes:
    """The bytes that send ``cmd`` (``DM?``, ``DMP`` …) to the meter: ``DC1 CR cmd CR``."""
    return DC1 + CR + cmd.encode("ascii") + CR


def encode_line(text: str, *, corrupt: bool = False) -> bytes:
    """A reply line as the meter sends it: text, space, 4-hex checksum, CR LF.

    Args:
        text: the printable ASCII text.
        corrupt: send a wrong checksum (for simulators' fault injection).
    """
    raw = text.encode("ascii")
    value = checksum(raw) ^ (0x0101 if corrupt else 0)
    return raw + b" " + f"{value:04X}".encode() + CR + LF


def decode_line(raw: bytes, prefix: bytes = b"") -> str:
    """Check a reply line's checksum and return its text.

    Garbage before the line (noise on the wire, a half line from an earlier reply) is skipped
    by starting at the last occurrence of ``prefix``.

    Args:
        raw: bytes up to and including CR (a leading LF of the previous line is ignored).
        prefix: how the expected reply starts (``b"@ "``, ``b"P "`` …); empty = whole line.

    Raises:
        InvalidResponse: no checksummed line (missing checksum, not ASCII, missing prefix).
        InvalidChecksum: the checksum does not match the text.
    """
    start = raw.rfind(prefix) if prefix else 0
    if start < 0:
        raise InvalidResponse(f"reply does not start with {prefix!r}", raw)
    line = raw[start:].lstrip(LF)
    match = _LINE_RE.match(line)
    if not match:
        raise InvalidResponse("reply line without a valid checksum", raw)
    text, received = match.group("text"), int(match.group("sum"), 16)
    computed = checksum(text)
    if received != computed:
        raise InvalidChecksum(raw, received, computed)
    return text.decode("ascii")


def parse_firmware(text: str) -> str:
    """``?P02.00.00 30/08/06`` → ``P02.00.00 30/08/06``.

    Raises:
        InvalidResponse: not a firmware reply.
    """
    match = _FIRMWARE_RE.match(text)
    if not match:
        raise InvalidResponse(f"not a firmware reply: {text!r}")
    return match.group("version")


def parse_serial(text: str) -> str:
    """``@ "XXXXXXXXY"`` → the 9-character serial number.

    Raises:
        InvalidResponse: not a serial-number reply.
    """
    match = _SERIAL_RE.match(text)
    if not match:
        raise InvalidResponse(f"not a serial-number reply: {text!r}")
    return match.group("serial")


@dataclass(frozen=True)
class DumpHeader:
    """First line of a ``DMP`` dump: record count, meter serial and display unit."""

    count: int
    serial: str
    unit: Unit


def parse_dump_header(text: str) -> DumpHeader:
    """``P 002,"XXXXXXXXY","MG/DL "`` → DumpHeader.

    Raises:
        InvalidResponse: not a dump header.
    """
    match = _HEADER_RE.match(text)
    if not match:
        raise InvalidResponse(f"not a dump header: {text!r}")
    unit = Unit.MG_DL if match.group("unit") == "MG/DL " else Unit.MMOL_L
    return DumpHeader(int(match.group("count")), match.group("serial"), unit)


@dataclass(frozen=True)
class DumpRecord:
    """One stored reading. The value is always mg/dL, whatever unit the meter displays."""

    taken_at: datetime
    mg_dl: int
    control: bool
    parity_error: bool
    meal: MealContext | None
    comment: str


def parse_dump_record(text: str) -> DumpRecord:
    """Parse one dump record line (without its checksum).

    Raises:
        InvalidResponse: the line is not a record or its date is impossible.
    """
    match = _RECORD_RE.match(text)
    if not match:
        raise InvalidResponse(f"not a dump record: {text!r}")
    month, day, year = (int(x) for x in match.group("date").split("/"))
    hour, minute, second = (int(x) for x in match.group("time").split(":"))
    try:
        # The meter stores a 2-digit year (+2000).
        taken_at = datetime(2000 + year, month, day, hour, minute, second)
    except ValueError as exc:
        raise InvalidResponse(f"impossible date in dump record: {text!r}") from exc
    return DumpRecord(
        taken_at=taken_at, mg_dl=int(match.group("value")), control=match.group("control") == "C",
        parity_error=match.group("parity") == "?", meal=MEAL_CODES[match.group("meal")],
        comment=COMMENT_CODES[int(match.group("comment"))])


def format_dump_record(taken_at: datetime, mg_dl: int, *, control: bool = False,
                       meal: MealContext | None = None, comment: int = 0) -> str:
    """The text of a dump record line (what a meter would send), for simulators and tests."""
    meal_code = {MealContext.BEFORE_MEAL: "B", MealContext.AFTER_MEAL: "A"}.get(meal, "N")
    dow = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[taken_at.weekday()]
    return (f'P "{dow}","{taken_at:%m/%d/%y}","{taken_at:%H:%M:%S}   ",'
            f'"{"C" if control else " "} {mg_dl:03d} ","{meal_code}","{comment:02d}", 00')


def format_dump_header(count: int, serial: str, unit: Unit = Unit.MG_DL) -> str:
    """The text of a dump header line, for simulators and tests."""
    return f'P {count:03d},"{serial}","{"MG/DL " if unit is Unit.MG_DL else "MMOL/L"}"'
