""""Maibobo" blood-pressure module (Chinese OEM board), binary ``CC 80`` / ``AA 80`` XOR frames.

Port: 9600 baud, 8N1 (TTL UART, usually behind a USB-serial adapter).
Supported: connect handshake on open, start, stop (on cancel), live cuff pressure while inflating
and deflating, result (SYS, DIA, pulse) and the module's error codes (over-pressure, cuff leak,
sensor, deflation, system leak, motor). The module reports no timestamp, sequence number or
serial number. Framing: ``drivers/protocols/maibobo.py`` (the result offset is [unconfirmed]).
"""
from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import ClassVar

from drivers.base import ProgressCallback, Recording
from drivers.bp_common import BpDevice, PressureTracker, device_error
from drivers.errors import DeviceTimeout, DriverError, InvalidResponse
from drivers.protocols import maibobo as proto
from drivers.readings import BloodPressureReading, Progress

__all__ = ["Maibobo"]


def _is_result(raw: bytes) -> bool:
    """A damaged frame that has the result's type and length is the lost result, not noise."""
    return raw[4:6] == proto.RESULT.to_bytes(2, "big") and raw[3] == proto.RESULT_DATA_LEN + 2


class Maibobo(BpDevice):
    """Maibobo BP module: the kiosk starts the measurement and receives pressure and result."""

    NAME: ClassVar[str] = "maibobo"
    MODEL: ClassVar[str] = "Maibobo BP module"
    BAUDRATE: ClassVar[int] = 9600
    SIMULATION = "maibobo"
    #: docs/protocols.md §3.3: connect and its acknowledgement; start, its acknowledgement, cuff
    #: pressure 60, 158, 100 mmHg and the result 128/82/71 (seven undocumented bytes, then SYS, DIA,
    #: pulse as uint16 big-endian).
    RECORDED = (Recording((128, 82, 71), exchanges=(
        (bytes.fromhex("cc 80 03 03 01 01 00 00"), (bytes.fromhex("aa 80 03 03 01 01 00 00"),)),
        (bytes.fromhex("cc 80 03 03 01 02 00 03"), (bytes.fromhex("aa 80 03 03 01 02 00 03"),
                                                    bytes.fromhex("aa 80 03 04 01 05 00 3c 3f"),
                                                    bytes.fromhex("aa 80 03 04 01 05 00 9e 9d"),
                                                    bytes.fromhex("aa 80 03 04 01 05 00 64 67"),
                                                    bytes.fromhex("aa 80 03 0f 01 06 00 00 00 00 00 00 00 00"
                                                                  " 80 00 52 00 47 9e"))))),)
    #: Seconds to wait for the acknowledgement of a command.
    ACK_TIMEOUT: ClassVar[float] = 2.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reader = proto.FrameReader(proto.DEVICE_HEADER)

    def _device_open(self) -> None:
        self._reader = proto.FrameReader(proto.DEVICE_HEADER)
        self._command(proto.CONNECT, threading.Event())

    def _next(self, deadline: float, cancel: threading.Event, what: str) -> proto.Frame:
        """The next frame from the module; STOP is sent when ``cancel`` is set."""
        return self._next_frame(self._reader, deadline, cancel, self._stop, what, _is_result)

    def _stop(self) -> None:
        self.write(proto.host_frame(proto.STOP))   # CC 80 03 03 01 03 00 02

    def _command(self, type_: int, cancel: threading.Event) -> None:
        """Send a command and wait for its echo; an ERROR frame instead raises the module's error."""
        self.write(proto.host_frame(type_))
        deadline = time.monotonic() + self.ACK_TIMEOUT
        while True:
            frame = self._next(deadline, cancel, f"acknowledgement of command {type_:04x}")
            if frame.type == type_:
                return
            if frame.type == proto.ERROR:
                raise device_error(proto.parse_error(frame), proto.ERROR_CODES)
            # Anything else (a late pressure frame of an earlier run) is skipped.

    def _device_measure(self, progress: ProgressCallback, cancel: threading.Event,
                        since: datetime | None) -> BloodPressureReading:
        # The module only speaks when spoken to: whatever is left over belongs to an earlier run.
        self._reader = proto.FrameReader(proto.DEVICE_HEADER)
        self._discard_input()
        self._command(proto.START, cancel)
        progress(Progress("inflating", 0))
        try:
            return self._follow(progress, cancel)
        except (DeviceTimeout, InvalidResponse):
            try:
                self._stop()   # do not leave the cuff inflated
            except DriverError:
                pass
            raise

    def _follow(self, progress: ProgressCallback, cancel: threading.Event) -> BloodPressureReading:
        track = PressureTracker(progress)
        overall = time.monotonic() + self.MEASURE_TIMEOUT
        while True:
            deadline = min(overall, time.monotonic() + self.FRAME_TIMEOUT)
            frame = self._next(deadline, cancel, "pressure or result")
            if frame.type == proto.PRESSURE:
                track(proto.parse_pressure(frame))
            elif frame.type == proto.RESULT:
                sys_, dia, pulse = proto.parse_result(frame)
                return self._reading(sys_, dia, pulse)
            elif frame.type == proto.ERROR:
                raise device_error(proto.parse_error(frame), proto.ERROR_CODES)
            elif frame.type not in (proto.START, proto.CONNECT, proto.STOP):
                raise InvalidResponse(f"unexpected Maibobo frame type {frame.type:04x}", frame.raw)
