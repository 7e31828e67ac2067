"""Contactless card readers (IC cards, 市民卡/社保卡 UIDs) through pcscd with pyscard.

Model: any PC/SC reader pcsc-lite supports (ACS ACR122U, ACR1281U-C1 …); tests use vsmartcard's
``vpcd`` readers ``Virtual PCD 00 00``/``00 01`` with :mod:`drivers.sim.pcsc`.
Features: card tapped / lifted events with the UID read by the PC/SC GET DATA pseudo-APDU
``FF CA 00 00 00`` (answered by the reader, not the card: ISO 14443-A UID, 14443-B PUPI or FeliCa
IDm; ACS readers give the UID least-significant byte first and it is reported as received);
reader status events; a blocking :func:`read_uid_once` for ``yizhan probe pcsc``.
Port: none — the reader is chosen by a name prefix from config (``"ACS ACR122"``), because pcsc-lite
appends slot numbers (``… 00 00``) that change with the USB order.

Why not pyscard's ``CardMonitor``: it is a process-wide singleton whose thread waits 60 s per call,
cannot be joined on ``stop()``, prints a traceback and **stops for good** when pcscd goes away
(``SCARD_E_NO_SERVICE``). This module runs its own worker on pyscard's thin ``smartcard.scard``
layer: ``SCardGetStatusChange`` with a short timeout, woken at once by ``SCardCancel`` on stop, and a
fresh context with exponential backoff whenever pcscd is down or restarted. The same layer gives
the ATR with the state change, so a tap costs one connect and one APDU.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from drivers.errors import (ConnectionFailed, DeviceReportedError, DeviceTimeout, DriverError,
                            InvalidResponse)
from drivers.messages import N_

log = logging.getLogger(__name__)

#: PC/SC part 3 GET DATA, P1 = 00: the card's UID/PUPI/IDm, Le = 00: all of it.
GET_UID = (0xFF, 0xCA, 0x00, 0x00, 0x00)

# PC/SC result codes and reader states (pcsclite.h / winscard.h), the values of pyscard's
# ``smartcard.scard``. pyscard itself is imported only by the functions that talk to pcscd, so a
# kiosk without a contactless reader never loads it (tests check the values agree).
SCARD_S_SUCCESS = 0x00000000
SCARD_E_CANCELLED = 0x80100002
SCARD_E_INVALID_HANDLE = 0x80100003
SCARD_E_NO_MEMORY = 0x80100006
SCARD_E_UNKNOWN_READER = 0x80100009
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_E_PROTO_MISMATCH = 0x8010000F
SCARD_F_COMM_ERROR = 0x80100013
SCARD_E_NOT_TRANSACTED = 0x80100016
SCARD_E_READER_UNAVAILABLE = 0x80100017
SCARD_E_NO_SERVICE = 0x8010001D
SCARD_E_SERVICE_STOPPED = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_W_UNRESPONSIVE_CARD = 0x80100066
SCARD_W_UNPOWERED_CARD = 0x80100067
SCARD_W_RESET_CARD = 0x80100068
SCARD_W_REMOVED_CARD = 0x80100069
SCARD_W_SECURITY_VIOLATION = 0x8010006A
SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_IGNORE = 0x0001
SCARD_STATE_CHANGED = 0x0002
SCARD_STATE_UNKNOWN = 0x0004
SCARD_STATE_UNAVAILABLE = 0x0008
SCARD_STATE_PRESENT = 0x0020
SCARD_STATE_MUTE = 0x0200
SCARD_SCOPE_USER = 0
SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_T0 = 1
SCARD_PROTOCOL_T1 = 2
SCARD_LEAVE_CARD = 0


# -- errors ---------------------------------------------------------------------------
class CardStatusError(DeviceReportedError):
    """The reader answered the APDU with a status word other than ``90 00``.

    Attributes:
        sw1, sw2: the status word.
    """

    user_key = "card_read_failed"
    user_message = N_("The card could not be read. Please hold it still on the reader and try again.")

    def __init__(self, sw1: int, sw2: int, meaning: str) -> None:
        self.sw1, self.sw2 = sw1, sw2
        super().__init__(f"{sw1:02X}{sw2:02X}", meaning)


class CardOperationFailed(CardStatusError):
    """``63 00``: the reader could not carry out the command (card moved, collision)."""


class CardNotSupported(CardStatusError):
    """``6A 81``/``6D 00``/``6E 00``: this card or reader does not support the command."""

    user_key = "card_not_supported"
    user_message = N_("This card cannot be used here. Please use another card or the QR code.")


class CardEndOfData(CardStatusError):
    """``62 82``: the data ended before Le bytes."""


class CardWrongLength(CardStatusError):
    """``6C XX``: wrong Le; ``XX`` is the exact length (``exact_length``)."""

    @property
    def exact_length(self) -> int:
        """The length the reader asks for (SW2; 0 means 256)."""
        return self.sw2 or 256


class CardUnknownStatus(CardStatusError):
    """A status word this driver has no entry for."""


class CardNoResponse(InvalidResponse):
    """The response APDU is shorter than a status word."""

    user_key = CardStatusError.user_key
    user_message = CardStatusError.user_message


class CardRemoved(ConnectionFailed):
    """The card left the reader (or stopped answering) between detection and the end of the APDU."""

    user_key = "card_removed"
    user_message = N_("The card was taken away too early. Please hold it on the reader until you hear the beep.")


class PcscServiceDown(ConnectionFailed):
    """pcscd is not running or went away (``SCARD_E_NO_SERVICE``)."""

    user_key = "card_reader_offline"
    user_message = N_("The card reader is not working right now. Please ask the staff for help.")


class NoReader(ConnectionFailed):
    """No reader whose name starts with the configured prefix is attached."""

    user_key = "card_reader_missing"
    user_message = N_("The card reader is not connected. Please ask the staff for help.")


class CardReadTimeout(DeviceTimeout):
    """No card was presented within the time allowed."""

    user_key = "card_timeout"
    user_message = N_("No card was found. Please place your card on the reader.")


#: (SW1, SW2 or None for "any") -> (error class, meaning). PC/SC part 3 + ISO 7816-4.
STATUS_WORDS: dict[tuple[int, int | None], tuple[type[CardStatusError], str]] = {
    (0x63, 0x00): (CardOperationFailed, "operation failed"),
    (0x6A, 0x81): (CardNotSupported, "function not supported"),
    (0x6D, 0x00): (CardNotSupported, "instruction not supported"),
    (0x6E, 0x00): (CardNotSupported, "class not supported"),
    (0x62, 0x82): (CardEndOfData, "end of data reached before Le bytes"),
    (0x6C, None): (CardWrongLength, "wrong Le; SW2 is the exact length"),
    (0x67, 0x00): (CardWrongLength, "wrong length"),
    (0x6B, 0x00): (CardNotSupported, "wrong parameters P1-P2"),
}


def check_status(sw1: int, sw2: int) -> None:
    """Raise the typed error for a status word; ``90 00`` passes.

    Raises:
        CardStatusError: a subclass chosen by :data:`STATUS_WORDS`, else CardUnknownStatus.
    """
    if (sw1, sw2) == (0x90, 0x00):
        return
    cls, meaning = STATUS_WORDS.get((sw1, sw2)) or STATUS_WORDS.get((sw1, None)) or (
        CardUnknownStatus, "unknown status word")
    raise cls(sw1, sw2, meaning)


# pcsc-lite result codes, grouped by what they mean for the kiosk.
_SERVICE_DOWN = {SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED, SCARD_F_COMM_ERROR,
                 SCARD_E_INVALID_HANDLE, SCARD_E_NO_MEMORY}
_READER_GONE = {SCARD_E_NO_READERS_AVAILABLE, SCARD_E_UNKNOWN_READER,
                SCARD_E_READER_UNAVAILABLE}
_CARD_GONE = {SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD, SCARD_W_RESET_CARD,
              SCARD_W_UNRESPONSIVE_CARD, SCARD_W_UNPOWERED_CARD,
              SCARD_E_NOT_TRANSACTED, SCARD_E_PROTO_MISMATCH, SCARD_F_COMM_ERROR}


def _message(hr: int) -> str:
    from smartcard import scard

    try:
        return f"{scard.SCardGetErrorMessage(hr)} (0x{hr & 0xFFFFFFFF:08X})"
    except Exception:  # pyscard's message lookup is best effort only
        return f"PC/SC error 0x{hr & 0xFFFFFFFF:08X}"


def _pcsc_error(hr: int, what: str, card: bool = False) -> DriverError:
    """The typed error for a PC/SC result code; ``card`` = during a card exchange."""
    text = f"{what}: {_message(hr)}"
    if card and hr in _CARD_GONE:
        return CardRemoved(text)
    if hr in _SERVICE_DOWN:
        return PcscServiceDown(text + " — is pcscd running? Start it with: pcscd -f (or systemctl start pcscd)")
    if hr in _READER_GONE:
        return NoReader(text)
    if hr == SCARD_E_TIMEOUT:
        return CardReadTimeout(text)
    return ConnectionFailed(text)


# -- events ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CardTapped:
    """A card arrived and its UID was read.

    Attributes:
        uid: the UID as upper-case hex, as the reader returned it.
        atr: the ATR as upper-case hex.
        reader: full reader name.
        detected_at: ``time.monotonic()`` when pcscd reported the card.
        at: ``time.monotonic()`` when the UID had been read.
    """

    uid: str
    atr: str
    reader: str
    detected_at: float
    at: float


@dataclass(frozen=True)
class CardLifted:
    """The card left the reader (``at`` is ``time.monotonic()``)."""

    reader: str
    at: float


@dataclass(frozen=True)
class CardError:
    """A card arrived but reading it failed; ``error`` is typed (CardRemoved, CardStatusError …)."""

    reader: str
    error: DriverError
    at: float


@dataclass(frozen=True)
class ReaderStatus:
    """The reader became usable or stopped being usable.

    Attributes:
        state: ``"connected"`` (detail = reader name), ``"no_reader"`` or ``"service_down"``.
        detail: evidence for logs and the admin screen.
        error: the typed error behind a non-connected state.
    """

    state: Literal["connected", "no_reader", "service_down"]
    detail: str
    at: float
    error: DriverError | None = None


PcscEvent = CardTapped | CardLifted | CardError | ReaderStatus


# -- thin helpers over smartcard.scard ---------------------------------------------------
def _establish() -> int:
    from smartcard import scard

    hr, ctx = scard.SCardEstablishContext(SCARD_SCOPE_USER)
    if hr != SCARD_S_SUCCESS:
        raise _pcsc_error(hr, "cannot reach pcscd")
    return ctx


def _release(ctx: int) -> None:
    from smartcard import scard

    try:
        scard.SCardReleaseContext(ctx)
    except Exception:  # releasing a context of a dead pcscd may fail in several ways; nothing to do
        pass


def _cancel(ctx: int) -> None:
    from smartcard import scard

    scard.SCardCancel(ctx)


def _list_readers(ctx: int) -> list[str]:
    from smartcard import scard

    hr, names = scard.SCardListReaders(ctx, [])
    if hr in (SCARD_E_NO_READERS_AVAILABLE,):
        return []
    if hr != SCARD_S_SUCCESS:
        raise _pcsc_error(hr, "cannot list readers")
    return list(names)


def list_readers() -> list[str]:
    """Names of all readers pcscd reports now.

    Raises:
        PcscServiceDown: pcscd is not running.
    """
    ctx = _establish()
    try:
        return _list_readers(ctx)
    finally:
        _release(ctx)


def select_reader(names: list[str], prefix: str) -> str:
    """The first reader (sorted by name) whose name starts with ``prefix``.

    Raises:
        NoReader: none matches; the message lists what is attached.
    """
    matches = sorted(n for n in names if n.startswith(prefix))
    if not matches:
        found = ", ".join(sorted(names)) or "none"
        raise NoReader(f"no reader name starts with {prefix!r} (attached: {found})")
    return matches[0]


def transmit(hcard: int, protocol: int, apdu: tuple[int, ...] | list[int]) -> bytes:
    """Send one APDU and return the response data after a ``90 00``.

    A ``6C XX`` (wrong Le) is retried once with Le = XX, as ISO 7816-4 asks.

    Raises:
        CardRemoved: the card left or stopped answering.
        CardNoResponse: fewer than two bytes came back.
        CardStatusError: any other status word (see :data:`STATUS_WORDS`).
    """
    from smartcard import scard

    apdu = list(apdu)
    for attempt in range(2):
        hr, resp = scard.SCardTransmit(hcard, protocol, apdu)
        if hr != SCARD_S_SUCCESS:
            raise _pcsc_error(hr, f"APDU {bytes(apdu).hex(' ').upper()} failed", card=True)
        if not resp:
            # vpcd (and some readers) report a card that left the field mid-APDU as an empty answer
            raise CardRemoved(f"no answer to APDU {bytes(apdu).hex(' ').upper()}: the card left or went silent")
        if len(resp) < 2:
            raise CardNoResponse("response shorter than a status word", bytes(resp))
        sw1, sw2 = resp[-2], resp[-1]
        if sw1 == 0x6C and attempt == 0 and len(apdu) == 5:
            apdu[4] = sw2
            continue
        check_status(sw1, sw2)
        return bytes(resp[:-2])
    raise AssertionError("unreachable")


def read_uid(ctx: int, reader: str) -> bytes:
    """Connect to the card on ``reader``, read its UID with ``FF CA 00 00 00``, disconnect.

    Raises:
        CardRemoved, CardStatusError, CardNoResponse, PcscServiceDown: typed, never a raw pyscard error.
    """
    from smartcard import scard

    hr, hcard, protocol = scard.SCardConnect(ctx, reader, SCARD_SHARE_SHARED,
                                             SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    if hr != SCARD_S_SUCCESS:
        raise _pcsc_error(hr, f"cannot connect to the card on {reader}", card=True)
    try:
        uid = transmit(hcard, protocol, GET_UID)
    finally:
        scard.SCardDisconnect(hcard, SCARD_LEAVE_CARD)
    if not uid:
        raise CardNoResponse("empty UID")
    return uid


_NOT_THERE = SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_IGNORE


def _wait_change(ctx: int, reader: str, state: int, timeout_s: float) -> tuple[int, int, bytes] | None:
    """One SCardGetStatusChange: (new state, event counter, ATR), or None on timeout/cancel.

    Raises:
        PcscServiceDown, NoReader: pcscd or the reader went away.
    """
    from smartcard import scard

    hr, states = scard.SCardGetStatusChange(ctx, max(0, int(timeout_s * 1000)), [(reader, state)])
    if hr in (SCARD_E_TIMEOUT, SCARD_E_CANCELLED):
        return None
    if hr == SCARD_W_SECURITY_VIOLATION:
        # pcscd answers a pending wait "Access denied" while it shuts down: the service is going away.
        raise PcscServiceDown(f"waiting for a card on {reader}: {_message(hr)} — pcscd is stopping or restarting; "
                              "it is retried (start it with: pcscd -f, or systemctl start pcscd)")
    if hr != SCARD_S_SUCCESS:
        raise _pcsc_error(hr, f"waiting for a card on {reader}")
    _, event, atr = states[0]
    if event & _NOT_THERE:
        raise NoReader(f"{reader} went away")
    # pcsc-lite keeps a card-event counter in the high 16 bits of the state.
    return event & ~SCARD_STATE_CHANGED, event >> 16, bytes(atr)


def _present(state: int) -> bool:
    return bool(state & SCARD_STATE_PRESENT) and not state & SCARD_STATE_MUTE


def read_uid_once(prefix: str = "", timeout: float = 10.0) -> CardTapped:
    """Wait for one card on the first reader matching ``prefix`` and read its UID (blocking).

    Args:
        prefix: reader name prefix (``""`` = the first reader).
        timeout: seconds to wait for a card.

    Returns:
        The tap, with ``detected_at``/``at`` timestamps (``time.monotonic()``).

    Raises:
        PcscServiceDown, NoReader, CardReadTimeout, CardRemoved, CardStatusError, CardNoResponse.
    """
    deadline = time.monotonic() + timeout
    ctx = _establish()
    try:
        reader = select_reader(_list_readers(ctx), prefix)
        state = SCARD_STATE_UNAWARE
        while True:
            left = deadline - time.monotonic()
            change = _wait_change(ctx, reader, state, min(max(left, 0), 0.5))
            if change is not None:
                state, _, atr = change
                if _present(state):
                    detected = time.monotonic()
                    uid = read_uid(ctx, reader)
                    return CardTapped(uid.hex().upper(), atr.hex().upper(), reader, detected, time.monotonic())
            if left <= 0:
                raise CardReadTimeout(f"no card on {reader} within {timeout:g} s")
    finally:
        _release(ctx)


# -- the event source -------------------------------------------------------------------
class PcscReader:
    """Watches one reader on a worker thread and reports taps, lifts, errors and reader status.

    Args:
        reader_prefix: reader name prefix from config (``""`` = first reader, sorted by name).
        poll_s: longest single wait inside pcscd; bounds how long a missed cancel could delay stop().
        on_event: called on the worker thread with each :data:`PcscEvent`. It must not touch widgets;
            hand the event to the UI thread (``Clock.schedule_once``). Exceptions it raises are
            logged and do not stop the worker.
        retry_max_s: longest pause between reconnect attempts (backoff doubles from 0.1 s).

    Status events are sent on change only (log once when unavailable, once when back).
    """

    def __init__(self, reader_prefix: str = "", poll_s: float = 0.5,
                 on_event: Callable[[PcscEvent], None] | None = None, retry_max_s: float = 2.0) -> None:
        self.reader_prefix = reader_prefix
        self.poll_s = poll_s
        self.on_event = on_event or (lambda event: None)
        self.retry_max_s = retry_max_s
        self.reader: str | None = None
        self.status: ReaderStatus | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: int | None = None
        self._ctx_lock = threading.Lock()
        self._card_present = False
        self._delay = 0.1

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> PcscReader:
        """Start the worker thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pcsc-reader", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the worker: cancel the pending pcscd wait and join the thread.

        Raises:
            DeviceTimeout: the thread did not end within ``timeout`` (it is a daemon; it cannot block exit).
        """
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        while thread.is_alive() and time.monotonic() < deadline:
            # SCardCancel only wakes a wait already in progress, so repeat it until the worker is out.
            with self._ctx_lock:
                if self._ctx is not None:
                    _cancel(self._ctx)
            thread.join(0.05)
        if thread.is_alive():
            raise DeviceTimeout(f"PC/SC worker did not stop within {timeout:g} s")

    @property
    def running(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> PcscReader:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- worker -------------------------------------------------------------------------
    def _emit(self, event: PcscEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("PC/SC event handler failed on %s", type(event).__name__)

    def _set_status(self, state: str, detail: str, error: DriverError | None = None) -> None:
        if self.status is not None and (self.status.state, self.status.detail) == (state, detail):
            return
        if state == "connected":
            log.info("card reader ready: %s", detail)
        else:
            log.warning("card reader %s: %s", state.replace("_", " "), detail)
        self.status = ReaderStatus(state, detail, time.monotonic(), error)  # type: ignore[arg-type]
        self._emit(self.status)

    def _lift(self) -> None:
        if self._card_present:
            self._card_present = False
            self._emit(CardLifted(self.reader or "", time.monotonic()))

    def _run(self) -> None:
        self._delay = 0.1
        while not self._stop.is_set():
            try:
                ctx = _establish()
            except DriverError as exc:
                self._set_status("service_down", str(exc), exc)
            else:
                with self._ctx_lock:
                    self._ctx = ctx
                try:
                    self._watch(ctx)
                except (PcscServiceDown, ConnectionFailed) as exc:
                    state = "no_reader" if isinstance(exc, NoReader) else "service_down"
                    self._set_status(state, str(exc), exc)
                except Exception as exc:  # the worker must survive anything pyscard throws
                    log.exception("PC/SC worker error")
                    self._set_status("service_down", f"unexpected: {exc!r}", ConnectionFailed(repr(exc)))
                finally:
                    with self._ctx_lock:
                        self._ctx = None
                    _release(ctx)
                    self._lift()
            if self._stop.wait(self._delay):
                break
            self._delay = min(self._delay * 2, self.retry_max_s)

    def _watch(self, ctx: int) -> None:
        """Follow the reader until stop, or until pcscd or the reader goes away (raises)."""
        self.reader = select_reader(_list_readers(ctx), self.reader_prefix)
        self._set_status("connected", self.reader)
        self._delay = 0.1
        state, counter = SCARD_STATE_UNAWARE, None
        while not self._stop.is_set():
            change = _wait_change(ctx, self.reader, state, self.poll_s)
            if change is None:
                continue
            state, new_counter, atr = change
            present = _present(state)
            if present and self._card_present and counter is not None and new_counter != counter:
                self._lift()             # lifted and tapped again between two waits
            counter = new_counter
            if present and not self._card_present:
                self._card_present = True
                self._tap(ctx, atr)
            elif not present:
                self._lift()

    def _tap(self, ctx: int, atr: bytes) -> None:
        detected = time.monotonic()
        try:
            uid = read_uid(ctx, self.reader or "")
        except PcscServiceDown:
            raise
        except DriverError as exc:
            log.info("card on %s could not be read: %s", self.reader, exc)
            self._emit(CardError(self.reader or "", exc, time.monotonic()))
            return
        self._emit(CardTapped(uid.hex().upper(), atr.hex().upper(), self.reader or "", detected, time.monotonic()))
