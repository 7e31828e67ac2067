"""Omron HBP-9030 professional upper-arm monitor, output "format 5" (function item 32).

Port: the monitor's USB Type-B (a USB-CDC serial port) or its RS-232 at 9600 baud, 8N1 (8N1 is
assumed [unconfirmed]). Supported: the monitor measures on its own (the person presses START) and
pushes one CSV line per reading; the driver waits for that line. Not supported: starting or
stopping a measurement from the kiosk (no command set is documented), so ``cancel`` only stops
waiting. Device timestamp (to the minute) comes from the line; there is no sequence number and no
serial number. Options: ``wait_s`` (seconds to wait for the person to measure, default 300).
"""
from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import ClassVar

from drivers.base import ProgressCallback, Recording
from drivers.bp_common import BpDevice, LineFormat, device_error
from drivers.errors import DeviceTimeout, InvalidResponse
from drivers.protocols import omron
from drivers.protocols.lines import LineReader
from drivers.readings import BloodPressureReading, Progress

__all__ = ["OmronHBP9030"]


class OmronHBP9030(BpDevice):
    """Omron HBP-9030 pushing format-5 lines."""

    NAME: ClassVar[str] = "omron-hbp9030"
    MODEL: ClassVar[str] = "Omron HBP-9030"
    BAUDRATE: ClassVar[int] = 9600
    SIMULATION = LineFormat(reading=lambda sys_, dia, pulse, when: omron.build_line(when, sys_, dia, pulse),
                            error=lambda when: omron.build_line(when, None, None, None, error=1),
                            systolic_at=lambda _line: 40)
    RECORDED = (Recording((128, 82, 71), device=(b"2025,03,14,09,05,                    ,0,128, 82, 71,0\r\n",)),)
    #: Default seconds to wait for the person to start and finish a measurement.
    WAIT_S: ClassVar[float] = 300.0

    def _device_measure(self, progress: ProgressCallback, cancel: threading.Event,
                        since: datetime | None) -> BloodPressureReading:
        wait_s = float(self.options.get("wait_s", self.WAIT_S))
        deadline = time.monotonic() + wait_s
        lines = LineReader(max_len=4 * omron.LINE_LEN)
        if since is not None and since.tzinfo is not None:
            since = since.astimezone().replace(tzinfo=None)   # the monitor's clock is local time
        noise: InvalidResponse | None = None
        progress(Progress("waiting"))
        while True:
            try:
                data = self._read_some(deadline, cancel, what="format-5 line")
            except DeviceTimeout as exc:
                if lines.pending:
                    raise InvalidResponse("Omron record cut off (no line end)",
                                          omron.redact(lines.pending)) from exc
                if noise is not None:
                    raise noise from exc
                raise
            lines.feed(data)
            while (line := lines.next_line()) is not None:
                if not line.strip():
                    continue
                try:
                    record = omron.parse_line(line)
                except omron.WrongFormat:
                    raise
                except InvalidResponse as exc:
                    # A short line is line noise (a cable plugged in, a monitor waking up); a
                    # record-sized line that does not parse is the reading, damaged.
                    if len(line) >= omron.LINE_LEN:
                        raise
                    noise = exc
                    continue
                # A line from before this measurement was asked for (left in a buffer) is stale;
                # the device clock has minute resolution.
                if since is not None and record.taken_at < since.replace(second=0, microsecond=0):
                    continue
                if record.error:
                    raise device_error(record.error, omron.ERROR_CODES)
                if None in (record.systolic, record.diastolic, record.pulse):
                    raise InvalidResponse("Omron record without values but error code 0",
                                          omron.redact(line))
                flags = frozenset({"body_movement"}) if record.movements else frozenset()
                return self._reading(record.systolic, record.diastolic, record.pulse,
                                     taken_at=record.taken_at, flags=flags)
