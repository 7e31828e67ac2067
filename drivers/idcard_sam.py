"""Resident ID card reader with a GA/T 467 SAM module on a serial line (driver name ``sam``).

Model: any 居民身份证阅读器 exposing the SAM host protocol on a UART or a USB serial bridge
(CH340, CP210x, PL2303): 8N1, 115200 baud by default; 57600/38400/19200/9600 when the reader
was configured so (``baudrate``). Features: SAM status and id, find/select/read, text + photo
(``30 01``) and text + photo + fingerprint (``30 10``); all four document kinds. The photo and
fingerprint stay in memory for the parse and are dropped.

Port: a pyserial URL, e.g. ``/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0``,
``hwgrep://1a86:7523``, ``socket://127.0.0.1:PORT`` or a simulator's pty.

Options (``[devices.idcard]`` in config): ``timeout`` seconds a response may take to start
(default 2.0; the body gets its wire time on top), ``poll_interval`` seconds between presence
polls in :meth:`IdCardReader.events` (default 0.1).

For a worker thread, :meth:`IdCardReader.poll` is one step of the presence state machine:
it opens (and re-opens) the port itself and returns at most one :data:`CardEvent`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import serial

try:
    import termios
except ImportError:  # not on Windows
    termios = None

from drivers.base import SerialDevice
from drivers.errors import ConnectionFailed, DeviceTimeout, DriverError, InvalidResponse, UnsupportedFeature
from drivers.idcard_text import IdDocument, parse_text
from drivers.protocols import sam
from drivers.protocols.sam import NoCard, Response
from drivers.readings import DeviceInfo

log = logging.getLogger(__name__)

# What pyserial lets through when the port vanishes: a flush on a dead tty raises termios.error.
_PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
if termios is not None:
    _PORT_ERRORS += (termios.error,)

@dataclass(frozen=True)
class CardTimings:
    """How long each step of one card read took, in seconds (monotonic clock).

    ``started`` is when the successful find-card command was sent and ``finished`` when the
    read response was parsed, both ``time.monotonic()`` values.
    """

    find: float
    select: float
    read: float
    started: float
    finished: float

    @property
    def total(self) -> float:
        """Find to parsed document, seconds."""
        return self.finished - self.started

    def as_ms(self) -> dict[str, float]:
        """The durations in milliseconds, rounded to 0.1 ms: find, select, read, total."""
        return {k: round(v * 1000, 1) for k, v in
                (("find", self.find), ("select", self.select), ("read", self.read), ("total", self.total))}


@dataclass(frozen=True)
class CardPresented:
    """A card was placed and read (once per presentation)."""

    document: IdDocument
    timings: CardTimings


@dataclass(frozen=True)
class CardRemoved:
    """The card that was on the reader went away."""


@dataclass(frozen=True)
class CardError:
    """A card is on the reader but reading it failed; reported once per presentation."""

    error: DriverError


@dataclass(frozen=True)
class ReaderStatus:
    """The reader went away ("disconnected") or came back ("connected")."""

    state: str
    reason: str = ""


CardEvent = CardPresented | CardRemoved | CardError | ReaderStatus


class IdCardReader(SerialDevice):
    """A SAM resident ID card reader on a serial port.

    Args:
        port: pyserial URL.
        baudrate: one of 115200 (default), 57600, 38400, 19200, 9600.
        options: ``timeout`` (s, default 2.0), ``poll_interval`` (s, default 0.1).

    Raises:
        UnsupportedFeature: a baud rate the SAM UART cannot use.
        ValueError: a non-positive timeout or poll interval.
    """

    NAME: ClassVar[str] = "sam"
    MODEL: ClassVar[str] = "SAM resident ID card reader (GA/T 467 host protocol)"
    BAUDRATE: ClassVar[int] = 115200
    TIMEOUT: ClassVar[float] = 2.0
    POLL_INTERVAL: ClassVar[float] = 0.1

    def __init__(self, port: str, *, baudrate: int | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        super().__init__(port, baudrate=baudrate, options=options)
        if self.baudrate not in sam.BAUD_PARA:
            raise UnsupportedFeature(f"the SAM UART cannot run at {self.baudrate} baud; "
                                     f"use one of {', '.join(map(str, sam.BAUD_PARA))}")
        self.timeout = float(self.options.get("timeout", self.TIMEOUT))
        self.poll_interval = float(self.options.get("poll_interval", self.POLL_INTERVAL))
        if self.timeout <= 0 or self.poll_interval <= 0:
            raise ValueError("timeout and poll_interval must be positive")
        # Presence state machine (see poll()).
        self._connected: bool | None = None
        self._card_handled = False

    # -- connection ------------------------------------------------------------------
    def open(self) -> None:
        """Open the port and check that the SAM answers (status command ``11 FF``).

        Raises:
            ConnectionFailed: the port cannot be opened.
            DeviceTimeout: the reader does not answer.
            SamStatusError: the SAM reports a fault.
        """
        super().open()

    def _device_open(self) -> None:
        self.sam_status()

    def _wire_seconds(self, nbytes: int) -> float:
        # 8N1: a start bit, 8 data bits and a stop bit per byte.
        return nbytes * 10 / self.baudrate

    def _read_exact(self, n: int) -> bytes:
        port = self.port
        want = self.timeout + 2 * self._wire_seconds(n)
        if port.timeout != want:
            port.timeout = want
        try:
            data = port.read(n)
        except _PORT_ERRORS as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
        if len(data) != n:
            raise DeviceTimeout(f"ID card reader on {self.port_url} sent {len(data)} of {n} expected bytes "
                                f"within {want:.2f} s")
        return data

    def exchange(self, command: tuple[int, int], ok: tuple[int, ...] = (sam.SW3_OK,),
                 data: bytes = b"") -> Response:
        """Send one command frame and return the checked response.

        Stale input is discarded first, so a late answer to an earlier timed-out command cannot
        be taken for this one.

        Args:
            command: (CMD, Para), e.g. :data:`drivers.protocols.sam.FIND_CARD`.
            ok: SW3 values that count as success.
            data: command data (rarely used).

        Returns:
            The response.

        Raises:
            ConnectionFailed, DeviceTimeout, InvalidResponse, InvalidChecksum, SamStatusError.
        """
        port = self.port
        try:
            port.reset_input_buffer()
        except _PORT_ERRORS as exc:
            raise ConnectionFailed(f"{self.port_url} went away: {exc}") from exc
        self.write(sam.build_command(command[0], command[1], data))
        frame = sam.read_frame(self._read_exact)
        return sam.check_status(sam.parse_response(frame), ok)

    # -- commands --------------------------------------------------------------------
    def sam_status(self) -> None:
        """Check the SAM (``11 FF``).

        Raises:
            SamStatusError: the SAM reports a fault (e.g. ``SamFault`` for a failed self-test).
            ConnectionFailed, DeviceTimeout, InvalidResponse: line problems.
        """
        self.exchange(sam.SAM_STATUS)

    def sam_id(self) -> str:
        """The SAM id (``12 FF``) formatted as vendor tools print it.

        Raises:
            DriverError: as :meth:`exchange`; InvalidResponse if fewer than 16 data bytes come back.
        """
        return sam.format_sam_id(self.exchange(sam.SAM_ID).data)

    def device_info(self) -> DeviceInfo:
        """Driver, model and the SAM id as serial number (None if the reader will not tell).

        Raises:
            ConnectionFailed, DeviceTimeout: the reader is gone or silent.
        """
        try:
            serial_no = self.sam_id()
        except (sam.SamStatusError, InvalidResponse) as exc:
            log.info("ID card reader on %s gives no SAM id: %s", self.port_url, exc)
            serial_no = None
        return DeviceInfo(driver=self.NAME, model=self.MODEL, serial=serial_no)

    def find_card(self) -> bool:
        """Look for a card in the field (``20 01``).

        Returns:
            True if a card answered, False if there is none (SW3 80).

        Raises:
            SamStatusError: any other failure status; line errors as :meth:`exchange`.
        """
        try:
            self.exchange(sam.FIND_CARD, ok=(sam.SW3_FIND_OK, sam.SW3_OK))
        except NoCard:
            return False
        return True

    def select_card(self) -> None:
        """Select the card found (``20 02``).

        Raises:
            SelectFailed: the card moved or is only half on the reader.
            SamStatusError, line errors: as :meth:`exchange`.
        """
        self.exchange(sam.SELECT_CARD)

    def read_card(self, fingerprint: bool = False) -> IdDocument:
        """Read the selected card: text and photo (``30 01``), or with fingerprint (``30 10``).

        The photo and the fingerprint data are dropped after the parse; only
        ``photo_present`` is kept.

        Raises:
            ReadFailed: the card was pulled during the read.
            CardAuthFailed, WrongCard, SamStatusError: what the SAM reports.
            InvalidDocument: the text block cannot be parsed.
            ConnectionFailed, DeviceTimeout, InvalidResponse, InvalidChecksum: line problems.
        """
        command = sam.READ_TEXT_PHOTO_FINGERPRINT if fingerprint else sam.READ_TEXT_PHOTO
        response = self.exchange(command)
        blocks = sam.split_card_data(response.data, fingerprint)
        document = parse_text(blocks.text)
        return document.with_photo_present(len(blocks.photo) > 0)

    def read_when_presented(self, timeout: float, fingerprint: bool = False) -> tuple[IdDocument, CardTimings]:
        """Wait up to ``timeout`` seconds for a card, then select and read it (for probes and tools).

        Raises:
            DeviceTimeout: no card came within ``timeout``, or the reader went silent.
            DriverError: as :meth:`select_card` and :meth:`read_card`.
        """
        deadline = time.monotonic() + timeout
        while True:
            started = time.monotonic()
            if self.find_card():
                return self._select_and_read(started, time.monotonic(), fingerprint)
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout(f"no card was placed on the reader within {timeout:g} s")
            time.sleep(min(self.poll_interval, left))

    def _select_and_read(self, started: float, found: float, fingerprint: bool) -> tuple[IdDocument, CardTimings]:
        self.select_card()
        selected = time.monotonic()
        document = self.read_card(fingerprint)
        finished = time.monotonic()
        return document, CardTimings(find=found - started, select=selected - found, read=finished - selected,
                                     started=started, finished=finished)

    # -- presence state machine --------------------------------------------------------
    def poll(self, fingerprint: bool = False) -> CardEvent | None:
        """One step of the presence state machine; call it every ``poll_interval`` from a worker.

        * port closed: try to open it; ``ReaderStatus("connected")`` when that works after the
          reader was unknown or gone, ``ReaderStatus("disconnected")`` once when it does not;
        * no card: ``CardRemoved`` once if a card had been handled, else None;
        * a new card: select and read it, ``CardPresented`` (or ``CardError`` if the read
          fails); a card left on the reader is not read again until it has gone away;
        * the port vanishes or the reader stops answering: close, ``ReaderStatus("disconnected")``.

        Returns:
            An event, or None when nothing changed. Never raises a DriverError.
        """
        if not self.is_open:
            return self._try_connect()
        started = time.monotonic()
        try:
            present = self.find_card()
        except (ConnectionFailed, DeviceTimeout) as exc:
            return self._lost(exc)
        except DriverError as exc:
            # A garbled answer or an odd status to find-card: try again on the next poll.
            log.debug("find card on %s: %s", self.port_url, exc)
            return None
        if not present:
            if self._card_handled:
                self._card_handled = False
                return CardRemoved()
            return None
        if self._card_handled:
            return None
        self._card_handled = True
        try:
            document, timings = self._select_and_read(started, time.monotonic(), fingerprint)
        except ConnectionFailed as exc:
            return self._lost(exc)
        except DriverError as exc:
            log.info("ID card read on %s failed: %s", self.port_url, exc)
            return CardError(exc)
        log.info("ID card read: %r in %.1f ms", document, timings.total * 1000)
        return CardPresented(document, timings)

    def _try_connect(self) -> ReaderStatus | None:
        try:
            self.open()
        except DriverError as exc:
            self.close()
            if self._connected is not False:
                self._connected = False
                log.warning("ID card reader on %s unavailable: %s", self.port_url, exc)
                return ReaderStatus("disconnected", str(exc))
            return None
        self._card_handled = False
        if self._connected is not True:
            self._connected = True
            log.info("ID card reader on %s connected", self.port_url)
            return ReaderStatus("connected")
        return None

    def _lost(self, exc: DriverError) -> ReaderStatus | None:
        self.close()
        self._card_handled = False
        if self._connected is False:
            return None
        self._connected = False
        log.warning("ID card reader on %s lost: %s", self.port_url, exc)
        return ReaderStatus("disconnected", str(exc))

    def events(self, stop: threading.Event, fingerprint: bool = False) -> Iterator[CardEvent]:
        """Poll until ``stop`` is set, yielding each event; for a worker thread.

        Waits ``poll_interval`` between polls (on ``stop``, so setting it ends the loop at once).
        """
        while not stop.is_set():
            event = self.poll(fingerprint)
            if event is not None:
                yield event
            stop.wait(self.poll_interval)
