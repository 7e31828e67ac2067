"""Simulated SAM resident ID card reader on a pty, speaking the real host protocol.

The simulator answers the command frames of docs/protocols.md §1.3 with real response frames,
paced at the configured baud rate (115200 by default), for sample cards of every document kind.
Every sample person is synthetic: names start with 测试 or read "TEST SAMPLE", and every number
has a valid check digit (except ``resident_bad_check``, which is wrong on purpose).

In-process use (tests, demo, benchmark)::

    sim = IdCardSimulator(link=tmp / "ttyIDCARD")
    sim.start()
    sim.present("resident")
    ...
    sim.stop()

Command line: ``yizhan sim idcard`` prints one JSON line with the port, then reads commands from
stdin (``present KIND``, ``remove``, ``fault NAME [on COMMAND]``, ``clear``, ``unplug``,
``replug``, ``status``, ``quit``) and/or follows ``--schedule SECONDS``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date

from drivers.idcard_text import (FLAG_BY_KIND, FLAG_OFFSET, FOREIGN_2017_LAYOUT, FOREIGN_2023_LAYOUT, HMT_EXTRA,
                                 LONG_TERM, RESIDENT_LAYOUT, DocumentKind, Gender, IdDocument)
from drivers.protocols import sam
from drivers.sim.pty import PtyPort, PtyUnplugged

# ---------------------------------------------------------------------------------------------
# Sample cards


@dataclass(frozen=True)
class SampleCard:
    """A synthetic card: the bytes the reader returns and the document they must parse to.

    Attributes:
        key: the name used in ``present KIND``.
        text: the 256-byte UCS-2 LE text block.
        photo: 1024 opaque bytes standing in for the WLT photo.
        fingerprint: fingerprint feature data (empty when the card has none).
        expected: what :func:`drivers.idcard_text.parse_text` must return for ``text``.
    """

    key: str
    text: bytes
    photo: bytes
    fingerprint: bytes
    expected: IdDocument


def _put(block: bytearray, spec: tuple[int, int], value: str) -> None:
    offset, size = spec
    raw = value.encode("utf-16-le")
    if len(raw) > size:
        raise ValueError(f"{value!r} does not fit {size} bytes")
    block[offset:offset + len(raw)] = raw


def _ymd(d: date | None) -> str:
    return LONG_TERM if d is None else d.strftime("%Y%m%d")


def encode_text_block(doc: IdDocument) -> bytes:
    """The 256-byte text block a card of ``doc`` holds (the inverse of ``parse_text``).

    Raises:
        ValueError: a value does not fit its field.
    """
    block = bytearray(" ".encode("utf-16-le") * 128)
    if doc.kind in (DocumentKind.RESIDENT, DocumentKind.HMT_PERMIT):
        lay = RESIDENT_LAYOUT
        values = {"name": doc.name, "gender": doc.gender.value, "ethnicity": doc.ethnicity_code or "",
                  "birth": _ymd(doc.birth_date), "address": doc.address or "", "number": doc.number,
                  "issuer": doc.issuer or "", "valid_from": _ymd(doc.valid_from), "valid_until": _ymd(doc.valid_until)}
        if doc.kind is DocumentKind.HMT_PERMIT:
            _put(block, HMT_EXTRA["pass_number"], doc.permit_number or "")
            _put(block, HMT_EXTRA["issue_count"], f"{doc.issue_count:02d}" if doc.issue_count is not None else "")
    elif doc.kind is DocumentKind.FOREIGN_2017:
        lay = FOREIGN_2017_LAYOUT
        values = {"english_name": doc.english_name or "", "gender": doc.gender.value, "number": doc.number,
                  "nationality": doc.nationality or "", "name": doc.name, "valid_from": _ymd(doc.valid_from),
                  "valid_until": _ymd(doc.valid_until), "birth": _ymd(doc.birth_date),
                  "card_version": doc.card_version or "", "issuer": doc.issuer or ""}
    else:
        lay = FOREIGN_2023_LAYOUT
        english = doc.english_name or ""
        values = {"name": doc.name, "gender": doc.gender.value,
                  "renewal_count": f"{doc.renewal_count:02d}" if doc.renewal_count is not None else "",
                  "birth": _ymd(doc.birth_date), "english_name_1": english[:35], "number": doc.number,
                  "valid_from": _ymd(doc.valid_from), "valid_until": _ymd(doc.valid_until),
                  "english_name_2": english[35:], "nationality": doc.nationality or "",
                  "previous_number": doc.previous_number or ""}
    for field_name, value in values.items():
        _put(block, lay[field_name], value)
    _put(block, (FLAG_OFFSET, 2), FLAG_BY_KIND[doc.kind])
    return bytes(block)


def _opaque(seed: str, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


def _sample(key: str, doc: IdDocument, fingerprint_size: int = 0) -> SampleCard:
    return SampleCard(key=key, text=encode_text_block(doc), photo=_opaque(key + "/photo", sam.PHOTO_SIZE),
                      fingerprint=_opaque(key + "/fp", fingerprint_size),
                      expected=doc.with_photo_present(True))


def _build_samples() -> dict[str, SampleCard]:
    resident = IdDocument(
        kind=DocumentKind.RESIDENT, name="测试甲", gender=Gender.MALE, birth_date=date(1950, 3, 7),
        number="310115195003071230", valid_from=date(2015, 6, 1), valid_until=None,
        ethnicity="汉", ethnicity_code="01", address="上海市浦东新区测试路1号101室",
        issuer="上海市公安局浦东分局", nationality="CHN")
    young = IdDocument(
        kind=DocumentKind.RESIDENT, name="测试乙", gender=Gender.FEMALE, birth_date=date(1990, 11, 20),
        number="452722199011200423", valid_from=date(2018, 1, 15), valid_until=date(2038, 1, 15),
        ethnicity="毛南", ethnicity_code="36", address="广西壮族自治区河池市环江毛南族自治县样例镇测试村8号",
        issuer="环江毛南族自治县公安局", nationality="CHN")
    expired = IdDocument(
        kind=DocumentKind.RESIDENT, name="测试丙丁", gender=Gender.MALE, birth_date=date(1985, 2, 28),
        number="533102198502280518", valid_from=date(2010, 4, 1), valid_until=date(2020, 4, 1),
        ethnicity="德昂", ethnicity_code="46", address="云南省德宏傣族景颇族自治州瑞丽市样例路3号",
        issuer="瑞丽市公安局", nationality="CHN")
    bad_check = IdDocument(
        kind=DocumentKind.RESIDENT, name="测试戊", gender=Gender.FEMALE, birth_date=date(1962, 9, 9),
        number="110105196209090047", valid_from=date(2012, 9, 9), valid_until=date(2032, 9, 9),
        ethnicity="满", ethnicity_code="11", address="北京市朝阳区测试街9号",
        issuer="北京市公安局朝阳分局", nationality="CHN")
    permit = IdDocument(
        kind=DocumentKind.HMT_PERMIT, name="测试港", gender=Gender.FEMALE, birth_date=date(1988, 5, 1),
        number="810000198805010124", valid_from=date(2024, 3, 1), valid_until=date(2029, 3, 1),
        address="上海市静安区测试路88弄8号", issuer="上海市公安局静安分局",
        permit_number="H12345678", issue_count=1)
    foreign_2017 = IdDocument(
        kind=DocumentKind.FOREIGN_2017, name="测试外", english_name="TEST SAMPLE ALPHA",
        gender=Gender.MALE, birth_date=date(1979, 12, 24), number="CAN310079122401",
        valid_from=date(2017, 7, 1), valid_until=date(2027, 7, 1), nationality="CAN",
        issuer="3100", card_version="17")
    foreign_2023 = IdDocument(
        kind=DocumentKind.FOREIGN_2023, name="测试新", english_name="TEST SAMPLE BRAVO WITH A VERY LONG FAMILY NAME",
        gender=Gender.FEMALE, birth_date=date(1992, 7, 4), number="931100199207040129",
        valid_from=date(2023, 12, 1), valid_until=date(2033, 12, 1), nationality="FRA", renewal_count=0)
    return {
        "resident": _sample("resident", resident, 1024),
        "resident_young": _sample("resident_young", young, 512),
        "resident_expired": _sample("resident_expired", expired, 0),
        "resident_bad_check": _sample("resident_bad_check", bad_check, 1024),
        "hmt_permit": _sample("hmt_permit", permit, 1024),
        "foreign_2017": _sample("foreign_2017", foreign_2017, 0),
        "foreign_2023": _sample("foreign_2023", foreign_2023, 0),
    }


#: Sample cards by key, at least one per document kind.
SAMPLE_CARDS: dict[str, SampleCard] = _build_samples()
#: The keys cycled by ``--schedule``: one card of each kind first.
SCHEDULE_ORDER = ("resident", "hmt_permit", "foreign_2017", "foreign_2023",
                  "resident_young", "resident_expired", "resident_bad_check")
#: A fixed SAM id (16 bytes) the simulator reports for ``12 FF``.
SAM_ID_BYTES = bytes.fromhex("05 00 01 00 e8 03 00 00 15 cd 5b 07 b1 68 de 3a")

# ---------------------------------------------------------------------------------------------
# Faults

#: Fault name -> (default command it applies to, description).
FAULTS: dict[str, tuple[str, str]] = {
    "checksum": ("any", "next response has a wrong XOR checksum"),
    "garbage": ("any", "next response is preceded by garbage bytes"),
    "truncate": ("any", "next response stops halfway"),
    "nocard": ("find", "next find-card answers 80 (no card) even with a card on the reader"),
    "select": ("select", "next select-card answers 81 (select failed)"),
    "read": ("read", "next read answers 41 (read failed)"),
    "auth": ("read", "next read answers 32 (SAM could not authenticate the card)"),
    "pull": ("read", "the card is pulled during the next read: half a frame, then no card"),
    "silent": ("any", "stop answering until 'clear'"),
}
COMMAND_NAMES = {sam.SAM_STATUS: "status", sam.SAM_ID: "samid", sam.RESET_SAM: "reset", sam.FIND_CARD: "find",
                 sam.SELECT_CARD: "select", sam.READ_TEXT_PHOTO: "read", sam.READ_TEXT_PHOTO_FINGERPRINT: "read",
                 sam.READ_NEW_ADDRESS: "address"}
#: Garbage sent before a frame by the "garbage" fault: line noise including a false preamble start.
GARBAGE = bytes.fromhex("00 ff aa aa 13 aa aa aa 96 55 aa")


class SimulatorError(ValueError):
    """A simulator command that cannot be carried out (unknown card kind or fault)."""


class IdCardSimulator:
    """A SAM ID card reader on a pty, served by a background thread.

    Args:
        link: stable path made a symlink to the pty (needed for unplug/replug tests, since a
            new pty gets a new name).
        baudrate: wire speed to pace responses at (115200 default).
        paced: False sends responses at pty speed.
    """

    def __init__(self, link: str | None = None, baudrate: int = 115200, paced: bool = True) -> None:
        self.pty = PtyPort(link, baudrate=baudrate)
        self.paced = paced
        self.card: SampleCard | None = None
        #: Commands received, by name ("find", "select", "read", …, "bad-frame").
        self.received: Counter[str] = Counter()
        self._faults: list[tuple[str, str]] = []
        self._silent = False
        self._lock = threading.RLock()
        self._io = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inbuf = b""

    # -- control (any thread) --------------------------------------------------------
    @property
    def path(self) -> str:
        """The port the app opens."""
        return self.pty.path

    @property
    def baudrate(self) -> int:
        """The emulated wire speed (changes after a set-speed command)."""
        return self.pty.baudrate

    def start(self) -> IdCardSimulator:
        """Start serving in a daemon thread; returns self."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, name="idcard-sim", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and remove the pty (and link)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._io:
            self.pty.close()

    def __enter__(self) -> IdCardSimulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def present(self, kind: str | SampleCard) -> SampleCard:
        """Put a sample card on the reader (replacing any card there).

        Raises:
            SimulatorError: unknown sample key.
        """
        if isinstance(kind, str):
            try:
                kind = SAMPLE_CARDS[kind]
            except KeyError:
                raise SimulatorError(f"no sample card {kind!r}; known: {', '.join(SAMPLE_CARDS)}") from None
        with self._lock:
            self.card = kind
        return kind

    def remove(self) -> None:
        """Take the card away."""
        with self._lock:
            self.card = None

    def fault(self, name: str, on: str | None = None) -> None:
        """Inject a one-shot fault (``silent`` lasts until :meth:`clear`).

        Args:
            name: a key of :data:`FAULTS`.
            on: the command it hits ("find", "select", "read", "status", "samid", "any");
                default from :data:`FAULTS`.

        Raises:
            SimulatorError: unknown fault or command.
        """
        if name not in FAULTS:
            raise SimulatorError(f"no fault {name!r}; known: {', '.join(FAULTS)}")
        target = on or FAULTS[name][0]
        if target not in {"any", *COMMAND_NAMES.values()}:
            raise SimulatorError(f"no command {target!r} to hit")
        with self._lock:
            if name == "silent":
                self._silent = True
            else:
                self._faults.append((name, target))

    def clear(self) -> None:
        """Drop pending faults and answer again."""
        with self._lock:
            self._faults.clear()
            self._silent = False

    def unplug(self) -> None:
        """Pull the USB cable: the app's port fails until :meth:`replug`."""
        with self._io:
            self.pty.unplug()

    def replug(self) -> None:
        """Plug the reader back (a new pty behind the same link)."""
        with self._io:
            if not self.pty.plugged:
                self.pty.plug()

    def status(self) -> dict:
        """What the simulator is doing, for the CLI's ``status`` command."""
        with self._lock:
            return {"port": self.path, "plugged": self.pty.plugged, "card": self.card.key if self.card else None,
                    "faults": [f"{n}@{t}" for n, t in self._faults] + (["silent"] if self._silent else []),
                    "received": dict(self.received), "baudrate": self.baudrate}

    # -- serving (simulator thread) -------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._io:
                plugged = self.pty.plugged
                try:
                    chunk = self.pty.read(4096, timeout=0.02) if plugged else b""
                except PtyUnplugged:
                    chunk = b""
            if not plugged:
                self._inbuf = b""
                self._stop.wait(0.02)
                continue
            self._inbuf += chunk
            while True:
                command = self._next_command()
                if command is None:
                    break
                self._answer(command)

    def _next_command(self) -> tuple[int, int, bytes] | bytes | None:
        """The next command from the input buffer: (cmd, para, data), or an error response to send."""
        buf = self._inbuf
        start = buf.find(sam.PREAMBLE)
        if start < 0:
            # Keep a possible partial preamble at the end, drop the rest (the module ignores noise).
            self._inbuf = buf[-(len(sam.PREAMBLE) - 1):] if buf else b""
            return None
        buf = buf[start:]
        if len(buf) < sam.HEADER_SIZE:
            self._inbuf = buf
            return None
        length = int.from_bytes(buf[5:7], "big")
        if length < 3 or length > 0x100:
            self._inbuf = buf[len(sam.PREAMBLE):]
            self.received["bad-frame"] += 1
            return sam.build_response(0x11)
        if len(buf) < sam.HEADER_SIZE + length:
            self._inbuf = buf
            return None
        frame, self._inbuf = buf[:sam.HEADER_SIZE + length], buf[sam.HEADER_SIZE + length:]
        if sam.xor_checksum(frame[5:-1]) != frame[-1]:
            self.received["bad-frame"] += 1
            return sam.build_response(0x10)
        return frame[7], frame[8], frame[9:-1]

    def _take_fault(self, command: str) -> str | None:
        for i, (name, target) in enumerate(self._faults):
            if target in ("any", command):
                del self._faults[i]
                return name
        return None

    def _answer(self, command: tuple[int, int, bytes] | bytes) -> None:
        with self._lock:
            if self._silent:
                return
            if isinstance(command, bytes):
                self._send(command)
                return
            cmd, para, data = command
            name = COMMAND_NAMES.get((cmd, para), f"{cmd:02x}{para:02x}")
            self.received[name] += 1
            fault = self._take_fault(name)
            response = self._respond(cmd, para, data, name, fault)
            if fault == "checksum":
                response = response[:-1] + bytes((response[-1] ^ 0x5A,))
            elif fault == "garbage":
                response = GARBAGE + response
            elif fault in ("truncate", "pull"):
                response = response[:len(response) // 2]
            if fault == "pull":
                self.card = None
        self._send(response)
        if cmd == sam.SET_BAUD and para in sam.BAUD_PARA.values():
            self.pty.baudrate = {v: k for k, v in sam.BAUD_PARA.items()}[para]

    def _respond(self, cmd: int, para: int, data: bytes, name: str, fault: str | None) -> bytes:
        card = self.card
        if name in ("status", "reset") or cmd == 0x61 or (cmd == sam.SET_BAUD and para in sam.BAUD_PARA.values()):
            return sam.build_response(sam.SW3_OK)
        if name == "samid":
            return sam.build_response(sam.SW3_OK, SAM_ID_BYTES)
        if name == "find":
            if card is None or fault == "nocard":
                return sam.build_response(0x80)
            return sam.build_response(sam.SW3_FIND_OK, bytes(4))
        if name == "select":
            if card is None or fault == "select":
                return sam.build_response(0x81)
            return sam.build_response(sam.SW3_OK, bytes(8))
        if name == "read":
            if card is None or fault == "read":
                return sam.build_response(0x41)
            if fault == "auth":
                return sam.build_response(0x32)
            if para == sam.READ_TEXT_PHOTO_FINGERPRINT[1]:
                head = b"".join(len(b).to_bytes(2, "big") for b in (card.text, card.photo, card.fingerprint))
                return sam.build_response(sam.SW3_OK, head + card.text + card.photo + card.fingerprint)
            head = len(card.text).to_bytes(2, "big") + len(card.photo).to_bytes(2, "big")
            return sam.build_response(sam.SW3_OK, head + card.text + card.photo)
        if name == "address":
            return sam.build_response(0x91 if card is not None else 0x41)
        return sam.build_response(0x21)

    def _send(self, data: bytes, chunk: int = 16) -> None:
        """Write at the emulated wire speed, a chunk at a time so an unplug can cut a frame."""
        start = time.monotonic()
        for sent in range(0, len(data), chunk):
            with self._io:
                try:
                    self.pty.write(data[sent:sent + chunk], paced=False)
                except PtyUnplugged:
                    return
            if self.paced:
                delay = start + self.pty.wire_seconds(min(sent + chunk, len(data))) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)


# ---------------------------------------------------------------------------------------------
# Command line: yizhan sim idcard

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan sim idcard``."""
    parser.add_argument("--link", help="stable path to symlink to the pty (like /dev/serial/by-id/...)")
    parser.add_argument("--baud", type=int, default=115200, choices=sorted(sam.BAUD_PARA),
                        help="wire speed to emulate (default 115200)")
    parser.add_argument("--no-pace", action="store_true", help="answer at pty speed instead of wire speed")
    parser.add_argument("--present", metavar="KIND", choices=sorted(SAMPLE_CARDS),
                        help="start with this sample card on the reader")
    parser.add_argument("--schedule", type=float, metavar="SECONDS",
                        help="present and remove a card every SECONDS, cycling through the kinds")
    parser.add_argument("--kinds", help="comma-separated sample keys for --schedule (default: all)")


def run_command(sim: IdCardSimulator, line: str) -> dict:
    """Carry out one stdin command and return the JSON-able answer.

    Raises:
        SimulatorError: unknown command, kind or fault.
    """
    words = line.split()
    if not words:
        return {}
    verb, rest = words[0].lower(), words[1:]
    if verb == "present" and len(rest) == 1:
        sim.present(rest[0])
    elif verb == "remove" and not rest:
        sim.remove()
    elif verb == "fault" and len(rest) in (1, 3) and (len(rest) == 1 or rest[1] == "on"):
        sim.fault(rest[0], rest[2] if len(rest) == 3 else None)
    elif verb == "clear" and not rest:
        sim.clear()
    elif verb == "unplug" and not rest:
        sim.unplug()
    elif verb == "replug" and not rest:
        sim.replug()
    elif verb == "status" and not rest:
        pass
    else:
        raise SimulatorError(f"unknown command {line.strip()!r}; try: present KIND | remove | fault NAME [on CMD] | "
                             "clear | unplug | replug | status | quit")
    return {"ok": True, **sim.status()}


def _schedule(sim: IdCardSimulator, period: float, kinds: list[str], stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        sim.present(kinds[i % len(kinds)])
        if stop.wait(period):
            break
        sim.remove()
        stop.wait(period)
        i += 1


def run(args: argparse.Namespace) -> int:
    """Serve until ``quit`` on stdin, SIGINT or SIGTERM (end of input alone does not stop it)."""
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else list(SCHEDULE_ORDER)
    unknown = [k for k in kinds if k not in SAMPLE_CARDS]
    if unknown:
        print(f"yizhan sim idcard: error: unknown sample card(s) {', '.join(unknown)}; known: "
              f"{', '.join(SAMPLE_CARDS)}", file=sys.stderr)
        return 2
    if args.schedule is not None and args.schedule <= 0:
        print("yizhan sim idcard: error: --schedule must be positive", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim = IdCardSimulator(link=args.link, baudrate=args.baud, paced=not args.no_pace).start()
    try:
        if args.present:
            sim.present(args.present)
        print(json.dumps({"port": sim.path, "baudrate": sim.baudrate, "kinds": sorted(SAMPLE_CARDS),
                          "faults": sorted(FAULTS)}, ensure_ascii=False), flush=True)
        if args.schedule:
            threading.Thread(target=_schedule, args=(sim, args.schedule, kinds, stop), daemon=True).start()
        reader = threading.Thread(target=_read_stdin, args=(sim, stop), daemon=True)
        reader.start()
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        sim.stop()
    return 0


def _read_stdin(sim: IdCardSimulator, stop: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip().lower() in ("quit", "exit"):
            stop.set()
            return
        try:
            answer = run_command(sim, line)
        except SimulatorError as exc:
            answer = {"ok": False, "error": str(exc)}
        if answer:
            print(json.dumps(answer, ensure_ascii=False), flush=True)
