"""A pseudo-terminal endpoint for simulators: the app opens ``path``; the simulator owns the master.

A pty ignores the baud rate, so :meth:`PtyPort.write` paces bytes at the real wire speed
(start + 8 data + parity + stop bits per byte) when asked to; ``unplug``/``replug`` emulate a USB
serial adapter pulled and plugged back (the stable ``link`` path points at the new pty).
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import termios
import threading
import time
import tty
from pathlib import Path


#: Longest a read holds the port's lock in one go (unplug waits at most this long).
READ_SLICE_S = 0.02


class PtyUnplugged(OSError):
    """The simulated device is unplugged: nothing can be read or written."""


class PtyPort:
    """Master side of a pty, with optional real-baud pacing and unplug/replug.

    Args:
        link: a stable path (like ``/dev/serial/by-id/…``) made a symlink to the current pty;
            without it the app uses the pty's own name.
        baudrate: wire speed to emulate in ``write(..., paced=True)``.
        bits_per_byte: 10 for 8N1, 11 for 8E1/8O1.
    """

    def __init__(self, link: str | os.PathLike | None = None, baudrate: int = 9600,
                 bits_per_byte: int = 10) -> None:
        self.link = Path(link) if link else None
        self.baudrate = baudrate
        self.bits_per_byte = bits_per_byte
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._lock = threading.Lock()
        #: ``time.monotonic()`` right after the last byte was handed to the app (benchmarks).
        self.last_write_at = 0.0
        self.plug()

    @property
    def path(self) -> str:
        """What the app opens: the stable link if there is one, else the pty name."""
        return str(self.link) if self.link else self._slave_name

    @property
    def plugged(self) -> bool:
        """True while the simulated device is connected."""
        return self._master is not None

    def plug(self) -> None:
        """Create a fresh pty (and re-point the link at it)."""
        master, slave = os.openpty()
        tty.setraw(master)
        # Raw mode on the slave too, so no line discipline mangles binary frames before the app
        # sets its own attributes.
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        with self._lock:
            self._master, self._slave = master, slave
            self._slave_name = os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._slave_name)
            os.replace(tmp, self.link)

    def unplug(self) -> None:
        """Close the pty: the app's next read or write fails as with a pulled USB cable."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = None

    replug = plug

    def close(self) -> None:
        """Unplug and remove the link."""
        self.unplug()
        if self.link and self.link.is_symlink():
            self.link.unlink(missing_ok=True)

    def wire_seconds(self, nbytes: int) -> float:
        """Time ``nbytes`` take on a real wire at this port's baud rate."""
        return nbytes * self.bits_per_byte / self.baudrate

    def read(self, n: int = 4096, timeout: float | None = None) -> bytes:
        """Read what the app sent: up to ``n`` bytes, b'' on timeout.

        Raises:
            PtyUnplugged: the port is unplugged.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # The descriptor is used under the lock in short slices: unplug() cannot close it (and
            # a replug or another thread reuse its number) while a select or read is on it.
            with self._lock:
                master = self._master
                if master is None:
                    raise PtyUnplugged("unplugged")
                left = READ_SLICE_S if deadline is None else max(0.0, min(READ_SLICE_S, deadline - time.monotonic()))
                ready, _, _ = select.select([master], [], [], left)
                if ready:
                    try:
                        return os.read(master, n)
                    except OSError as exc:
                        raise PtyUnplugged(str(exc)) from exc
            if deadline is not None and time.monotonic() >= deadline:
                return b""

    def read_exact(self, n: int, timeout: float) -> bytes:
        """Read exactly ``n`` bytes, or fewer if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            buf += self.read(n - len(buf), left)
        return buf

    def write(self, data: bytes, paced: bool = True, chunk: int = 16) -> None:
        """Send bytes to the app, at the emulated baud rate when ``paced``.

        Raises:
            PtyUnplugged: the port is unplugged (also mid-frame, if unplug() races the write).
        """
        start = time.monotonic()
        sent = 0
        while sent < len(data):
            piece = data[sent:sent + (chunk if paced else len(data))]
            with self._lock:
                master = self._master
                if master is None:
                    raise PtyUnplugged("unplugged")
                try:
                    os.write(master, piece)
                except OSError as exc:
                    raise PtyUnplugged(str(exc)) from exc
            sent += len(piece)
            self.last_write_at = time.monotonic()
            if paced:
                delay = start + self.wire_seconds(sent) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)


class PtySimulator:
    """What every pty simulator shares: ``port`` (a :class:`PtyPort`), ``path``, ``start()`` serving
    ``_serve`` on a daemon thread until ``stop()``, and use as a context manager.

    Subclasses set ``self.port`` and call ``super().__init__()``; ``_serve`` loops until ``self._stop``.
    """

    port: PtyPort
    thread_name = "sim"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        """What the app opens."""
        return self.port.path

    def _serve(self) -> None:
        raise NotImplementedError

    def start(self):
        """Serve on a background thread; returns self."""
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the pty."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.port.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_until_stopped(sim, command_loop) -> int:
    """Serve a started simulator until SIGTERM, Ctrl-C or ``command_loop`` sets the event it gets.

    ``command_loop(sim, done)`` runs on a daemon thread (it reads stdin commands). Returns 0.
    """
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=command_loop, args=(sim, done), daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0


def reading_commands(apply_reading):
    """The stdin command loop of the measuring-device simulators, for :func:`serve_until_stopped`.

    Commands: ``reading X`` (``apply_reading(X)``; ValueError for a bad value), ``fault NAME``,
    ``unplug``, ``replug``, ``quit``. Each is answered with one JSON line, ``{"ok": true, ...}`` or
    ``{"ok": false, "error": ...}``.
    """
    def loop(sim, done: threading.Event) -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "reading" and len(words) == 2:
                    apply_reading(words[1])
                elif words[0] == "fault" and len(words) == 2:
                    sim.inject(words[1])
                elif words[0] in ("unplug", "replug") and len(words) == 1:
                    sim.inject(words[0])
                elif words[0] == "quit":
                    done.set()
                    return
                else:
                    raise ValueError("commands: reading VALUE | fault NAME | unplug | replug | quit")
            except ValueError as exc:
                answer = {"ok": False, "error": str(exc)}
            else:
                answer = {"ok": True, "command": line.strip(), "port": sim.path}
            print(json.dumps(answer, ensure_ascii=False), flush=True)
    return loop
