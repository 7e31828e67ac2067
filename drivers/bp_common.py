"""What every blood-pressure driver shares: the plausibility rule, the read loop, typed errors.

The model modules (``omron_hbp9030``, ``maibobo``, ``oem_nibp``, ``ascii_line``) derive from
:class:`BpDevice`; framing lives in ``drivers/protocols/``. Nothing here knows a wire format.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import serial

from drivers.base import MeasurementDevice, ProgressCallback
from drivers.errors import (ConnectionFailed, DeviceReportedError, DeviceTimeout, DriverError,
                            InvalidChecksum, InvalidResponse, MeasurementCancelled, MeasurementRejected)
from drivers.readings import BloodPressureReading, DeviceInfo, Progress
from drivers.messages import N_

#: Plausibility limits (mmHg, beats/min) also used by the BP_checker project for the HBP-9030;
#: a reading outside them is a failed measurement, not a health finding.
SYSTOLIC_RANGE = (60, 260)
DIASTOLIC_RANGE = (30, 215)
PULSE_RANGE = (40, 180)


class ImplausibleReading(MeasurementRejected):
    """Values decoded fine but lie outside the plausibility limits: the person measures again.

    Args:
        message: which value was out of range.
        systolic, diastolic, pulse: the decoded values, kept for logs and probes.
    """

    user_key = "bp_implausible"
    user_message = N_("This reading does not look right. Please rest a moment and measure again.")

    def __init__(self, message: str, systolic: int, diastolic: int, pulse: int | None) -> None:
        self.systolic, self.diastolic, self.pulse = systolic, diastolic, pulse
        super().__init__(f"{message} ({systolic}/{diastolic} mmHg, pulse {pulse})")


class DriverConfigError(DriverError, ValueError):
    """A driver option is wrong (for example a regular expression that does not compile)."""

    user_key = "bp_config"
    user_message = N_("The blood-pressure monitor is not set up correctly. Please ask staff for help.")


def check_plausible(systolic: int, diastolic: int, pulse: int | None) -> None:
    """Apply the plausibility limits SYS 60–260, DIA 30–215, pulse 40–180, SYS > DIA.

    Raises:
        ImplausibleReading: naming the first value that fails.
    """
    if not SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]:
        raise ImplausibleReading("systolic out of range 60-260", systolic, diastolic, pulse)
    if not DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]:
        raise ImplausibleReading("diastolic out of range 30-215", systolic, diastolic, pulse)
    if pulse is not None and not PULSE_RANGE[0] <= pulse <= PULSE_RANGE[1]:
        raise ImplausibleReading("pulse out of range 40-180", systolic, diastolic, pulse)
    if systolic <= diastolic:
        raise ImplausibleReading("systolic not above diastolic", systolic, diastolic, pulse)


# -- what a monitor's own error codes mean for the person (protocol tables name them by user_key) --
class CuffLeak(DeviceReportedError):
    """The cuff leaks or is not wrapped."""

    user_key = "bp_cuff_leak"
    user_message = N_("The cuff is leaking air or is loose. Please wrap the cuff again and measure again.")


class BodyMovement(DeviceReportedError):
    """Movement or talking disturbed the measurement."""

    user_key = "bp_motion"
    user_message = N_("Movement disturbed the measurement. Please sit still, do not talk, and measure again.")


class OverPressure(DeviceReportedError):
    """The monitor stopped at its over-pressure limit."""

    user_key = "bp_over_pressure"
    user_message = N_("The cuff pressure went too high and the monitor stopped. Please measure again.")


class WeakSignal(DeviceReportedError):
    """No usable pulse signal."""

    user_key = "bp_weak_signal"
    user_message = N_("The pulse could not be detected. Please check the cuff position and measure again.")


class MeasurementTooLong(DeviceReportedError):
    """The monitor gave up because the measurement took too long."""

    user_key = "bp_measure_timeout"
    user_message = N_("The measurement took too long. Please rest a moment and measure again.")


class OutOfMeasuringRange(DeviceReportedError):
    """The monitor reports a value outside its measuring range."""

    user_key = "bp_implausible"
    user_message = ImplausibleReading.user_message


class MonitorFault(DeviceReportedError):
    """Any other fault the monitor reports (motor, valve, an unknown code)."""

    user_key = "bp_device_fault"
    user_message = N_("The blood-pressure monitor has a fault. Please ask staff for help.")


_REPORTED = {cls.user_key: cls for cls in (CuffLeak, BodyMovement, OverPressure, WeakSignal, MeasurementTooLong,
                                           OutOfMeasuringRange, MonitorFault)}


def device_error(code: int | str, table: dict[int, tuple[str, str]]) -> DeviceReportedError:
    """The typed error for a monitor's error code, from a protocol's ``code -> (meaning, user_key)``
    table; an unknown code is a :class:`MonitorFault`."""
    meaning, key = table.get(code, (f"unknown error code {code!r}", MonitorFault.user_key))
    return _REPORTED[key](code, meaning)


@dataclass(frozen=True)
class LineFormat:
    """What a monitor that prints one line per reading sends, for its simulator and the generic tests.

    Attributes:
        reading: the line (with its end) for systolic, diastolic, pulse taken at a time.
        error: the line printed when a measurement fails (a cuff leak) at a time; None for a monitor
            that prints nothing then (the kiosk sees silence until its wait ends).
        systolic_at: where the systolic digits start in a reading line (a corrupted byte goes there).
    """

    reading: Callable[[int, int, int, datetime], bytes]
    error: Callable[[datetime], bytes] | None
    systolic_at: Callable[[bytes], int]


class BpDevice(MeasurementDevice):
    """A serial blood-pressure monitor: adds a cancellable, deadline-bound read loop and timings.

    After each successful ``measure`` ``last_timing`` holds ``(last_byte, parsed)`` as
    ``time.perf_counter()`` values: when the reading's final byte arrived and when the typed
    reading was ready (the probe prints the difference).
    """

    KIND: ClassVar[str] = "bp"
    #: How ``yizhan sim bp`` speaks this model: a command-driven module family of
    #: ``drivers/sim/bp.py`` ("maibobo", "oem-nibp"), or the :class:`LineFormat` it prints.
    SIMULATION: ClassVar[str | LineFormat]
    #: Seconds between cancel checks while the line is idle (a read returns at once when bytes come).
    POLL: ClassVar[float] = 0.05
    #: Longest silence while the monitor is measuring (it streams cuff pressure or acknowledges).
    FRAME_TIMEOUT: ClassVar[float] = 5.0
    #: Longest whole measurement, inflate to result (real monitors take 30–60 s).
    MEASURE_TIMEOUT: ClassVar[float] = 150.0

    last_timing: tuple[float, float] | None = None
    _last_rx: float = 0.0

    def measure(self, progress=None, cancel=None, since=None):
        """Take one reading (see :meth:`MeasurementDevice.measure`); resets ``last_timing`` first."""
        self.last_timing = None
        return super().measure(progress, cancel, since)

    def device_info(self) -> DeviceInfo:
        """Driver name and model (no monitor in this family reports a serial number)."""
        return DeviceInfo(driver=self.NAME, model=self.MODEL)

    def _read_some(self, deadline: float, cancel: threading.Event,
                   on_cancel: Callable[[], None] | None = None, what: str = "data") -> bytes:
        """Wait for the next bytes, up to ``deadline`` (a ``time.monotonic()`` value).

        Returns:
            At least one byte.

        Raises:
            MeasurementCancelled: ``cancel`` was set (``on_cancel`` ran first, to stop the monitor).
            DeviceTimeout: nothing came before the deadline.
            ConnectionFailed: the port went away (adapter unplugged).
        """
        port = self.port
        while True:
            if cancel.is_set():
                if on_cancel is not None:
                    try:
                        on_cancel()
                    except DriverError:
                        pass
                raise MeasurementCancelled(f"measurement on {self.port_url} cancelled")
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout(f"no {what} from {self.port_url} in time")
            try:
                port.timeout = min(left, self.POLL)
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
            if data:
                self._last_rx = time.perf_counter()
                return data

    def _next_frame(self, reader, deadline: float, cancel: threading.Event,
                    on_cancel: Callable[[], None] | None, what: str,
                    fatal: Callable[[bytes], bool] = lambda raw: True):
        """The next frame from a protocol reader (``feed``/``next_frame``/``pending``), tolerating noise.

        A frame that fails its checksum or length check is line noise unless ``fatal(raw)`` says it
        is the frame that mattered (the result): noise is skipped, and reported only if nothing
        valid follows before the deadline.

        Raises:
            InvalidChecksum / InvalidResponse: a fatal bad frame, a frame cut off at the deadline,
                or noise followed by silence.
            DeviceTimeout, MeasurementCancelled, ConnectionFailed: as :meth:`_read_some`.
        """
        noise: InvalidResponse | None = None
        while True:
            try:
                frame = reader.next_frame()
            except InvalidResponse as exc:
                if isinstance(exc, InvalidChecksum) and fatal(exc.raw):
                    raise
                noise = exc
                continue
            if frame is not None:
                return frame
            try:
                reader.feed(self._read_some(deadline, cancel, on_cancel, what))
            except DeviceTimeout as exc:
                if reader.pending:
                    raise InvalidResponse(f"frame cut off: no more bytes from {self.port_url}",
                                          reader.pending) from exc
                if noise is not None:
                    raise noise from exc
                raise

    def _discard_input(self) -> None:
        """Drop bytes waiting in the port's input buffer (a vanished port becomes ConnectionFailed)."""
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc

    def _reading(self, systolic: int, diastolic: int, pulse: int | None, **extra) -> BloodPressureReading:
        """Check plausibility, build the typed reading and stamp ``last_timing``."""
        check_plausible(systolic, diastolic, pulse)
        reading = BloodPressureReading(systolic=systolic, diastolic=diastolic, pulse=pulse,
                                       device=self.device_info(), **extra)
        self.last_timing = (self._last_rx, time.perf_counter())
        return reading


class PressureTracker:
    """Turns a stream of cuff pressures into ``Progress`` updates with an inflating/deflating stage."""

    def __init__(self, progress: ProgressCallback) -> None:
        self._progress = progress
        self._last: int | None = None
        self._stage = "inflating"

    def __call__(self, pressure: int) -> None:
        if self._last is not None and pressure < self._last:
            self._stage = "deflating"
        self._last = pressure
        self._progress(Progress(self._stage, pressure))
