"""ESC/POS thermal receipt printer (58 mm / 80 mm, serial or USB) printing the health slip in Chinese.

Model: any ESC/POS printer with a Chinese (GB) font, the common kiosk and POS printers (Xprinter,
Gprinter, Epson TM-T82 China, …). Port: a pyserial URL (``/dev/serial/by-id/…``, ``hwgrep://…``,
``socket://…`` for a network printer's raw port, a pty path for the simulator) or ``usb:VID:PID``
(needs pyusb). The formatting commands come from python-escpos; its ``text()`` only knows
single-byte code pages, so the Chinese text is sent raw:

* ``FS &`` (1C 26) selects Chinese character mode and ``FS .`` (1C 2E) cancels it. In Chinese mode
  a byte < 0x80 is still ASCII; text is sent as GB18030 (GBK for all common characters; a
  4-byte GB18030 sequence prints only on printers with a GB18030 font).
* In Chinese mode ``ESC !`` does not size the Chinese glyphs; ``FS !`` (1C 21) does: bit 2 double
  width, bit 3 double height.
* ``DLE EOT 1`` / ``DLE EOT 4`` (10 04 n) ask for the printer and paper-sensor status in real
  time: one byte with bits 1 and 4 always set (0x12); in n=1 bit 3 means offline, in n=4 bits 2-3
  mean paper near its end and bits 5-6 paper out. A printer that does not answer is printed to
  anyway (many cheap printers have no return channel).
* The slip ends with a feed and ``GS V`` (1D 56) paper cut.

Options (``config/`` ``[printer] options``): ``columns`` (characters per line at normal size:
32 for 58 mm paper, 48 for 80 mm; default 32), ``profile`` (a python-escpos printer profile,
default "default"), ``check_status`` (default true), ``cut`` ("full" or "partial"), ``flow``
("none", "xonxoff", "rtscts", "dsrdtr").
"""
from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import functools

import serial

from drivers import linebreak
from drivers.errors import ConnectionFailed, DeviceTimeout, DriverError
from drivers.messages import N_

if TYPE_CHECKING:                     # imported on first use at run time (_port_printer_class)
    from escpos.escpos import Escpos

log = logging.getLogger(__name__)

FS_CHINESE_ON = b"\x1c\x26"       # FS &: Chinese character mode
FS_CHINESE_OFF = b"\x1c\x2e"      # FS .: back to single-byte mode
FS_CHINESE_SIZE = b"\x1c\x21"     # FS ! n: Chinese glyph size (bit 2 double width, bit 3 double height)
DLE_EOT = b"\x10\x04"             # DLE EOT n: real-time status
STATUS_PRINTER = 1
STATUS_PAPER = 4
_OFFLINE = 0x08                   # DLE EOT 1, bit 3
_PAPER_OUT = 0x60                 # DLE EOT 4, bits 5 and 6
_PAPER_NEAR_END = 0x0C            # DLE EOT 4, bits 2 and 3
#: Bits every status byte has set (1 and 4) and clear (0 and 7): anything else is not a status reply.
_STATUS_FIXED_MASK, _STATUS_FIXED = 0x93, 0x12


class PrinterOffline(ConnectionFailed):
    """The printer is unreachable or reports itself offline (cover open, error)."""

    user_key = "printer_offline"
    user_message = N_("The slip printer is not ready. Your result is saved; please ask staff for help.")


class PaperOut(DriverError):
    """The printer's paper sensor reports no paper."""

    user_key = "printer_paper_out"
    user_message = N_("The slip printer is out of paper. Your result is saved; please ask staff for help.")


@dataclass(frozen=True)
class Slip:
    """What a health slip says, already in Chinese (the caller translates).

    Attributes:
        station: station name (header).
        name: the person's MASKED name (王*明), never the full name with an ID number.
        time: when, as it should be printed ("2025-03-01 09:30").
        readings: one line per value ("血压 128/82 mmHg").
        title: the screening category headline.
        advice: what to do, in plain words.
        note: the "screening, not diagnosis" sentence.
    """

    station: str
    name: str
    time: str
    readings: tuple[str, ...]
    title: str
    advice: str
    note: str

    def lines(self, columns: int = 32) -> list[str]:
        """The slip's text lines exactly as printed (wrapped to the paper), blank lines left out."""
        return [line for _size, line in layout(self, columns) if line]


def text_width(text: str) -> int:
    """Columns a string takes at normal size: CJK and other wide glyphs take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break ``text`` into lines of at most ``columns`` columns (wide glyphs count two), by the
    Chinese line-breaking rules of :mod:`drivers.linebreak` (no line starts with ，。）, phrases
    such as 正常高值 or 工作人员 are never split)."""
    return linebreak.wrap(text, columns, text_width)


def layout(slip: Slip, columns: int) -> list[tuple[int, str]]:
    """The slip as (size, line) pairs; "" is a blank line.

    Sizes: 1 normal, 2 double width and height (the title), 3 double height only (the readings,
    so a reading like "血压 128/82 mmHg" still fits one line of 58 mm paper).
    """
    half = max(columns // 2, 2)
    out: list[tuple[int, str]] = [(1, line) for line in wrap(slip.station, columns)]
    out.append((1, ""))
    out += [(1, line) for line in wrap(f"{slip.name}  {slip.time}", columns)]
    out.append((1, "-" * columns))
    for reading in slip.readings:
        out += [(3, line) for line in wrap(reading, columns)]
    out.append((1, ""))
    out += [(2, line) for line in wrap(slip.title, half)]
    out += [(1, line) for line in wrap(slip.advice, columns)]
    out.append((1, "-" * columns))
    out += [(1, line) for line in wrap(slip.note, columns)]
    return out


@functools.cache
def _port_printer_class() -> type:
    """python-escpos on an already open pyserial port (opened with ``serial_for_url``).

    Built on first use: importing python-escpos loads its printer capability database (~0.2 s),
    which the kiosk should not pay at start-up.
    """
    from escpos.escpos import Escpos

    class _PortPrinter(Escpos):
        def __init__(self, port: serial.SerialBase, profile: str | None = None) -> None:
            super().__init__(profile=profile)
            self._device = port

        def _raw(self, msg: bytes) -> None:
            self._device.write(msg)

        def _read(self) -> bytes:
            return self._device.read(1)

        def close(self) -> None:
            """The port belongs to SlipPrinter, which closes it."""

    return _PortPrinter


class SlipPrinter:
    """An ESC/POS receipt printer that prints health slips.

    Args:
        port: pyserial URL or device path, or ``usb:VID:PID`` (hex) for a USB printer class device.
        baudrate: serial speed (default 9600; many printers are set to 19200 or 115200).
        options: see the module docstring.
    """

    NAME: ClassVar[str] = "escpos"
    MODEL: ClassVar[str] = "ESC/POS receipt printer"
    BAUDRATE: ClassVar[int] = 9600
    #: Seconds a write may block (a printer holding DTR/XOFF while busy) before DeviceTimeout.
    TIMEOUT: ClassVar[float] = 5.0
    #: Seconds to wait for a status byte; no answer means the printer has no return channel.
    STATUS_TIMEOUT: ClassVar[float] = 0.5

    def __init__(self, port: str, *, baudrate: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        self.port_url = port
        self.baudrate = baudrate or self.BAUDRATE
        self.options = dict(options or {})
        self.columns = int(self.options.get("columns", 32))
        self.profile = self.options.get("profile") or None
        self.check_status = bool(self.options.get("check_status", True))
        self.cut_mode = "PART" if str(self.options.get("cut", "full")).lower() == "partial" else "FULL"
        self.flow = str(self.options.get("flow", "none"))

    # -- rendering (pure) -------------------------------------------------------------------------------
    def render(self, slip: Slip) -> bytes:
        """The complete ESC/POS byte stream of a slip, ending with the paper cut.

        Raises:
            DriverError: a character cannot be encoded in GB18030 (never for real text).
        """
        from escpos.printer import Dummy

        p = Dummy(profile=self.profile)
        p.hw("INIT")                                  # ESC @: reset modes left by a previous job
        p.set_with_default()
        for size, line in layout(slip, self.columns):
            if size == 2:
                p.set(double_width=True, double_height=True, bold=True)
                p._raw(FS_CHINESE_SIZE + b"\x0c")
            elif size == 3:
                p.set(double_height=True, bold=True)
                p._raw(FS_CHINESE_SIZE + b"\x08")
            self._chinese(p, line)
            p._raw(b"\n")
            if size != 1:
                p.set(normal_textsize=True, bold=False)
                p._raw(FS_CHINESE_SIZE + b"\x00")
        p.cut(mode=self.cut_mode)                     # ESC d 6 (feed past the cutter), GS V
        return p.output

    @staticmethod
    def _chinese(p: Escpos, text: str) -> None:
        if not text:
            return
        try:
            data = text.encode("gb18030")
        except UnicodeEncodeError as exc:
            raise DriverError(f"cannot print {text!r} in GB18030: {exc}") from exc
        p._raw(FS_CHINESE_ON + data + FS_CHINESE_OFF)

    # -- printing --------------------------------------------------------------------------------------
    def print_slip(self, slip: Slip) -> None:
        """Print one slip: status check, text, cut. Returns when the bytes are handed to the printer.

        Raises:
            ConnectionFailed: the printer cannot be opened or went away (PrinterOffline when it
                reports itself offline).
            PaperOut: the paper sensor reports no paper (nothing was printed).
            DeviceTimeout: the printer stopped taking bytes (flow control held too long).
        """
        data = self.render(slip)
        if self.port_url.startswith("usb:"):
            self._print_usb(data)
            return
        port = self._open()
        try:
            if self.check_status:
                self._check(port)
            port.write(data)
            port.flush()
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(f"printer on {self.port_url} stopped taking data") from exc
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"printer on {self.port_url} went away: {exc}") from exc
        finally:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def status(self) -> dict[str, Any]:
        """Ask the printer for its status (for ``yizhan probe`` and the admin screen).

        Returns:
            ``{"answered": bool, "online": bool | None, "paper": "ok"|"near_end"|"out"|None}``.

        Raises:
            ConnectionFailed: the port cannot be opened.
        """
        port = self._open()
        try:
            return self._query(port)
        except (serial.SerialException, OSError) as exc:
            raise ConnectionFailed(f"printer on {self.port_url} went away: {exc}") from exc
        finally:
            port.close()

    def _open(self) -> serial.SerialBase:
        try:
            return serial.serial_for_url(
                self.port_url, baudrate=self.baudrate, timeout=self.STATUS_TIMEOUT,
                write_timeout=self.TIMEOUT, xonxoff=self.flow == "xonxoff",
                rtscts=self.flow == "rtscts", dsrdtr=self.flow == "dsrdtr")
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionFailed(f"cannot open the printer on {self.port_url}: {exc}") from exc

    def _query(self, port: serial.SerialBase) -> dict[str, Any]:
        port.reset_input_buffer()
        p = _port_printer_class()(port, self.profile)
        online_byte = p.query_status(DLE_EOT + bytes([STATUS_PRINTER]))
        if not online_byte or (online_byte[0] & _STATUS_FIXED_MASK) != _STATUS_FIXED:
            return {"answered": False, "online": None, "paper": None}
        paper_byte = p.query_status(DLE_EOT + bytes([STATUS_PAPER]))
        paper = None
        if paper_byte and (paper_byte[0] & _STATUS_FIXED_MASK) == _STATUS_FIXED:
            paper = "out" if paper_byte[0] & _PAPER_OUT else "near_end" if paper_byte[0] & _PAPER_NEAR_END else "ok"
        return {"answered": True, "online": not online_byte[0] & _OFFLINE, "paper": paper}

    def _check(self, port: serial.SerialBase) -> None:
        state = self._query(port)
        if not state["answered"]:
            log.info("printer on %s does not report status; printing anyway", self.port_url)
            return
        if state["paper"] == "out":
            raise PaperOut(f"printer on {self.port_url} reports no paper")
        if not state["online"]:
            raise PrinterOffline(f"printer on {self.port_url} reports itself offline (cover open or error)")
        if state["paper"] == "near_end":
            log.warning("printer on %s: paper near its end", self.port_url)

    def _print_usb(self, data: bytes) -> None:
        try:
            vid, pid = (int(x, 16) for x in self.port_url[4:].split(":"))
        except ValueError:
            raise ConnectionFailed(f"bad USB printer address {self.port_url!r}; use usb:VID:PID in hex") from None
        from escpos.exceptions import Error as EscposError
        try:
            from escpos.printer import Usb
            if not Usb.is_usable():
                raise ConnectionFailed("USB printing needs the pyusb package, which is not installed")
            printer = Usb(vid, pid, profile=self.profile)
            printer.open()
            try:
                printer._raw(data)
            finally:
                printer.close()
        except EscposError as exc:
            raise ConnectionFailed(f"USB printer {self.port_url} not usable: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise ConnectionFailed(f"USB printer {self.port_url} went away: {exc}") from exc


#: Printer driver name -> class (the lead adds the ``[printer]`` config entry).
PRINTERS: dict[str, type[SlipPrinter]] = {"escpos": SlipPrinter}
