"""Generic blood-pressure monitor that prints one ASCII line per reading (many table-top monitors
with a "PC output" or printer port).

Port: whatever the monitor uses; 9600 baud 8N1 by default (``--baud`` / ``baudrate`` in config).
Supported: the monitor measures on its own and prints a line; the driver waits for the first line
matching ``options["pattern"]``, a regular expression with named groups ``sys``, ``dia`` and
optionally ``pulse`` (searched anywhere in the line, so labels and units may surround the
numbers). Lines matching ``options["error_pattern"]`` (named group ``code``) become a device error.
Other lines (headers, blank lines) are skipped. Options: ``pattern``, ``error_pattern``,
``encoding`` (default ascii; undecodable bytes are replaced), ``wait_s`` (default 300).
No timestamp, sequence or serial number: a generic line does not carry them reliably.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from typing import ClassVar

from drivers.base import ProgressCallback, Recording
from drivers.bp_common import BpDevice, DriverConfigError, LineFormat, MonitorFault
from drivers.errors import DeviceTimeout, InvalidResponse
from drivers.protocols.lines import LineReader
from drivers.readings import BloodPressureReading, Progress
from drivers.idnumber import scrub_id_numbers

__all__ = ["AsciiLine", "compile_pattern", "parse_line"]

#: Default: "SYS 128 DIA 82 PUL 71", "SYS:128,DIA:82,PR:71" and similar labelled lines.
DEFAULT_PATTERN = (r"(?i)\bSYS\w*\s*[:=]?\s*(?P<sys>\d{2,3})\D+?DIA\w*\s*[:=]?\s*(?P<dia>\d{2,3})"
                   r"(?:\D+?(?:PUL|PR|HR|PULSE)\w*\s*[:=]?\s*(?P<pulse>\d{2,3}))?")
#: Default error line: "ERR 1", "E:03", "ERROR 12".
DEFAULT_ERROR_PATTERN = r"(?i)^\s*(?:ERR(?:OR)?|E)\s*[:#-]?\s*(?P<code>\d{1,3})\b"


def compile_pattern(pattern: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> re.Pattern:
    """Compile a configured expression and check its named groups.

    Raises:
        DriverConfigError: it does not compile, lacks a required group or has unknown groups.
    """
    try:
        rx = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise DriverConfigError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    groups = set(rx.groupindex)
    missing = [g for g in required if g not in groups]
    if missing:
        raise DriverConfigError(f"pattern {pattern!r} lacks the named group(s) {', '.join(missing)}")
    unknown = groups - set(required) - set(optional)
    if unknown:
        raise DriverConfigError(f"pattern {pattern!r} has unknown named group(s) {', '.join(sorted(unknown))}")
    return rx


def parse_line(text: str, pattern: re.Pattern, error_pattern: re.Pattern | None = None
               ) -> tuple[int, int, int | None] | None:
    """(systolic, diastolic, pulse or None) from one line, or None if it is not a reading.

    Raises:
        MonitorFault: the line matches ``error_pattern``.
        InvalidResponse: a group matched something that is not a whole number.
    """
    match = pattern.search(text)
    if match is None:
        if error_pattern is not None and (err := error_pattern.search(text)):
            code = err.group("code")
            line = scrub_id_numbers(text[:80])
            raise MonitorFault(code, f"monitor printed an error line: {line!r}")
        return None

    def number(name: str) -> int | None:
        raw = match.groupdict().get(name)
        if raw is None:
            return None
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
            raise InvalidResponse(f"group {name!r} matched {raw[:20]!r}, not a number",
                                  scrub_id_numbers(text[:80]).encode("utf-8", "replace"))
        return int(raw)

    sys_, dia = number("sys"), number("dia")
    if sys_ is None or dia is None:
        return None
    return sys_, dia, number("pulse")


class AsciiLine(BpDevice):
    """Any monitor printing one reading per line, matched with a configured regular expression."""

    NAME: ClassVar[str] = "ascii-line"
    MODEL: ClassVar[str] = "generic ASCII-line monitor"
    BAUDRATE: ClassVar[int] = 9600
    WAIT_S: ClassVar[float] = 300.0
    MAX_LINE: ClassVar[int] = 512
    #: The line patterns used when the config gives none (a model profile sets its own).
    PATTERN: ClassVar[str] = DEFAULT_PATTERN
    ERROR_PATTERN: ClassVar[str] = DEFAULT_ERROR_PATTERN
    SIMULATION = LineFormat(
        reading=lambda sys_, dia, pulse, _when: f"SYS:{sys_:3d} DIA:{dia:3d} PUL:{pulse:3d} mmHg\r\n".encode(),
        error=lambda _when: b"ERR 1\r\n",
        systolic_at=lambda line: line.index(b"SYS:") + 4)
    RECORDED = (Recording((128, 82, 71), device=(b"SYS:128 DIA: 82 PUL: 71 mmHg\r\n",)),
                Recording((145, 92, 66), device=(b"SYS 145, DIA 92, PR 66\r\n",)))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pattern = compile_pattern(self.options.get("pattern") or self.PATTERN, ("sys", "dia"), ("pulse",))
        err = self.options.get("error_pattern", self.ERROR_PATTERN)
        self.error_pattern = compile_pattern(err, ("code",)) if err else None
        self.encoding = self.options.get("encoding", "ascii")
        try:
            "".encode(self.encoding)
        except LookupError:
            raise DriverConfigError(f"unknown encoding {self.encoding!r}") from None

    def _device_measure(self, progress: ProgressCallback, cancel: threading.Event,
                        since: datetime | None) -> BloodPressureReading:
        deadline = time.monotonic() + float(self.options.get("wait_s", self.WAIT_S))
        lines = LineReader(max_len=self.MAX_LINE)
        unmatched: list[str] = []
        progress(Progress("waiting"))
        while True:
            try:
                data = self._read_some(deadline, cancel, what="reading line")
            except DeviceTimeout as exc:
                if lines.pending:
                    raise InvalidResponse("line cut off (no line end)",
                                          scrub_id_numbers(lines.pending[:80].decode(self.encoding, "replace"))
                                          .encode("utf-8", "replace")) from exc
                if unmatched:
                    last = scrub_id_numbers(unmatched[-1][:80])
                    raise InvalidResponse(
                        f"{len(unmatched)} line(s) did not match the pattern; last: {last!r}") from exc
                raise
            lines.feed(data)
            while (raw := lines.next_line()) is not None:
                text = raw.decode(self.encoding, "replace")
                if not text.strip():
                    continue
                values = parse_line(text, self.pattern, self.error_pattern)
                if values is None:
                    unmatched.append(text)
                    continue
                return self._reading(*values)
