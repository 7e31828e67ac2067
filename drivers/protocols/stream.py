"""The receive buffer shared by the binary frame readers of every protocol family."""
from __future__ import annotations


class StreamBuffer:
    """Bytes received but not yet part of a frame; ``skipped`` counts bytes dropped while resyncing."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self.buffer += data

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete frame."""
        return bytes(self.buffer)
