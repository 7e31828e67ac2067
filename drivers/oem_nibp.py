"""Chinese OEM NIBP module with ":" / ">" frames (possibly SunTech Advantage-compatible [unconfirmed]).

Port: 9600 baud, 8N1 (TTL UART, usually behind a USB-serial adapter).
Supported: start with live cuff pressure (``3A 56 70``), busy retry, abort on cancel
(``3A 79 01 00 4C``), live cuff pressure, result after the "K" packet (asked for with
``3A 79 03 00 4A`` if the module does not send it by itself), result status codes. The module
reports no timestamp, sequence number or serial number. Framing: ``drivers/protocols/nibp.py``;
the result-record layout and its status codes are [unconfirmed] (documented there).
"""
from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import ClassVar

from drivers.base import ProgressCallback, Recording
from drivers.bp_common import BpDevice, MonitorFault, PressureTracker, device_error
from drivers.errors import DeviceTimeout, DriverError, InvalidResponse, MeasurementCancelled
from drivers.protocols import nibp
from drivers.readings import BloodPressureReading, Progress

__all__ = ["OemNibp"]


def _is_result(raw: bytes) -> bool:
    """A damaged frame that has the result's kind and length is the lost result, not noise."""
    return raw[1] == nibp.RESULT_FRAME_LEN and raw[2] == nibp.KIND_RESULT


class OemNibp(BpDevice):
    """OEM NIBP module: the kiosk starts the measurement, follows the cuff and reads the result."""

    NAME: ClassVar[str] = "oem-nibp"
    MODEL: ClassVar[str] = "OEM NIBP module (:/> protocol)"
    BAUDRATE: ClassVar[int] = 9600
    SIMULATION = "oem-nibp"
    #: docs/protocols.md §3.2: start with live pressure, "O", cuff pressure 60, 142, 60 mmHg, "K",
    #: and the result 128/82 (MAP 97) pulse 71 status 0 [layout unconfirmed].
    RECORDED = (Recording((128, 82, 71), exchanges=(
        (bytes.fromhex("3a 56 70"), (bytes.fromhex("3e 04 4f 6f"),
                                     bytes.fromhex("3e 07 01 3c 00 00 7e"),
                                     bytes.fromhex("3e 07 01 8e 00 00 2c"),
                                     bytes.fromhex("3e 07 01 3c 00 00 7e"),
                                     bytes.fromhex("3e 04 4b 73"),
                                     bytes.fromhex("3e 19 03 80 00 52 00 61 00 47 00 00 00" + " 00" * 11 + " 2c"))),)),)
    #: Seconds to wait for the "O" packet after a command.
    ACK_TIMEOUT: ClassVar[float] = 2.0
    #: Seconds to wait for the result the module sends after "K" before asking for it.
    RESULT_WAIT: ClassVar[float] = 1.0
    #: How often a "B" (busy) answer makes the driver send the start command again.
    BUSY_RETRIES: ClassVar[int] = 3
    BUSY_PAUSE: ClassVar[float] = 0.5

    def _next(self, reader: nibp.ModuleReader, deadline: float, cancel: threading.Event,
              what: str) -> nibp.Frame:
        return self._next_frame(reader, deadline, cancel, self._abort, what, _is_result)

    def _abort(self) -> None:
        """Send abort and take the module's "O" off the line, so the next start sees its own."""
        self.write(nibp.ABORT)
        reader = nibp.ModuleReader()
        deadline = time.monotonic() + self.ACK_TIMEOUT
        try:
            while self._next_frame(reader, deadline, threading.Event(), None, "abort acknowledgement",
                                   lambda raw: False).kind != nibp.PACKET_O:
                pass
        except DriverError:
            pass   # best effort: the measurement has failed already

    def _device_measure(self, progress: ProgressCallback, cancel: threading.Event,
                        since: datetime | None) -> BloodPressureReading:
        reader = nibp.ModuleReader()
        self._discard_input()
        self._start(reader, cancel)
        progress(Progress("inflating", 0))
        try:
            return self._follow(reader, progress, cancel)
        except (DeviceTimeout, InvalidResponse):
            try:
                self._abort()   # do not leave the cuff inflated
            except DriverError:
                pass
            raise

    def _start(self, reader: nibp.ModuleReader, cancel: threading.Event) -> None:
        for attempt in range(self.BUSY_RETRIES + 1):
            self.write(nibp.START_LIVE)
            deadline = time.monotonic() + self.ACK_TIMEOUT
            frame = self._next(reader, deadline, cancel, "acknowledgement of start")
            while frame.kind == nibp.KIND_PRESSURE:   # a late pressure frame of an earlier run
                frame = self._next(reader, deadline, cancel, "acknowledgement of start")
            if frame.kind == nibp.PACKET_O:
                return
            if frame.kind != nibp.PACKET_B:
                raise InvalidResponse(f"NIBP module answered start with {frame.raw[:3].hex(' ')}", frame.raw)
            # "B": the module is busy; the source says to send the command again.
            if attempt < self.BUSY_RETRIES and cancel.wait(self.BUSY_PAUSE):
                raise MeasurementCancelled(f"measurement on {self.port_url} cancelled")
        raise MonitorFault("B", "module stays busy")

    def _follow(self, reader: nibp.ModuleReader, progress: ProgressCallback,
                cancel: threading.Event) -> BloodPressureReading:
        track = PressureTracker(progress)
        overall = time.monotonic() + self.MEASURE_TIMEOUT
        done = False
        asked = False
        while True:
            wait = self.RESULT_WAIT if done and not asked else self.FRAME_TIMEOUT
            deadline = min(overall, time.monotonic() + wait)
            try:
                frame = self._next(reader, deadline, cancel, "pressure or result")
            except DeviceTimeout:
                if not done or asked:
                    raise
                self.write(nibp.GET_RESULT)   # 3A 79 03 00 4A
                asked = True
                continue
            if frame.kind == nibp.KIND_PRESSURE:
                track(nibp.parse_pressure(frame))
            elif frame.kind == nibp.PACKET_K:
                done = True
                progress(Progress("done"))
            elif frame.kind == nibp.KIND_RESULT:
                result = nibp.parse_result(frame)
                if result.status:
                    raise device_error(result.status, nibp.STATUS_CODES)
                return self._reading(result.systolic, result.diastolic, result.pulse)
            elif frame.kind == nibp.PACKET_A:
                raise MonitorFault("A", "module aborted the measurement")
            elif frame.kind not in (nibp.PACKET_O, nibp.PACKET_S):
                raise InvalidResponse(f"unexpected NIBP frame kind {frame.kind:#04x}", frame.raw)
