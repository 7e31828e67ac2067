"""A virtual contactless card for vsmartcard's ``vpcd`` pcscd driver (stdlib only).

vpcd exposes the readers ``Virtual PCD 00 00`` (TCP 35963) and ``Virtual PCD 00 01`` (TCP 35964).
A card is any TCP client of that port: connecting inserts it, closing removes it.

Wire format (vsmartcard ``virtualsmartcard/doc/api.txt``): every message is a 2-byte big-endian
length followed by the payload. A 1-byte payload from vpcd is a control message — ``00`` power
off, ``01`` power on, ``02`` reset (no reply) and ``04`` "send the ATR" (reply: length + ATR; vpcd
asks many times, so answer every time). A longer payload is a command APDU; the reply is the
response APDU including SW1 SW2.

The card answers the PC/SC GET DATA pseudo-APDU ``FF CA 00 00 Le`` with its UID and ``90 00``;
``FF CA`` with P1 != 0 with ``6A 81`` (function not supported) and anything else with ``6D 00``
(instruction not supported). Faults for tests and installer training:

* ``fail``      — answer ``FF CA`` with ``63 00`` (operation failed);
* ``drop``      — close the connection when ``FF CA`` arrives (card pulled mid-APDU);
* ``wrong-le``  — answer ``FF CA`` with Le = 00 by ``6C <uid length>`` (the reader wants the exact Le);
* ``sw:XXXX``   — answer ``FF CA`` with any status word, e.g. ``sw:6282``.
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time

#: PC/SC part 3 ATR of a contactless MIFARE Classic 1K as a reader reports it.
DEFAULT_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
DEFAULT_PORT = 35963
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
SW_OK = b"\x90\x00"
SW_FUNCTION_NOT_SUPPORTED = b"\x6A\x81"
SW_INS_NOT_SUPPORTED = b"\x6D\x00"
FAULTS = ("fail", "drop", "wrong-le")


def parse_fault(fault: str | None) -> tuple[str | None, bytes]:
    """Validate a fault name; return (kind, status word for ``sw:``).

    Raises:
        ValueError: unknown fault or a status word that is not 4 hex digits.
    """
    if fault is None or fault in FAULTS:
        return fault, b""
    if fault.startswith("sw:"):
        try:
            sw = bytes.fromhex(fault[3:])
        except ValueError:
            sw = b""
        if len(sw) == 2:
            return "sw", sw
    raise ValueError(f"unknown fault {fault!r}: use one of {', '.join(FAULTS)} or sw:XXXX")


class _Dropped(Exception):
    """The card was told to vanish mid-APDU."""


class VirtualCard:
    """One card that can be inserted into (connect) and removed from (close) a vpcd reader.

    Args:
        uid: the card UID, bytes or hex text (4, 7 or 10 bytes for ISO 14443-A).
        port: vpcd port: 35963 = ``Virtual PCD 00 00``, 35964 = ``Virtual PCD 00 01``.
        host: where vpcd listens.
        atr: ATR to report.
        fault: see the module docstring.

    Attributes:
        apdus: every command APDU received, in order (for byte-level assertions).
    """

    def __init__(self, uid: bytes | str, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 atr: bytes = DEFAULT_ATR, fault: str | None = None) -> None:
        self.uid = bytes.fromhex(uid) if isinstance(uid, str) else bytes(uid)
        if not 1 <= len(self.uid) <= 16:
            raise ValueError("uid must be 1-16 bytes")
        self.port = port
        self.host = host
        self.atr = bytes(atr)
        self.fault, self._fault_sw = parse_fault(fault)
        self.apdus: list[bytes] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.removed = threading.Event()
        self.removed.set()

    # -- protocol -------------------------------------------------------------------
    def answer(self, apdu: bytes) -> bytes:
        """The response APDU to one command APDU (raises _Dropped for the ``drop`` fault)."""
        if apdu[:2] != b"\xFF\xCA":
            return SW_INS_NOT_SUPPORTED
        if len(apdu) < 4 or apdu[2] != 0x00:
            return SW_FUNCTION_NOT_SUPPORTED
        le = apdu[4] if len(apdu) > 4 else 0
        if self.fault == "drop":
            raise _Dropped()
        if self.fault == "fail":
            return b"\x63\x00"
        if self.fault == "sw":
            return self._fault_sw
        if self.fault == "wrong-le" and le != len(self.uid):
            return bytes([0x6C, len(self.uid)])
        # Le = 00 means "all of it"; a shorter Le gets the first Le bytes, as readers do.
        return (self.uid if le in (0, len(self.uid)) else self.uid[:le]) + SW_OK

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            # vpcd writes the length and the APDU separately; without quick-ACK the delayed ACK
            # holds the second write back and every APDU costs ~40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("vpcd closed the connection")
            buf += chunk
        return buf

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                (size,) = struct.unpack("!H", self._recv_exact(sock, 2))
                msg = self._recv_exact(sock, size) if size else b""
                if size == 1:
                    if msg[0] == CTRL_ATR:
                        sock.sendall(struct.pack("!H", len(self.atr)) + self.atr)
                    continue
                self.apdus.append(msg)
                resp = self.answer(msg)
                sock.sendall(struct.pack("!H", len(resp)) + resp)
        except (_Dropped, OSError, ConnectionError, struct.error):
            pass
        finally:
            self._close_socket()

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.removed.set()

    # -- public -----------------------------------------------------------------------
    def insert(self, timeout: float = 5.0) -> VirtualCard:
        """Connect to vpcd (the card is now on the reader) and answer it on a daemon thread.

        Raises:
            ConnectionRefusedError: vpcd is not listening (pcscd is not running, or vpcd not installed).
        """
        if self._sock is not None:
            return self
        sock = socket.create_connection((self.host, self.port), timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self.removed.clear()
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name=f"vicc-{self.uid.hex()}")
        self._thread.start()
        return self

    def remove(self) -> None:
        """Close the connection (the card leaves the reader) and wait for the thread."""
        self._close_socket()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    @property
    def inserted(self) -> bool:
        """True while the card is connected to vpcd."""
        return not self.removed.is_set()

    def __enter__(self) -> VirtualCard:
        return self.insert()

    def __exit__(self, *exc_info) -> None:
        self.remove()


# -- yizhan sim pcsc ------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan sim pcsc``."""
    parser.add_argument("--uid", required=True, help="card UID as hex, e.g. 04A1B2C3")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="vpcd port: 35963 = 'Virtual PCD 00 00', 35964 = 'Virtual PCD 00 01'")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="remove the card after this many seconds (0 = until Ctrl-C / SIGTERM)")
    parser.add_argument("--atr", default=DEFAULT_ATR.hex().upper(), help="ATR as hex")
    parser.add_argument("--fault", default=None,
                        help="fail (63 00), drop (close mid-APDU), wrong-le (6C XX) or sw:XXXX")


def _emit(**event) -> None:
    print(json.dumps(event), flush=True)


def run(args: argparse.Namespace) -> int:
    """Insert the card, keep it on the reader, remove it on exit. Prints one JSON line per event."""
    try:
        card = VirtualCard(args.uid, port=args.port, host=args.host, atr=bytes.fromhex(args.atr),
                           fault=args.fault)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        card.insert()
    except OSError as exc:
        print(f"error: cannot reach vpcd on {args.host}:{args.port} ({exc}). Is pcscd running with "
              "vsmartcard-vpcd? Start it with: pcscd -f", file=sys.stderr)
        return 1
    _emit(event="inserted", uid=card.uid.hex().upper(), port=args.port)
    deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
    try:
        while not stop.is_set() and card.inserted:
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.05)
    except KeyboardInterrupt:
        pass
    card.remove()
    _emit(event="removed", uid=card.uid.hex().upper(), apdus=len(card.apdus))
    return 0
