"""What every glucometer driver shares: fetch-until-new, unit normalisation, plausibility, errors.

Glucometers store readings; the kiosk asks the meter for its memory and takes the NEWEST
reading taken after ``since`` (the session start), skipping control-solution tests. If there is
none yet, it asks again every ``POLL_INTERVAL`` seconds until ``MEASURE_TIMEOUT`` passes.

The model modules (``onetouch_ultra2``, ``astm_meter``, ``sd_codefree``) derive from
:class:`Glucometer` and implement ``_device_fetch``; framing lives in ``drivers/protocols/``.
Options (from ``config/``): ``measure_timeout`` and ``poll_interval`` in seconds.
"""
from __future__ import annotations

import termios
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import serial

from drivers.base import MeasurementDevice, ProgressCallback
from drivers.errors import ConnectionFailed, DeviceTimeout, InvalidResponse, MeasurementCancelled, MeasurementRejected
from drivers.readings import (MG_DL_PER_MMOL_L, DeviceInfo, GlucoseReading, MealContext, Progress,
                              RangeFlag, Unit)
from drivers.messages import N_


class NoNewReading(DeviceTimeout):
    """The meter answered, but holds no reading taken after the session start."""

    user_key = "glucose_measure_first"
    user_message = N_("No new result from the meter yet. Please measure your blood sugar on the meter first, then "
                      "wait here.")


class MeterSilent(DeviceTimeout):
    """The meter did not answer at all (switched off, cable out, wrong port or baud rate)."""

    user_key = "glucose_meter_silent"
    user_message = N_("The meter does not answer. Please check that it is switched on and its cable is plugged in, "
                      "or ask staff for help.")


class ImplausibleGlucose(MeasurementRejected):
    """The newest reading lies outside the meter's documented range: measure again.

    Args:
        message: what was wrong.
        mg_dl: the decoded value in mg/dL, kept for logs and probes.
    """

    user_key = "glucose_implausible"
    user_message = N_("The meter sent a result that cannot be right. Please measure again with a new test strip.")

    def __init__(self, message: str, mg_dl: float) -> None:
        self.mg_dl = mg_dl
        super().__init__(f"{message} ({mg_dl:g} mg/dL)")


class TruncatedTransfer(InvalidResponse):
    """The meter stopped in the middle of a transfer (fewer records than it announced)."""


@dataclass(frozen=True)
class MeterRecord:
    """One stored reading as the meter reports it, before normalisation.

    ``value`` is in ``unit``; for a HI/LO result it is ignored (the range limit is used).
    ``suspect`` marks a record the meter itself flags as unreliable (parity error).
    """

    value: float
    unit: Unit
    taken_at: datetime | None
    seq: int | None = None
    meal: MealContext | None = None
    range_flag: RangeFlag | None = None
    control: bool = False
    suspect: bool = False


def naive_local(when: datetime | None) -> datetime | None:
    """Meters keep naive local time; an aware ``since`` is converted to compare with them."""
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone().replace(tzinfo=None)


@dataclass(frozen=True)
class MeterSimulation:
    """How ``yizhan sim glucose`` speaks a meter model.

    Attributes:
        family: the protocol family the simulator implements ("lifescan-ascii", "astm", "sd-codefree").
        serial: the serial number the simulated meter reports (empty: none).
    """

    family: str
    serial: str = ""


class Glucometer(MeasurementDevice):
    """Base of every glucometer driver: the read-newest-after-since loop and normalisation."""

    KIND: ClassVar[str] = "glucose"
    #: How the simulator speaks this model (its wire speed is ``BAUDRATE``).
    SIMULATION: ClassVar[MeterSimulation]
    #: The meter's documented measuring range in mg/dL; outside it a number is not a reading.
    RANGE_MG_DL: ClassVar[tuple[int, int]] = (20, 600)
    #: Seconds the person has to measure on the meter before NoNewReading.
    MEASURE_TIMEOUT: ClassVar[float] = 120.0
    #: Seconds between two reads of the meter's memory while waiting for a new reading.
    POLL_INTERVAL: ClassVar[float] = 2.0
    #: Garbled transfers (bad checksum, truncated) retried before giving up.
    RETRIES: ClassVar[int] = 2
    #: Seconds of the meter's clock resolution: 60 when it stores minutes only. Such a meter's
    #: reading from the minute the session started counts as new (it cannot be told apart).
    CLOCK_RESOLUTION: ClassVar[int] = 1

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._serial: str | None = None
        self._firmware: str | None = None
        self._range_override: tuple[int, int] | None = None
        self.transfers = 0

    # -- identity ------------------------------------------------------------------------
    def device_info(self) -> DeviceInfo:
        """Model, and the serial number and firmware the meter reported on the last transfer."""
        return DeviceInfo(driver=self.NAME, model=self.MODEL, serial=self._serial, firmware=self._firmware)

    @property
    def range_mg_dl(self) -> tuple[int, int]:
        """The measuring range in use: what the meter announced, else the model's documented one."""
        return self._range_override or self.RANGE_MG_DL

    # -- template ------------------------------------------------------------------------
    def _device_measure(self, progress: ProgressCallback, cancel: threading.Event,
                        since: datetime | None) -> GlucoseReading:
        timeout = float(self.options.get("measure_timeout", self.MEASURE_TIMEOUT))
        poll = float(self.options.get("poll_interval", self.POLL_INTERVAL))
        since = naive_local(since)
        deadline = time.monotonic() + timeout
        failures = 0
        while True:
            if cancel.is_set():
                raise MeasurementCancelled("cancelled while reading the meter")
            progress(Progress("reading_meter"))
            try:
                records = self._device_fetch(deadline)
                self.transfers += 1
            except InvalidResponse as exc:
                failures += 1
                if failures > self.RETRIES:
                    raise
                records, garbled = None, exc
            if records is not None:
                newest = self.newest(records, since)
                if newest is not None:
                    return self.to_reading(newest)
            left = deadline - time.monotonic()
            if left <= 0:
                if records is None:
                    raise garbled      # the last transfer failed: that, not "no new reading", is the news
                raise NoNewReading(f"no reading after {since or 'any time'} on the meter within {timeout:g} s")
            progress(Progress("waiting_for_measurement"))
            if cancel.wait(min(poll, left)):
                raise MeasurementCancelled("cancelled while waiting for a measurement")

    def _device_fetch(self, deadline: float) -> list[MeterRecord]:
        """Read the meter's stored readings (one transfer).

        Args:
            deadline: ``time.monotonic()`` value after which the whole measurement times out;
                meters that start the transfer themselves wait for it until then.

        Raises:
            InvalidResponse: a garbled or truncated transfer (the template retries it).
            DriverError: anything else, typed.
        """
        raise NotImplementedError

    # -- shared policy ---------------------------------------------------------------------
    def newest(self, records: list[MeterRecord], since: datetime | None) -> MeterRecord | None:
        """The newest non-control record taken after ``since`` (ties broken by record number).

        With a minute-resolution clock, ``since`` is cut to its minute and a record of that
        same minute counts.
        """
        since = naive_local(since)
        if since is not None and self.CLOCK_RESOLUTION >= 60:
            since = since.replace(second=0, microsecond=0) - timedelta(microseconds=1)
        candidates = [r for r in records if not r.control and r.taken_at is not None
                      and (since is None or r.taken_at > since)]
        if not candidates:
            return None
        return max(candidates, key=lambda r: (r.taken_at, r.seq if r.seq is not None else -1))

    def to_reading(self, record: MeterRecord) -> GlucoseReading:
        """Normalise one record to a GlucoseReading (mmol/L, one decimal; the device value kept).

        A HI/LO record becomes the range limit with ``range_flag`` set.

        Raises:
            ImplausibleGlucose: a number outside the meter's range, or a record the meter flags
                as unreliable.
        """
        low, high = self.range_mg_dl
        if record.range_flag is not None:
            mg_dl = float(high if record.range_flag is RangeFlag.HIGH else low)
            device_value = mg_dl if record.unit is Unit.MG_DL else GlucoseReading.mg_dl_to_mmol_l(mg_dl)
        else:
            device_value = float(record.value)
            mg_dl = device_value if record.unit is Unit.MG_DL else device_value * MG_DL_PER_MMOL_L
            if record.suspect:
                raise ImplausibleGlucose("the meter flags this reading as unreliable", mg_dl)
            # A mmol/L meter rounds to one decimal, so allow half a step at the limits.
            slack = 0.05 * MG_DL_PER_MMOL_L if record.unit is Unit.MMOL_L else 0.0
            if not (low - slack <= mg_dl <= high + slack):
                raise ImplausibleGlucose(f"outside the meter's range {low}-{high} mg/dL", mg_dl)
        return GlucoseReading(
            mmol_l=GlucoseReading.mg_dl_to_mmol_l(mg_dl), device_value=device_value,
            device_unit=record.unit, device=self.device_info(), taken_at=record.taken_at,
            device_seq=record.seq, meal=record.meal, range_flag=record.range_flag,
            control_solution=record.control)

    # -- byte I/O helpers ----------------------------------------------------------------
    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        """As :meth:`SerialDevice.read_exact`; a port that vanishes mid-read is ConnectionFailed.

        (The base restores the port timeout in ``finally``, which itself fails on a pulled
        cable with a bare SerialException.)
        """
        try:
            return super().read_exact(n, timeout)
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc

    def read_some(self, timeout: float) -> bytes:
        """Whatever bytes arrive within ``timeout`` (at least one, or b'' on timeout).

        Raises:
            ConnectionFailed: the port went away.
        """
        port = self.port
        port.timeout = max(timeout, 0.0)
        try:
            first = port.read(1)
            rest = port.read(port.in_waiting) if first and port.in_waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
        finally:
            try:
                port.timeout = self.TIMEOUT
            except (serial.SerialException, OSError):
                pass
        return first + rest

    def drain_input(self) -> None:
        """Drop stale bytes (a half transfer from before, noise) before a new request.

        Raises:
            ConnectionFailed: the port went away.
        """
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
