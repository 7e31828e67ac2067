"""Typed errors raised by every driver.

Screens and services catch :class:`DriverError` only and show the message found under
``user_key`` in the message catalog; the exception text carries the evidence (raw bytes,
checksums) for logs and probes.
"""
from __future__ import annotations


class DriverError(Exception):
    """Base class of every error a driver may raise."""

    #: Key of the plain-language message the UI shows for this error.
    user_key = "device_error"


class ConnectionFailed(DriverError):
    """The port could not be opened, or the device went away (unplugged, pcscd down)."""

    user_key = "device_offline"


class DeviceTimeout(DriverError):
    """The device did not answer within the driver's timeout."""

    user_key = "device_timeout"


class InvalidResponse(DriverError):
    """The device sent bytes that do not form a valid frame or record.

    Args:
        message: what was wrong.
        raw: the offending bytes, kept for logs and probes.
    """

    user_key = "device_garbled"

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

    Args:
        code: the device's own code (status byte, error number).
        message: its meaning from the protocol table.
        user_key: catalog key of what to tell the person, when it differs per code.
    """

    def __init__(self, code: int | str, message: str, user_key: str | None = None) -> None:
        self.code = code
        if user_key:
            self.user_key = user_key
        super().__init__(f"device reports {code!r}: {message}")


class MeasurementRejected(DriverError):
    """A reading decoded fine but is outside the plausible range: measure again."""

    user_key = "measure_again"


class UnsupportedFeature(DriverError):
    """The device model cannot do what was asked."""

    user_key = "device_error"
