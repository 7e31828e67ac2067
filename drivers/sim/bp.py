"""Blood-pressure monitor simulators speaking each driver's real bytes on a pty, paced at the baud rate.

``BpSimulator(protocol)`` runs in a thread; the app opens ``sim.path``. Protocols are the registered
blood-pressure driver names (:mod:`drivers`), and each driver's ``SIMULATION`` says how to speak it:
the command-driven module families ``maibobo`` and ``oem-nibp`` answer the host's commands (start,
stop/abort) with live cuff pressure and a result; a monitor with a :class:`~drivers.bp_common.LineFormat`
measures "on its own" and pushes one line per queued reading (at once, or every ``push_every``
seconds, repeating the last reading). A new model of a known family needs no change here.

Faults (``inject``): ``cuff_leak``, ``bad_checksum``, ``garbage``, ``truncated`` apply to the next
measurement; ``silent`` makes the monitor ignore everything until ``inject("none")``; ``unplug``
and ``replug`` close and recreate the pty (the ``link`` path follows it).

Command line: ``yizhan sim bp --protocol NAME [--link PATH] [--reading 128/82/71 …] [--fault F]``
prints one JSON line with the port path, then serves until killed, reading commands on stdin:
``reading 150/95/80``, ``fault cuff_leak``, ``unplug``, ``replug``, ``quit``.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
import time
from datetime import datetime

from drivers import load_drivers
from drivers.bp_common import LineFormat
from drivers.errors import DriverError
from drivers.protocols import maibobo, nibp
from drivers.sim.pty import PtyPort, PtySimulator, PtyUnplugged, reading_commands, serve_until_stopped

#: Every registered blood-pressure driver, by name: how each is simulated is its ``SIMULATION``.
MONITORS = load_drivers("bp")
PROTOCOLS = tuple(MONITORS)
FAULTS = ("cuff_leak", "bad_checksum", "garbage", "truncated", "silent", "unplug", "replug", "none")
#: Monitors that measure on their own and push a line (the rest answer the host's commands).
PUSH_PROTOCOLS = tuple(name for name, cls in MONITORS.items() if isinstance(cls.SIMULATION, LineFormat))
DEFAULT_READING = (120, 80, 72)
#: Line noise sent before the frames by the "garbage" fault; it holds start bytes of every framing
#: (3E, 3A, AA 80, CC 80) so the drivers' resynchronisation is exercised, and no LF.
GARBAGE = bytes.fromhex("00 ff 3e 3a 13 aa 80 55 cc 80 3e 05 7f 01 aa")


def parse_reading(text: str) -> tuple[int, int, int]:
    """``"128/82/71"`` or ``"128/82"`` (pulse 72) -> (sys, dia, pulse).

    Raises:
        ValueError: not two or three numbers separated by "/".
    """
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"reading must look like 128/82/71, not {text!r}")
    values = [int(p) for p in parts]
    return (values[0], values[1], values[2] if len(values) == 3 else DEFAULT_READING[2])


def pressure_profile(systolic: int, diastolic: int) -> list[int]:
    """Cuff pressures sent while inflating to SYS + 30 and deflating below DIA."""
    top = systolic + 30
    up = list(range(20, top, 40)) + [top]
    down = list(range(top - 20, max(diastolic - 20, 0), -20))
    return up + down


class BpSimulator(PtySimulator):
    """A simulated blood-pressure monitor on a pty.

    Args:
        protocol: one of ``PROTOCOLS``.
        link: stable path to the pty (like /dev/serial/by-id/…); default the pty's own name.
        baud: emulated wire speed for pacing.
        step_s: pause between cuff-pressure frames (a real monitor sends several per second).
        push_every: for line monitors, send a reading every this many seconds (None: once per
            queued reading, as soon as it is queued).
    """

    def __init__(self, protocol: str, link=None, baud: int = 9600, *, step_s: float = 0.005,
                 push_every: float | None = None) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.simulation = MONITORS[protocol].SIMULATION
        super().__init__()
        self.port = PtyPort(link, baudrate=baud)
        self.thread_name = f"bp-sim-{protocol}"
        self.step_s = step_s
        self.push_every = push_every
        self.received: list[bytes] = []          # host frames, for tests
        self.readings: collections.deque[tuple[int, int, int]] = collections.deque()
        self._faults: set[str] = set()
        self.silent = False
        self._script: collections.deque[bytes] = collections.deque()
        self._last_result: bytes | None = None
        self._last_reading = DEFAULT_READING
        self._next_push = 0.0
        self._lock = threading.Lock()
        self._reader = self._new_reader()

    # -- control ---------------------------------------------------------------------





    def queue_reading(self, systolic: int, diastolic: int, pulse: int) -> None:
        """The values of the next measurement (line monitors push it)."""
        with self._lock:
            self.readings.append((systolic, diastolic, pulse))

    def inject(self, fault: str) -> None:
        """Apply a fault (see the module docstring).

        Raises:
            ValueError: unknown fault.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            if fault == "unplug":
                self._script.clear()
                self.port.unplug()
            elif fault == "replug":
                self.port.replug()
                self._reader = self._new_reader()
            elif fault == "silent":
                self.silent = True
                self._script.clear()
            elif fault == "none":
                self.silent = False
                self._faults.clear()
            else:
                self._faults.add(fault)

    def unplug(self) -> None:
        """Pull the cable."""
        self.inject("unplug")

    def replug(self) -> None:
        """Plug it back in (a new pty behind the same link)."""
        self.inject("replug")

    # -- serving ---------------------------------------------------------------------
    def _new_reader(self):
        if self.simulation == "maibobo":
            return maibobo.FrameReader(maibobo.HOST_HEADER)
        if self.simulation == "oem-nibp":
            return nibp.HostReader()
        return None

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.port.plugged:
                self._stop.wait(0.01)
                continue
            try:
                data = self.port.read(4096, timeout=0 if self._script else 0.01)
                with self._lock:
                    if data:
                        self._on_host_bytes(data)
                    self._maybe_push()
                    frame = self._script.popleft() if self._script and not self.silent else None
                if frame is not None:
                    self.port.write(frame)
                    if self._script:
                        self._stop.wait(self.step_s)
            except (PtyUnplugged, OSError):
                self._stop.wait(0.01)

    def _take_reading(self) -> tuple[int, int, int]:
        if self.readings:
            self._last_reading = self.readings.popleft()
        return self._last_reading

    def _take_faults(self) -> set[str]:
        faults, self._faults = self._faults, set()
        return faults

    def _on_host_bytes(self, data: bytes) -> None:
        if self._reader is None:
            return          # line monitors take no commands
        self._reader.feed(data)
        while True:
            try:
                frame = self._reader.next_frame()
            except DriverError:     # a garbled host frame: a real module ignores it
                continue
            if frame is None:
                return
            self.received.append(frame.raw)
            if not self.silent:
                if self.simulation == "maibobo":
                    self._maibobo(frame)
                else:
                    self._nibp(frame)

    # -- Maibobo ---------------------------------------------------------------------
    def _maibobo(self, frame: maibobo.Frame) -> None:
        ack = maibobo.device_frame(frame.type, b"\x00")
        if frame.type == maibobo.STOP:
            self._script.clear()
            self._script.append(ack)
        elif frame.type == maibobo.START:
            self._script.clear()
            self._script.append(ack)
            self._script.extend(self._maibobo_measurement())
        elif frame.type == maibobo.CONNECT:
            self._script.append(ack)

    def _maibobo_measurement(self) -> list[bytes]:
        sys_, dia, pulse = self._take_reading()
        faults = self._take_faults()
        frames = [maibobo.device_frame(maibobo.PRESSURE, p.to_bytes(2, "big"))
                  for p in pressure_profile(sys_, dia)]
        if "cuff_leak" in faults:
            return frames[:2] + [maibobo.device_frame(maibobo.ERROR, b"\x02")]
        result = maibobo.device_frame(maibobo.RESULT, maibobo.result_data(sys_, dia, pulse))
        return self._finish(frames, result, faults)

    # -- OEM NIBP --------------------------------------------------------------------
    def _nibp(self, frame: nibp.Frame) -> None:
        ok = nibp.PACKET_FRAMES[nibp.PACKET_O]
        if frame.raw == nibp.ABORT:
            self._script.clear()
            self._script.append(ok)
        elif frame.raw in (nibp.START_LIVE, nibp.START):
            if nibp.PACKET_FRAMES[nibp.PACKET_K] in self._script:    # still measuring
                self._script.append(nibp.PACKET_FRAMES[nibp.PACKET_B])
                return
            self._script.append(ok)
            self._script.extend(self._nibp_measurement(live=frame.raw == nibp.START_LIVE))
        elif frame.raw == nibp.GET_RESULT:
            if self._last_result is None:
                self._script.append(nibp.module_frame(nibp.KIND_RESULT, nibp.result_data(0, 0, 0, 0x04)))
            else:
                self._script.append(self._last_result)
        else:
            self._script.append(ok)

    def _nibp_measurement(self, live: bool) -> list[bytes]:
        sys_, dia, pulse = self._take_reading()
        faults = self._take_faults()
        frames = [nibp.module_frame(nibp.KIND_PRESSURE, nibp.pressure_data(p))
                  for p in pressure_profile(sys_, dia)] if live else []
        status = 0x05 if "cuff_leak" in faults else 0
        if status:
            frames = frames[:2]
        frames.append(nibp.PACKET_FRAMES[nibp.PACKET_K])
        result = nibp.module_frame(nibp.KIND_RESULT, nibp.result_data(sys_, dia, pulse, status))
        self._last_result = result
        if not live:
            return frames
        return self._finish(frames, result, faults)

    # -- shared: the result frame with the binary faults applied ---------------------
    @staticmethod
    def _finish(frames: list[bytes], result: bytes, faults: set[str]) -> list[bytes]:
        if "bad_checksum" in faults:
            result = result[:-1] + bytes([result[-1] ^ 0xFF])
        if "truncated" in faults:
            result = result[:len(result) // 2]
        if "garbage" in faults:
            frames = [GARBAGE] + frames
        return frames + [result]

    # -- line monitors -----------------------------------------------------------------
    def _maybe_push(self) -> None:
        if not isinstance(self.simulation, LineFormat) or self.silent:
            return
        now = time.monotonic()
        if self.push_every is None:
            if not self.readings:
                return
        elif now < self._next_push:
            return
        else:
            self._next_push = now + self.push_every
        line = self._line(*self._take_reading(), self._take_faults())
        if line:
            self._script.append(line)

    def _line(self, sys_: int, dia: int, pulse: int, faults: set[str]) -> bytes:
        fmt: LineFormat = self.simulation
        leak = "cuff_leak" in faults
        if leak and fmt.error is None:
            return b""          # this monitor prints nothing after a failed measurement
        line = fmt.error(datetime.now()) if leak else fmt.reading(sys_, dia, pulse, datetime.now())
        if "bad_checksum" in faults and not leak:
            # These monitors have no checksum: a corrupted byte shows as a non-digit in SYS.
            i = fmt.systolic_at(line) + 1
            line = line[:i] + b"X" + line[i + 1:]
        if "truncated" in faults:
            line = line[:len(line) // 2]
        if "garbage" in faults:
            line = GARBAGE + line
        return line


# -- command line ------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan sim bp``."""
    parser.add_argument("--protocol", required=True, choices=PROTOCOLS, help="driver name whose bytes to speak")
    parser.add_argument("--link", help="stable path made a symlink to the pty (default: print the pty name)")
    parser.add_argument("--baud", type=int, default=9600, help="wire speed to pace bytes at (default 9600)")
    parser.add_argument("--reading", action="append", default=[], metavar="SYS/DIA[/PULSE]",
                        help="queue a reading (repeatable); default 120/80/72")
    parser.add_argument("--fault", action="append", default=[], choices=FAULTS, help="inject a fault at start")
    parser.add_argument("--every", type=float, default=1.0,
                        help="line monitors: push a reading every S seconds (0: only when one is queued)")


def _reply(**fields) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve a simulated monitor until killed (or ``quit`` / end of input after ``quit``)."""
    try:
        readings = [parse_reading(r) for r in args.reading]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sim = BpSimulator(args.protocol, link=args.link, baud=args.baud, push_every=args.every or None)
    for reading in readings:
        sim.queue_reading(*reading)
    for fault in args.fault:
        sim.inject(fault)
    sim.start()
    _reply(protocol=args.protocol, port=sim.path, baud=args.baud)
    return serve_until_stopped(sim, reading_commands(lambda text: sim.queue_reading(*parse_reading(text))))
