"""Omron HBP-9030 output "function item 32 / format 5": one CSV line of 53 bytes + CR LF per reading.

Source: leon80148/BP_checker (lib/BP_Parser.h, lib/ProtocolFramer.h, docs/compatibility.md),
community reverse-engineered, summarised in docs/protocols.md §3.1::

    YYYY,MM,DD,hh,mm,<subject ID, 20 chars>,E,SSS,DDD,PPP,M

E = error code digit (0 = OK), SSS/DDD/PPP = systolic, diastolic, pulse (digits, right-aligned;
three spaces on error), M = body-movement count digit. There is no checksum.

The subject-ID field may hold a person's ID number typed at the monitor: it is never kept, and
every error carries the line with that field masked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from drivers.errors import InvalidResponse
from drivers.messages import N_

LINE_LEN = 53
_FIELD_START, _FIELD_END = 17, 37

_FORMAT5 = re.compile(
    rb"(\d{4}),(\d\d),(\d\d),(\d\d),(\d\d),[\x20-\x2b\x2d-\x7e]{20},(\d),([ \d]{3}),([ \d]{3}),([ \d]{3}),(\d)\Z")
#: Starts of the monitor's other output formats (their layout is not documented).
OTHER_FORMATS = (b"MMBP203N", b"ID", b"bp,")
_LONG_RUN = re.compile(rb"[0-9A-Za-z]{10,}")

#: Error code digit -> (meaning, user_key). [unconfirmed] The community source documents only
#: "0 = OK"; these meanings follow Omron's professional monitors' usual Er1–Er5 list and are
#: shared with the simulator.
ERROR_CODES: dict[int, tuple[str, str]] = {
    1: ("cuff not wrapped or air leak", "bp_cuff_leak"),
    2: ("body movement or talking during the measurement", "bp_motion"),
    3: ("cuff over-inflated", "bp_over_pressure"),
    4: ("pulse not detected", "bp_weak_signal"),
    5: ("measurement took too long", "bp_measure_timeout"),
}


class WrongFormat(InvalidResponse):
    """The monitor prints one of its other output formats, not format 5."""

    user_key = "bp_wrong_format"
    user_message = N_("The blood-pressure monitor sends an unsupported format. Please ask staff to check its "
                      "settings.")


@dataclass(frozen=True)
class Format5Record:
    """One decoded line (without the subject ID). Values are None when the monitor left them blank."""

    taken_at: datetime
    error: int
    systolic: int | None
    diastolic: int | None
    pulse: int | None
    movements: int


def redact(line: bytes) -> bytes:
    """The line with the subject-ID field and any long alphanumeric run masked, for error evidence."""
    out = bytearray(line)
    if len(out) >= _FIELD_END:
        out[_FIELD_START:_FIELD_END] = b"*" * (_FIELD_END - _FIELD_START)
    return _LONG_RUN.sub(lambda m: b"*" * len(m.group(0)), bytes(out))


def build_line(taken_at: datetime, systolic: int | None, diastolic: int | None, pulse: int | None,
               error: int = 0, movements: int = 0, subject: str = "") -> bytes:
    """A format-5 line with CR LF, as the monitor prints it (for the simulator and tests)."""

    def num(v: int | None) -> str:
        return "   " if v is None else f"{v:>3d}"

    text = (f"{taken_at:%Y,%m,%d,%H,%M},{subject:<20.20},{error:d},{num(systolic)},{num(diastolic)},"
            f"{num(pulse)},{movements:d}")
    return text.encode("ascii") + b"\r\n"


def parse_line(line: bytes) -> Format5Record:
    """Decode one line (CR/LF already stripped). Bytes before the record (line noise) are skipped.

    Raises:
        WrongFormat: the line is one of the monitor's other formats.
        InvalidResponse: anything else that is not a format-5 record (evidence redacted).
    """
    stripped = line.strip()
    if stripped.startswith(OTHER_FORMATS):
        raise WrongFormat("monitor is not set to output format 5 (function item 32)", redact(stripped[:16]))
    match = None
    if len(line) >= LINE_LEN:
        match = _FORMAT5.match(line, len(line) - LINE_LEN)
    if match is None:
        raise InvalidResponse(f"not an Omron format-5 record ({len(line)} bytes)", redact(line))
    year, month, day, hour, minute, err, s, d, p, moves = match.groups()
    try:
        taken_at = datetime(int(year), int(month), int(day), int(hour), int(minute))
    except ValueError as exc:
        raise InvalidResponse(f"impossible date in Omron record: {exc}", redact(match.group(0))) from None

    def value(field: bytes) -> int | None:
        text = field.strip()
        if not text:
            return None
        if not text.isdigit():
            raise InvalidResponse("spaces inside a number in an Omron record", redact(match.group(0)))
        return int(text)

    return Format5Record(taken_at, int(err), value(s), value(d), value(p), int(moves))
