"""Visomat Double Comfort / Prevention DS-2200PV: memory records as ASCII lines.

Model: the Visomat upper-arm monitors whose memory records read ``yymmdd HHMM f SSS DDD PPP``
(date, time, a flag digit — possibly arrhythmia —, systolic, diastolic, pulse; docs/protocols.md
§3.4, from visomat-utils). Port: a serial or USB-CDC link at 9600 8N1 delivering one record per line
[unconfirmed: the source documents the records inside the USB memory dump, ``STX … ETX`` packets].
Supported: the monitor measures on its own and the newest record arrives as a line; the driver waits
for the first record line (the generic line monitor with this model's pattern). No error line is
documented: a failed measurement is silence until ``wait_s`` ends. The record's time and flag are
not used.
"""
from __future__ import annotations

from typing import ClassVar

from drivers.ascii_line import AsciiLine
from drivers.base import Recording
from drivers.bp_common import LineFormat

__all__ = ["VisomatDs2200"]


class VisomatDs2200(AsciiLine):
    """A Visomat DS-2200PV record line: ``yymmdd HHMM f SSS DDD PPP``."""

    NAME: ClassVar[str] = "visomat-ds2200"
    MODEL: ClassVar[str] = "Visomat Double Comfort / DS-2200PV"
    PATTERN: ClassVar[str] = r"\b\d{6} \d{4} \d (?P<sys>\d{3}) (?P<dia>\d{3}) (?P<pulse>\d{3})\b"
    ERROR_PATTERN: ClassVar[str] = ""
    SIMULATION = LineFormat(
        reading=lambda sys_, dia, pulse, when: f"{when:%y%m%d %H%M} 0 {sys_:03d} {dia:03d} {pulse:03d}\r\n".encode(),
        error=None,
        systolic_at=lambda line: 14)
    RECORDED = (Recording((128, 82, 71), device=(b"251114 0905 0 128 082 071\r\n",)),
                Recording((152, 94, 88), device=(b"251114 0912 1 152 094 088\r\n",)))
