"""Glucometer simulators on a pty, speaking the same bytes as the real meters (``yizhan sim glucose``).

Protocols are the registered glucometer driver names (:mod:`drivers`); each driver's ``SIMULATION``
names its protocol family and serial number, and its ``BAUDRATE`` the wire speed. Families:
``lifescan-ascii`` (OneTouch Ultra 2) answers ``DM?``/``DM@``/``DMP`` with checksummed lines;
``astm`` answers the host's EOT with ENQ and sends H, P, R…, L records in E1381 frames, resending a
NAKed frame up to 6 times; ``sd-codefree`` sends its challenge every half second while idle, then
answers the handshake, the count and each fetch. A new model of a known family needs no change here.

Bytes leave at the real baud rate (``PtyPort`` pacing). Faults (:meth:`GlucoseSimulator.inject`):
``bad_checksum`` (next line/frame/packet), ``garbage`` (noise before the next reply, free of
framing bytes so a good reader resynchronises), ``truncated`` (the next transfer stops halfway),
``silent`` (no replies until ``fault normal``), ``nak_storm`` (the next 10 units all corrupted),
``unplug``/``replug`` (the USB cable), ``unplug_mid`` (unplug halfway through the next transfer).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import struct
import sys
import termios
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from drivers import load_drivers
from drivers.errors import InvalidResponse
from drivers.protocols import astm, lifescan_ascii, sdcodefree
from drivers.readings import MG_DL_PER_MMOL_L, MealContext, RangeFlag, Unit
from drivers.sim.pty import PtyPort, PtySimulator, PtyUnplugged, reading_commands, serve_until_stopped

#: Every registered glucometer driver, by name: how each is simulated is its ``SIMULATION``.
METERS = load_drivers("glucose")
PROTOCOLS = tuple(METERS)
FAULTS = ("bad_checksum", "garbage", "truncated", "silent", "nak_storm", "unplug", "replug",
          "unplug_mid", "normal")
#: Noise with no CR, LF, STX, ETX, ENQ, EOT, ``53`` or ``AA`` in it.
GARBAGE = b"\x00\xff\xfe\x80~#\x7f\x01"
NAK_STORM = 10


@dataclass(frozen=True)
class SimReading:
    """One reading in the simulated meter's memory (value in mg/dL)."""

    mg_dl: int
    when: datetime
    meal: MealContext | None = None
    control: bool = False
    flag: RangeFlag | None = None


class _Cut(Exception):
    """A fault ended the current transfer early."""


class GlucoseSimulator(PtySimulator):
    """A simulated glucometer on a pty.

    Args:
        protocol: one of ``PROTOCOLS``.
        link: stable symlink path for the pty (else use ``path``).
        baud: wire speed to pace at (default: the meter's own).
        serial: the meter's serial number.
        unit: display unit (ASTM sends results in it; OneTouch reports it in the dump header).
        paced: pace bytes at the baud rate (tests of framing may switch it off).
    """

    def __init__(self, protocol: str, link: str | None = None, baud: int | None = None, *,
                 serial: str | None = None, unit: Unit = Unit.MG_DL, paced: bool = True) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        meter = METERS[protocol]
        self.family = meter.SIMULATION.family
        self.baud = baud or meter.BAUDRATE
        self.serial = serial or meter.SIMULATION.serial
        self.unit = unit
        self.paced = paced
        super().__init__()
        self.port = PtyPort(link, self.baud)
        self.thread_name = f"sim-glucose-{protocol}"
        self.readings: list[SimReading] = []
        self.received = bytearray()
        self._faults: dict[str, int] = {}
        self._silent = False
        self._lock = threading.Lock()
        self._sent_in_transfer = 0

    # -- control ---------------------------------------------------------------------------





    def add_reading(self, mg_dl: float | None = None, when: datetime | None = None, *,
                    mmol_l: float | None = None, meal: MealContext | None = None,
                    control: bool = False, flag: RangeFlag | None = None) -> SimReading:
        """Store a reading as if the person had just measured (``when`` defaults to now).

        Give ``mg_dl`` or ``mmol_l``; a HI/LO ``flag`` needs neither.
        """
        if mg_dl is None:
            mg_dl = round(mmol_l * MG_DL_PER_MMOL_L) if mmol_l is not None else 0
        when = (when or datetime.now()).replace(microsecond=0)
        reading = SimReading(int(round(mg_dl)), when, meal, control, flag)
        with self._lock:
            self.readings.append(reading)
        return reading

    def inject(self, fault: str) -> None:
        """Inject a fault (see the module docstring); ``normal`` clears them all."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            if fault == "unplug":
                self.port.unplug()
            elif fault == "replug":
                if not self.port.plugged:
                    self.port.replug()
            elif fault == "silent":
                self._silent = True
            elif fault == "normal":
                self._silent = False
                self._faults.clear()
            else:
                self._faults[fault] = NAK_STORM if fault == "nak_storm" else 1

    def _take(self, fault: str) -> bool:
        with self._lock:
            left = self._faults.get(fault, 0)
            if left:
                if left == 1:
                    del self._faults[fault]
                else:
                    self._faults[fault] = left - 1
                return True
            return False

    # -- wire ------------------------------------------------------------------------------
    def _send(self, data: bytes, total: int | None = None) -> None:
        """Write bytes; apply ``garbage`` before them and ``unplug_mid`` inside a transfer."""
        if self._take("garbage"):
            self.port.write(GARBAGE, paced=self.paced)
        if total and self._faults.get("unplug_mid") and self._sent_in_transfer + len(data) >= total // 2:
            self._take("unplug_mid")
            half = max(total // 2 - self._sent_in_transfer, 1)
            self.port.write(data[:half], paced=self.paced)
            self.port.unplug()
            raise _Cut()
        self.port.write(data, paced=self.paced)
        self._sent_in_transfer += len(data)

    def _corrupt(self) -> bool:
        return self._take("nak_storm") or self._take("bad_checksum")

    def _serve(self) -> None:
        handler = {"lifescan-ascii": self._serve_onetouch, "astm": self._serve_astm,
                   "sd-codefree": self._serve_sd}[self.family]
        while not self._stop.is_set():
            if not self.port.plugged:
                time.sleep(0.02)
                continue
            try:
                handler()
            except (PtyUnplugged, _Cut):
                time.sleep(0.02)

    def _read(self, timeout: float = 0.05) -> bytes:
        data = self.port.read(4096, timeout)
        self.received += data
        return data

    def _snapshot(self) -> list[SimReading]:
        with self._lock:
            return list(self.readings)

    # -- OneTouch Ultra 2 ----------------------------------------------------------------------
    def _serve_onetouch(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            buf += self._read()
            while True:
                start = buf.find(lifescan_ascii.DC1 + lifescan_ascii.CR)
                if start < 0:
                    del buf[:max(len(buf) - 1, 0)]
                    break
                end = buf.find(lifescan_ascii.CR, start + 2)
                if end < 0:
                    del buf[:start]
                    break
                cmd = bytes(buf[start + 2:end]).decode("ascii", "replace")
                del buf[:end + 1]
                if not self._silent:
                    self._answer_onetouch(cmd)

    def _answer_onetouch(self, cmd: str) -> None:
        if cmd == lifescan_ascii.CMD_FIRMWARE:
            lines = ["?P02.00.00 30/08/06"]
        elif cmd == lifescan_ascii.CMD_SERIAL:
            lines = [f'@ "{self.serial}"']
        elif cmd == lifescan_ascii.CMD_DUMP:
            # The meter lists its memory newest first.
            readings = sorted(self._snapshot(), key=lambda r: r.when, reverse=True)
            lines = [lifescan_ascii.format_dump_header(len(readings), self.serial, self.unit)]
            lines += [lifescan_ascii.format_dump_record(r.when, r.mg_dl, control=r.control, meal=r.meal)
                      for r in readings]
        else:
            return
        # A truncated transfer is a dump that stops halfway (header plus half the records).
        if cmd == lifescan_ascii.CMD_DUMP and self._take("truncated"):
            lines = lines[:max(1, (len(lines) + 1) // 2)]
        wire = [lifescan_ascii.encode_line(line, corrupt=self._corrupt()) for line in lines]
        self._sent_in_transfer = 0
        total = sum(map(len, wire))
        for raw in wire:
            self._send(raw, total)

    # -- ASTM ------------------------------------------------------------------------------------
    def _astm_records(self) -> list[str]:
        readings = sorted(self._snapshot(), key=lambda r: r.when)
        now = datetime.now()
        u = "1" if self.unit is Unit.MMOL_L else "0"
        records = [f"H|\\^&||7w3LBL|Bayer7390^01.24\\01.04\\09.02.20^{self.serial}^7403-|"
                   f"A=1^C=63^G=1^I=0200^R=0^S=1^U={u}^V=10600^Z=1|{len(readings)}||||||1|{now:%Y%m%d%H%M}",
                   "P|1"]
        for seq, r in enumerate(readings, start=1):
            if r.control:
                continue
            if r.flag is RangeFlag.HIGH:
                value, markers = "HI", ">"
            elif r.flag is RangeFlag.LOW:
                value, markers = "LO", "<"
            elif self.unit is Unit.MMOL_L:
                value, markers = f"{r.mg_dl / MG_DL_PER_MMOL_L:.1f}", ""
            else:
                value, markers = str(r.mg_dl), ""
            records.append(f"R|{seq}|^^^Glucose|{value}|{self.unit.value}^P||{markers}||{r.when:%Y%m%d%H%M}")
        records.append("L|1|N")
        return records

    def _serve_astm(self) -> None:
        while not self._stop.is_set():
            data = self._read()
            if astm.EOT in data and not self._silent:
                self._astm_transfer()

    def _astm_wait_reply(self, timeout: float = 2.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self._read(0.05)
            for byte in (astm.ACK, astm.NAK, astm.EOT):
                if byte in data:
                    return byte
        return b""

    def _astm_transfer(self) -> None:
        records = self._astm_records()
        truncated = self._take("truncated")
        frames: list[bytes] = []
        fn = 1
        for record in records:
            for frame in astm.build_record_frames(record, fn):
                frames.append(frame)
                fn += 1
        if truncated:
            frames = frames[:max(1, len(frames) // 2)]
        self._sent_in_transfer = 0
        total = sum(map(len, frames))
        self._send(astm.ENQ)
        if self._astm_wait_reply() != astm.ACK:
            return
        for frame in frames:
            for _attempt in range(astm.MAX_RETRIES):
                wire = frame
                if self._corrupt():
                    wire = frame[:-4] + (b"00" if frame[-4:-2] != b"00" else b"01") + frame[-2:]
                self._send(wire, total)
                reply = self._astm_wait_reply()
                if reply == astm.ACK:
                    break
                if reply != astm.NAK:
                    return
            else:
                self._send(astm.EOT)
                return
        if not truncated:
            self._send(astm.EOT)

    # -- SD CodeFree -------------------------------------------------------------------------------
    def _serve_sd(self) -> None:
        decoder = sdcodefree.PacketDecoder()
        next_challenge = 0.0
        while not self._stop.is_set():
            if not self._silent and time.monotonic() >= next_challenge and self._unread_by_app() < 64:
                self._sd_send(sdcodefree.MSG_CHALLENGE)
                next_challenge = time.monotonic() + 0.5
            for raw in decoder.feed(self._read()):
                try:
                    packet = sdcodefree.parse_packet(raw)
                except InvalidResponse:
                    continue
                if packet.message == sdcodefree.MSG_ANSWER and not self._silent:
                    self._sd_session(decoder)
                    next_challenge = time.monotonic() + 0.5

    def _unread_by_app(self) -> int:
        """Bytes sent but not yet read by the app; a meter nobody reads must not fill the pty."""
        # PtyPort keeps the slave fd open; FIONREAD on it counts what waits for the app.
        slave = getattr(self.port, "_slave", None)
        if slave is None:
            return 0
        try:
            return struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return 0

    def _sd_send(self, message: bytes, total: int | None = None) -> None:
        self._send(sdcodefree.build_packet(message, sdcodefree.DIR_TO_HOST, corrupt=self._corrupt()), total)

    def _sd_session(self, decoder: sdcodefree.PacketDecoder) -> None:
        # Oldest first, as stored [unconfirmed: the real meter's order is not documented].
        readings = sorted((r for r in self._snapshot() if not r.control), key=lambda r: r.when)
        messages = [sdcodefree.build_reading(r.when, r.mg_dl, r.meal) for r in readings]
        if self._take("truncated"):
            messages = messages[:len(messages) // 2]
        self._sent_in_transfer = 0
        total = 27 + 22 * len(readings)
        self._sd_send(sdcodefree.build_count(len(readings)), total)
        idle_until = time.monotonic() + 1.0
        while messages and time.monotonic() < idle_until and not self._stop.is_set():
            for raw in decoder.feed(self._read()):
                try:
                    packet = sdcodefree.parse_packet(raw)
                except InvalidResponse:
                    continue
                if packet.message == sdcodefree.MSG_FETCH and messages:
                    self._sd_send(messages.pop(0), total)
                    idle_until = time.monotonic() + 1.0


# -- CLI -----------------------------------------------------------------------------------------

def parse_reading(text: str) -> dict:
    """``7.8`` (mmol/L), ``140mg`` (mg/dL), ``HI`` or ``LO`` → add_reading keywords.

    Raises:
        ValueError: anything else.
    """
    word = text.strip().lower()
    if word in ("hi", "lo"):
        return {"flag": RangeFlag.HIGH if word == "hi" else RangeFlag.LOW}
    if word.endswith(("mg", "mg/dl")):
        return {"mg_dl": float(word.split("mg")[0])}
    return {"mmol_l": float(word)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan sim glucose``."""
    parser.add_argument("--protocol", required=True, choices=PROTOCOLS, help="driver name whose bytes to speak")
    parser.add_argument("--link", help="stable path made a symlink to the pty (default: print the pty name)")
    parser.add_argument("--baud", type=int, help="wire speed to pace bytes at (default: the meter's)")
    parser.add_argument("--unit", choices=[u.value for u in (Unit.MG_DL, Unit.MMOL_L)], default="mg/dL",
                        help="the meter's display unit")
    parser.add_argument("--reading", action="append", default=[], metavar="VALUE",
                        help="store a reading taken now: 6.2 (mmol/L), 112mg (mg/dL), HI or LO (repeatable)")
    parser.add_argument("--fault", action="append", default=[], choices=FAULTS, help="inject a fault at start")


def run(args: argparse.Namespace) -> int:
    """Serve a simulated meter until killed (SIGTERM/SIGINT) or ``quit`` on stdin."""
    try:
        readings = [parse_reading(r) for r in args.reading]
    except ValueError as exc:
        print(f"error: bad --reading: {exc}", file=sys.stderr)
        return 2
    sim = GlucoseSimulator(args.protocol, link=args.link, baud=args.baud, unit=Unit(args.unit))
    for reading in readings:
        sim.add_reading(**reading)
    for fault in args.fault:
        sim.inject(fault)
    sim.start()
    print(json.dumps({"protocol": args.protocol, "port": sim.path, "baud": sim.baud}), flush=True)
    return serve_until_stopped(sim, reading_commands(lambda text: sim.add_reading(**parse_reading(text))))
