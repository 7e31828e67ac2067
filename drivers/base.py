"""The small base classes every serial device driver derives from.

A driver is one module per device model (``drivers/<vendor>_<model>.py``) exporting one class
derived from :class:`SerialDevice`. Ports are pyserial URLs: ``/dev/serial/by-id/…``,
``hwgrep://VID:PID``, ``socket://127.0.0.1:PORT``, ``spy://…``, ``loop://`` or a pty path.
Per-model line settings are class attributes, not configuration.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import serial

from drivers.errors import ConnectionFailed, DeviceTimeout
from drivers.readings import BloodPressureReading, DeviceInfo, GlucoseReading, Progress

ProgressCallback = Callable[[Progress], None]


class SerialDevice(ABC):
    """A device on a serial line, opened from a pyserial URL.

    Args:
        port: pyserial URL or device path.
        baudrate: overrides the model's default ``BAUDRATE`` (some devices are configurable).
        options: driver-specific settings from ``config/`` (documented in each module).
    """

    #: Short stable name installers type in config and on the command line.
    NAME: ClassVar[str]
    #: Human-readable model name.
    MODEL: ClassVar[str]
    BAUDRATE: ClassVar[int] = 9600
    BYTESIZE: ClassVar[int] = serial.EIGHTBITS
    PARITY: ClassVar[str] = serial.PARITY_NONE
    STOPBITS: ClassVar[float] = serial.STOPBITS_ONE
    #: Seconds one read may wait for a byte before the driver gives up.
    TIMEOUT: ClassVar[float] = 2.0

    def __init__(self, port: str, *, baudrate: int | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        self.port_url = port
        self.baudrate = baudrate or self.BAUDRATE
        self.options = dict(options or {})
        self._port: serial.SerialBase | None = None

    # -- connection ------------------------------------------------------------------
    def open(self) -> None:
        """Open the port and run the model's handshake.

        Raises:
            ConnectionFailed: the port cannot be opened or the handshake fails.
        """
        try:
            self._port = serial.serial_for_url(
                self.port_url, baudrate=self.baudrate, bytesize=self.BYTESIZE,
                parity=self.PARITY, stopbits=self.STOPBITS, timeout=self.TIMEOUT,
                write_timeout=self.TIMEOUT)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionFailed(f"cannot open {self.port_url}: {exc}") from exc
        try:
            self._device_open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the port; safe to call twice."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None and self._port.is_open

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- byte I/O shared by all models --------------------------------------------------
    @property
    def port(self) -> serial.SerialBase:
        """The open port. Raises ConnectionFailed when it is not open."""
        if self._port is None:
            raise ConnectionFailed(f"{self.port_url} is not open")
        return self._port

    def write(self, data: bytes) -> None:
        """Write all of ``data``; a vanished port becomes ConnectionFailed."""
        try:
            self.port.write(data)
            self.port.flush()
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(f"write to {self.port_url} timed out") from exc
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        """Read exactly ``n`` bytes or raise DeviceTimeout with what did arrive."""
        port = self.port
        if timeout is not None:
            port.timeout = timeout
        try:
            data = port.read(n)
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
        finally:
            if timeout is not None:
                self._restore_timeout(port)
        if len(data) != n:
            raise DeviceTimeout(f"expected {n} bytes from {self.port_url}, got {len(data)}: {data.hex(' ')}")
        return data

    def read_until(self, terminator: bytes, max_size: int = 4096, timeout: float | None = None) -> bytes:
        """Read up to and including ``terminator``; DeviceTimeout if it never comes."""
        port = self.port
        if timeout is not None:
            port.timeout = timeout
        try:
            data = port.read_until(terminator, max_size)
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
        finally:
            if timeout is not None:
                self._restore_timeout(port)
        if not data.endswith(terminator):
            raise DeviceTimeout(f"no {terminator!r} from {self.port_url} (got {data[:64]!r})")
        return data

    def _restore_timeout(self, port: serial.SerialBase) -> None:
        # On a pulled cable, setting the timeout fails too; that must not replace the typed error.
        try:
            port.timeout = self.TIMEOUT
        except (serial.SerialException, OSError, ValueError):
            pass

    # -- model hooks -----------------------------------------------------------------
    def _device_open(self) -> None:  # noqa: B027 (an optional hook)
        """Handshake after the port opens; most models need none."""

    @abstractmethod
    def device_info(self) -> DeviceInfo:
        """Model, serial number and firmware as the device reports them."""


@dataclass(frozen=True)
class Recording:
    """A conversation with one device model, recorded from a unit or from its protocol document:
    the generic driver tests replay it through the driver (exact bytes out, the reading in).

    Args:
        reading: what the driver must make of it: ``(systolic, diastolic, pulse)`` of a monitor;
            ``(value in the meter's unit, taken_at)`` of a glucometer's newest reading after ``since``.
        device: frames (or lines) the device sends unasked, before the host writes anything.
        exchanges: in order, each ``(the bytes the host writes, the device's frames in answer)``.
        since: a glucometer session's start (readings taken after it are new).
    """

    reading: tuple
    device: tuple[bytes, ...] = ()
    exchanges: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()
    since: datetime | None = None


class MeasurementDevice(SerialDevice):
    """A blood-pressure monitor or glucometer.

    ``measure`` is the template: it calls the model's ``_device_measure`` and returns a typed reading.
    """

    #: "bp" or "glucose".
    KIND: ClassVar[str]
    #: This model's recorded conversations, one reading each, replayed by the generic tests. Every
    #: registered model has at least one: they are the model's protocol facts, kept with its driver.
    RECORDED: ClassVar[tuple[Recording, ...]] = ()

    def measure(self, progress: ProgressCallback | None = None,
                cancel: threading.Event | None = None,
                since: datetime | None = None) -> BloodPressureReading | GlucoseReading:
        """Take (or fetch) one reading.

        Args:
            progress: called on the worker thread with live updates (cuff pressure, stage).
            cancel: set it to abort; the driver stops the device if it can and raises DeviceTimeout.
            since: for meters that store readings, only a reading taken after this time counts.

        Raises:
            DriverError: any failure, typed (see drivers.errors).
        """
        return self._device_measure(progress or (lambda p: None), cancel or threading.Event(), since)

    @abstractmethod
    def _device_measure(self, progress: ProgressCallback, cancel: threading.Event,
                        since: datetime | None) -> BloodPressureReading | GlucoseReading:
        """Model-specific measurement."""
