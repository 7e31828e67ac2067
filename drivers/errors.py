"""Typed errors raised by every driver.

Screens and services catch :class:`DriverError` only. Each error class carries what the person is
told, once: ``user_message`` is the English message id (``N_``-marked, translated when shown) and
``user_key`` a stable name for it in logs and the probes' JSON. The exception text carries the
evidence (raw bytes, checksums) for logs and probes.
"""
from __future__ import annotations

from drivers.messages import N_


class DriverError(Exception):
    """Base class of every error a driver may raise."""

    #: Stable name of what the person is told (logs, probe JSON).
    user_key = "device_error"
    #: What the person is told: an English message id, translated when shown.
    user_message = N_("The device reported a problem. Please ask staff for help.")


class ConnectionFailed(DriverError):
    """The port could not be opened, or the device went away (unplugged, pcscd down)."""

    user_key = "device_offline"
    user_message = N_("The device is not connected. Please check its cable, or ask staff for help.")


class DeviceTimeout(DriverError):
    """The device did not answer within the driver's timeout."""

    user_key = "device_timeout"
    user_message = N_("The device did not answer. Please try again, or ask staff for help.")


class InvalidResponse(DriverError):
    """The device sent bytes that do not form a valid frame or record.

    Args:
        message: what was wrong.
        raw: the offending bytes, kept for logs and probes.
    """

    user_key = "device_garbled"
    user_message = N_("The device sent data that could not be read. Please try again.")

    def __init__(self, message: str, raw: bytes = b"") -> None:
        self.raw = bytes(raw)
        detail = f" (raw {self.raw[:64].hex(' ')}{' …' if len(self.raw) > 64 else ''})" if raw else ""
        super().__init__(message + detail)


class InvalidChecksum(InvalidResponse):
    """A frame arrived whole but its checksum does not match its content."""

    def __init__(self, raw: bytes, received: int, computed: int) -> None:
        self.received = received
        self.computed = computed
        super().__init__(f"checksum mismatch: frame says {received:#04x}, computed {computed:#04x}", raw)


class DeviceReportedError(DriverError):
    """The device answered properly but reports a failure (status word, error code).

    Subclasses name what the code means for the person (a blood-pressure monitor's cuff leak,
    for example) and carry its message.

    Args:
        code: the device's own code (status byte, error number).
        message: its meaning from the protocol table.
    """

    def __init__(self, code: int | str, message: str) -> None:
        self.code = code
        super().__init__(f"device reports {code!r}: {message}")


class MeasurementRejected(DriverError):
    """A reading decoded fine but is outside the plausible range: measure again."""

    user_key = "measure_again"
    user_message = N_("That did not work. Please measure again.")


class MeasurementCancelled(DriverError):
    """The caller set ``cancel``; the driver told the device to stop (when it can).

    Not a timeout: nothing went wrong with the device, and no retry or recovery is due.
    """

    user_key = "measurement_cancelled"
    user_message = N_("The measurement was stopped.")


class UnsupportedFeature(DriverError):
    """The device model cannot do what was asked."""
