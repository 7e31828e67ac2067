"""Shared helpers for the blood-pressure driver tests: a scripted fake port that replays recorded frames."""
from __future__ import annotations

import time


class FakePort:
    """Stands in for a pyserial port: records writes, replays recorded device bytes.

    Args:
        replies: host bytes -> device bytes queued when the host writes exactly those bytes.
        initial: device bytes readable at once.
    """

    def __init__(self, replies: dict[bytes, bytes] | None = None, initial: bytes = b"") -> None:
        self.replies = dict(replies or {})
        self.rx = bytearray(initial)
        self.written: list[bytes] = []
        self.timeout = 0.0
        self.is_open = True

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        self.rx += self.replies.get(bytes(data), b"")
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def read(self, n: int = 1) -> bytes:
        if not self.rx:
            time.sleep(min(self.timeout or 0.0, 0.01))   # a real port would block up to timeout
            return b""
        data = bytes(self.rx[:n])
        del self.rx[:n]
        return data

    def reset_input_buffer(self) -> None:
        self.rx.clear()

    def close(self) -> None:
        self.is_open = False


def attach(device, port: FakePort, handshake: bool = False):
    """Give ``device`` the fake port as if ``open()`` had opened it; optionally run its handshake."""
    device._port = port
    if handshake:
        device._device_open()
    return device
