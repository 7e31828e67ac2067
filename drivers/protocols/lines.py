"""Line framing shared by monitors that print one ASCII line per reading (Omron format 5, generic).

Lines end with LF (CR LF on most monitors; the CR is stripped). A line longer than ``max_len``
without an LF is garbage or a wrong baud rate: it is dropped and reported.
"""
from __future__ import annotations

from drivers.errors import InvalidResponse


class LineTooLong(InvalidResponse):
    """More than ``max_len`` bytes arrived without a line end (wrong baud rate or not a line device)."""


class LineReader:
    """Incremental line splitter.

    Args:
        max_len: longest line accepted, without the line end.
    """

    def __init__(self, max_len: int = 256) -> None:
        self.max_len = max_len
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self.buffer += data

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished line."""
        return bytes(self.buffer)

    def next_line(self) -> bytes | None:
        """The next complete line without CR/LF, or None until its end arrives.

        Raises:
            LineTooLong: ``max_len`` bytes without an LF; they are dropped (reported redacted by
                callers that may see personal data).
        """
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) > self.max_len:
                self.buffer.clear()
                raise LineTooLong(f"no line end in {self.max_len} bytes", b"")
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return line.strip(b"\r")
