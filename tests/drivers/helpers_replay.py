"""Replaying a driver's recorded conversations (:class:`drivers.base.Recording`) through the driver.

``ReplayPort(recording)`` stands in for the port ``serial.serial_for_url`` opens: the device's unasked
frames are readable from the start; when the host writes exactly the bytes of the next exchange,
that exchange's frames become readable. Anything else the host writes is kept in ``written`` and
answered with silence, so a driver that strays from the recording times out and its ``written``
shows where.
"""
from __future__ import annotations

import time

from drivers import driver_names, load_driver
from drivers.base import Recording


class ReplayPort:
    """A fake pyserial port playing one recording."""

    def __init__(self, recording: Recording) -> None:
        self.rx = bytearray(b"".join(recording.device))
        self.todo = list(recording.exchanges)
        self.written: list[bytes] = []
        self.timeout = 0.0
        self.is_open = True

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        if self.todo and bytes(data) == self.todo[0][0]:
            self.rx += b"".join(self.todo.pop(0)[1])
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def read(self, n: int = 1) -> bytes:
        if not self.rx:
            time.sleep(min(self.timeout or 0.0, 0.01))   # a real port would block up to its timeout
            return b""
        data = bytes(self.rx[:n])
        del self.rx[:n]
        return data

    def read_until(self, terminator: bytes = b"\n", size: int | None = None) -> bytes:
        end = self.rx.find(terminator)
        stop = len(self.rx) if end < 0 else end + len(terminator)
        return self.read(stop if size is None else min(stop, size))

    def reset_input_buffer(self) -> None:
        """Nothing stale can be waiting in a replay: the recorded bytes stay."""

    def close(self) -> None:
        self.is_open = False


def recordings(kind: str) -> list[tuple[str, Recording]]:
    """(driver name, recording) of every registered driver of ``kind``, from the registry."""
    return [(name, rec) for name in driver_names(kind) for rec in load_driver(kind, name).RECORDED]


def replay(monkeypatch, cls: type, recording: Recording, **options):
    """Open ``cls`` on a :class:`ReplayPort` of ``recording``, take one reading; returns (reading, port)."""
    port = ReplayPort(recording)
    monkeypatch.setattr("drivers.base.serial.serial_for_url", lambda *_a, **_k: port)
    dev = cls("replay://", options=options)
    dev.open()
    try:
        return dev.measure(since=recording.since), port
    finally:
        dev.close()
