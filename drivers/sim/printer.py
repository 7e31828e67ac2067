"""A simulated ESC/POS receipt printer on a pty, and a decoder of captured ESC/POS streams.

:class:`PrinterSimulator` captures every byte the app sends and answers the real-time status
requests ``DLE EOT 1`` and ``DLE EOT 4`` like a printer (paper ok / near end / out, online or
offline), or not at all (a printer without a return channel). ``unplug``/``replug`` pull the cable.

:func:`parse_escpos` turns a byte stream into text runs and commands; :func:`text_lines` gives the
printed lines (Chinese-mode runs decoded as GB18030, others as code page 437). Both raise only
:class:`EscposDecodeError`. They know the commands python-escpos and the slip printer emit plus
the common text-formatting ones; anything else is reported, not guessed.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from drivers.errors import InvalidResponse
from drivers.sim.pty import PtyPort, PtySimulator, PtyUnplugged

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
LF, CR, HT, FF = 0x0A, 0x0D, 0x09, 0x0C

#: (prefix, command byte) -> number of argument bytes, for fixed-length commands.
_FIXED: dict[tuple[int, int], int] = {
    (ESC, ord("@")): 0, (ESC, ord("!")): 1, (ESC, ord("E")): 1, (ESC, ord("-")): 1, (ESC, ord("a")): 1,
    (ESC, ord("d")): 1, (ESC, ord("t")): 1, (ESC, ord("M")): 1, (ESC, ord("G")): 1, (ESC, ord("{")): 1,
    (ESC, ord("2")): 0, (ESC, ord("3")): 1, (ESC, ord("J")): 1, (ESC, ord("R")): 1, (ESC, ord("V")): 1,
    (ESC, ord("p")): 3, (ESC, ord("c")): 2,
    (GS, ord("!")): 1, (GS, ord("B")): 1, (GS, ord("b")): 1, (GS, ord("L")): 2, (GS, ord("W")): 2,
    (GS, ord("h")): 1, (GS, ord("w")): 1, (GS, ord("H")): 1, (GS, ord("f")): 1, (GS, ord("a")): 1,
    (GS, ord("r")): 1, (GS, ord("I")): 1,
    (FS, ord("&")): 0, (FS, ord(".")): 0, (FS, ord("!")): 1, (FS, ord("-")): 1, (FS, ord("W")): 1,
    (FS, ord("C")): 1, (FS, ord("S")): 2,
    (DLE, 0x04): 1, (DLE, 0x05): 1,
}
_NAMES = {ESC: "ESC", GS: "GS", FS: "FS", DLE: "DLE"}


class EscposDecodeError(InvalidResponse):
    """The captured bytes are not an ESC/POS stream this decoder understands."""


@dataclass(frozen=True)
class Command:
    """One ESC/POS command: ``name`` like ``"ESC @"``, ``"GS V"``, ``"FS &"``, ``"LF"``; its argument bytes."""

    name: str
    args: bytes = b""


@dataclass(frozen=True)
class Text:
    """A run of printable text, decoded; ``chinese`` when it was sent in Chinese mode (GB18030)."""

    text: str
    chinese: bool


def _command_length(data: bytes, i: int) -> tuple[str, int]:
    """Name and total length of the command starting at ``data[i]`` (a prefix byte)."""
    if i + 1 >= len(data):
        raise EscposDecodeError(f"command cut off at byte {i}", data[i:])
    prefix, code = data[i], data[i + 1]
    name = f"{_NAMES[prefix]} {chr(code) if 0x20 < code < 0x7F else f'{code:02X}'}"
    if (prefix, code) == (GS, ord("V")):
        # GS V m: m = 0/1/48/49 cut at once; m = 65/66/97/98… take a feed amount n as well.
        if i + 2 >= len(data):
            raise EscposDecodeError(f"GS V cut off at byte {i}", data[i:])
        return name, 4 if data[i + 2] >= 65 else 3
    if (prefix, code) not in _FIXED:
        raise EscposDecodeError(f"unknown command {name} at byte {i}", data[i:i + 8])
    total = 2 + _FIXED[(prefix, code)]
    if i + total > len(data):
        raise EscposDecodeError(f"{name} cut off at byte {i}", data[i:])
    return name, total


def parse_escpos(data: bytes) -> list[Command | Text]:
    """Split an ESC/POS stream into commands and decoded text runs.

    Raises:
        EscposDecodeError: an unknown or cut-off command, or text that is not valid in its mode.
    """
    out: list[Command | Text] = []
    chinese = False
    run = bytearray()

    def flush() -> None:
        if not run:
            return
        try:
            text = bytes(run).decode("gb18030" if chinese else "cp437")
        except UnicodeDecodeError as exc:
            raise EscposDecodeError(f"text is not valid {'GB18030' if chinese else 'CP437'}: {exc}", bytes(run)) from None
        out.append(Text(text, chinese))
        run.clear()

    i = 0
    while i < len(data):
        b = data[i]
        if b in (ESC, GS, FS, DLE):
            flush()
            name, total = _command_length(data, i)
            out.append(Command(name, bytes(data[i + 2:i + total])))
            if name == "FS &":
                chinese = True
            elif name in ("FS .", "ESC @"):
                chinese = False
            i += total
        elif b in (LF, CR, HT, FF):
            flush()
            out.append(Command({LF: "LF", CR: "CR", HT: "HT", FF: "FF"}[b]))
            i += 1
        elif b < 0x20 or b == 0x7F:
            raise EscposDecodeError(f"unexpected control byte {b:02X} at byte {i}", data[i:i + 8])
        else:
            run.append(b)
            i += 1
    flush()
    return out


def text_lines(data: bytes) -> list[str]:
    """The lines a printer would print from ``data`` (``ESC d n`` feeds count as line ends).

    Raises:
        EscposDecodeError: as :func:`parse_escpos`.
    """
    lines: list[str] = []
    line = ""
    for item in parse_escpos(data):
        if isinstance(item, Text):
            line += item.text
        elif item.name == "LF" or (item.name == "ESC d" and line):
            lines.append(line)
            line = ""
        elif item.name == "ESC @":
            line = ""
    if line:
        lines.append(line)
    return lines


def is_cut(item: Command | Text) -> bool:
    """True for a paper-cut command (``GS V``)."""
    return isinstance(item, Command) and item.name == "GS V"


class PrinterSimulator(PtySimulator):
    """A receipt printer on a pty that records what it is sent.

    Args:
        link: stable symlink path for the pty (else use ``path``).
        baud: emulated wire speed of the status replies.
        paper: "ok", "near_end" or "out".
        online: False makes it report itself offline (cover open).
        answers_status: False for a printer without a return channel.
    """

    def __init__(self, link: str | None = None, baud: int = 9600, *, paper: str = "ok", online: bool = True,
                 answers_status: bool = True) -> None:
        super().__init__()
        self.port = PtyPort(link, baud)
        self.paper = paper
        self.online = online
        self.answers_status = answers_status
        self.data = bytearray()
        self._scanned = 0
        self._lock = threading.Lock()






    thread_name = "sim-printer"

    def unplug(self) -> None:
        """Pull the cable."""
        self.port.unplug()

    def replug(self) -> None:
        """Plug it back (a new pty behind the same link)."""
        self.port.replug()

    def captured(self) -> bytes:
        """Every byte received so far."""
        with self._lock:
            return bytes(self.data)

    def wait_for_cut(self, timeout: float) -> bytes:
        """Wait until a paper cut arrived; returns everything captured (b"" on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.captured()
            if b"\x1dV" in data:
                try:
                    if any(is_cut(item) for item in parse_escpos(data)):
                        return data
                except EscposDecodeError:
                    pass          # the cut command itself may still be on its way
            time.sleep(0.01)
        return b""

    def status_byte(self, n: int) -> int | None:
        """The reply to ``DLE EOT n`` in the current state (None: no reply)."""
        if not self.answers_status:
            return None
        if n == 1:
            offline = (not self.online) or self.paper == "out"
            return 0x12 | (0x08 if offline else 0)
        if n == 4:
            return 0x12 | {"ok": 0, "near_end": 0x0C, "out": 0x60 | 0x0C}[self.paper]
        return 0x12

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.port.plugged:
                time.sleep(0.02)
                continue
            try:
                chunk = self.port.read(4096, 0.02)
                if not chunk:
                    continue
                with self._lock:
                    self.data += chunk
                    replies = self._status_requests()
                for n in replies:
                    reply = self.status_byte(n)
                    if reply is not None:
                        self.port.write(bytes([reply]))
            except (PtyUnplugged, OSError):
                time.sleep(0.02)

    def _status_requests(self) -> list[int]:
        """Real-time ``DLE EOT n`` requests not answered yet (a printer handles them at once)."""
        found = []
        while True:
            i = self.data.find(b"\x10\x04", self._scanned)
            if i < 0 or i + 2 >= len(self.data):
                self._scanned = max(self._scanned, len(self.data) - 2) if i < 0 else i
                return found
            found.append(self.data[i + 2])
            self._scanned = i + 3
