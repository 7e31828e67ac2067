"""A stand-in for systemd in the cage test (no systemd runs in the test container).

It does for one service what ``yizhan-kiosk.service`` asks of systemd: ``Type=notify`` with a
``NOTIFY_SOCKET`` (READY=1, WATCHDOG=1), ``Restart=always`` with ``RestartSec``, and a watchdog that
kills the whole session when the pings stop for ``WatchdogSec``. Events are recorded with their
monotonic times for the test to assert on.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


class Supervisor:
    """Runs ``cmd`` and restarts it like systemd would.

    Args:
        cmd: the command (started in its own process group).
        env: its environment (NOTIFY_SOCKET and WATCHDOG_USEC are added).
        notify_path: where to bind the notification socket (must be writable by the service user).
        watchdog_s: WatchdogSec.
        restart_s: RestartSec.
        log: the service's stdout/stderr file.
    """

    def __init__(self, cmd: list[str], env: dict[str, str], notify_path: Path, *, watchdog_s: float,
                 restart_s: float, log: Path) -> None:
        self.cmd, self.log = cmd, log
        self.watchdog_s, self.restart_s = watchdog_s, restart_s
        self.env = {**env, "NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": str(int(watchdog_s * 1e6)),
                    "WATCHDOG_PID": "1"}          # systemd names the main process (cage), never the kiosk
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(notify_path))
        os.chmod(notify_path, 0o666)
        self.sock.settimeout(0.2)
        self.events: list[tuple[str, float]] = []
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> Supervisor:
        """Start the service and supervise it."""
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self._event("start")

    def _event(self, name: str) -> None:
        with self._lock:
            self.events.append((name, time.monotonic()))

    def count(self, name: str) -> int:
        """How many events of that name so far."""
        with self._lock:
            return sum(1 for n, _ in self.events if n == name)

    def last(self, name: str) -> float | None:
        """Time of the last event of that name."""
        with self._lock:
            times = [t for n, t in self.events if n == name]
        return times[-1] if times else None

    def wait(self, name: str, count: int, timeout: float) -> bool:
        """Wait until ``count`` events of that name happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(name) >= count:
                return True
            time.sleep(0.1)
        return False

    def _kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def _run(self) -> None:
        ready = False
        last_ping = time.monotonic()
        while not self._stop.is_set():
            try:
                message = self.sock.recv(4096).decode()
                if message.startswith("READY=1"):
                    ready, last_ping = True, time.monotonic()
                    self._event("ready")
                elif message == "WATCHDOG=1":
                    last_ping = time.monotonic()
                    self._event("ping")
            except TimeoutError:
                pass
            if self.proc.poll() is not None:
                self._event("exit")
            elif ready and time.monotonic() - last_ping > self.watchdog_s:
                self._event("watchdog")          # systemd: "Watchdog timeout", SIGABRT, then SIGKILL
                self._kill_group()
                self._event("exit")
            else:
                continue
            ready = False
            if self._stop.wait(self.restart_s):
                return
            self._spawn()
            last_ping = time.monotonic()

    def stop(self) -> None:
        """Stop supervising and kill the service."""
        self._stop.set()
        self._thread.join(5)
        if self.proc and self.proc.poll() is None:
            self._kill_group()
        self.sock.close()
