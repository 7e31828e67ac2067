"""A scripted serial port for byte-level glucometer tests: replies come from recorded frames.

``ScriptedPort(responder)`` stands in for the object ``serial.serial_for_url`` returns; every
``write`` is recorded in ``written`` and passed to ``responder``, whose return value (bytes) is
queued for the driver to read. Reads never block: an empty queue is a timeout, unless
``idle`` bytes are given: a meter that keeps announcing itself (SD CodeFree's challenge) sends
them whenever the driver reads an empty line.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest


class ScriptedPort:
    """Fake pyserial port driven by a responder function."""

    def __init__(self, responder: Callable[[bytes], bytes], initial: bytes = b"", idle: bytes = b"") -> None:
        self.responder = responder
        self.idle = idle
        self.buffer = bytearray(initial)
        self.written: list[bytes] = []
        self.timeout = 1.0
        self.is_open = True

    # what the driver uses
    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        self.buffer += self.responder(bytes(data)) or b""
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, n: int = 1) -> bytes:
        if not self.buffer:
            self.buffer += self.idle
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def read_until(self, terminator: bytes = b"\n", size: int | None = None) -> bytes:
        end = self.buffer.find(terminator)
        stop = len(self.buffer) if end < 0 else end + len(terminator)
        if size is not None:
            stop = min(stop, size)
        return self.read(stop)

    @property
    def in_waiting(self) -> int:
        return len(self.buffer)

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False


@pytest.fixture()
def scripted(monkeypatch):
    """Returns ``install(responder, initial=b"", idle=b"") -> ScriptedPort`` patching serial_for_url."""
    def install(responder, initial: bytes = b"", idle: bytes = b"") -> ScriptedPort:
        port = ScriptedPort(responder, initial, idle)
        monkeypatch.setattr("drivers.base.serial.serial_for_url", lambda *a, **k: port)
        return port
    return install
