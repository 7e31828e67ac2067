"""Real services for tests, started as child processes and stopped by PID: Mosquitto and pcscd."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def port_open(host: str, port: int) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        socket.create_connection((host, port), 0.2).close()
        return True
    except OSError:
        return False


def stop_pid(proc: subprocess.Popen, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Stop a child by PID: ``sig``, then SIGKILL if it does not exit within ``timeout``."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Mosquitto:
    """A Mosquitto broker on its own loopback port, in its own directory.

    Args:
        workdir: where the config (and log) go.
        port: fixed port (default: a free one); kept across stop()/start() for restart tests.
        extra_config: more mosquitto.conf lines (ACLs, password file, listeners).
        config: a complete mosquitto.conf instead (its first listener must be ``port`` on 127.0.0.1).
    """

    def __init__(self, workdir: Path, port: int | None = None, extra_config: str = "",
                 anonymous: bool = True, config: str | None = None) -> None:
        if not shutil.which("mosquitto"):
            raise RuntimeError("mosquitto is not installed (make test installs it: apt-get install mosquitto)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        if config is not None:                # a complete configuration (listeners included)
            self.conf.write_text(config)
            self.proc = None
            return
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            f"allow_anonymous {'true' if anonymous else 'false'}\n"
            "persistence false\n"
            f"log_dest file {self.log}\n"
            "max_queued_messages 100000\n"
            "set_tcp_nodelay true\n"
            + extra_config)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        """Start the broker and wait until it accepts connections (stopped by PID if it does not)."""
        proc = self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: proc.poll() is not None or port_open(self.host, self.port), 10):
            self.stop()
            raise RuntimeError("mosquitto did not come up")
        if proc.poll() is None:
            # What answers may be another test process's broker that took the same free port a moment
            # earlier: ours then exits at once (address in use).
            time.sleep(0.05)
        if proc.poll() is not None:
            self.proc = None
            raise RuntimeError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the broker by PID and wait until the port is free."""
        if self.proc:
            stop_pid(self.proc, sig=sig)
            self.proc = None
            wait_for(lambda: not port_open(self.host, self.port), 5)

    @property
    def running(self) -> bool:
        """True while the broker process lives."""
        return self.proc is not None and self.proc.poll() is None


class Pcscd:
    """pcscd in the foreground with vsmartcard's vpcd driver (readers 'Virtual PCD 00 00'/'00 01')."""

    VPCD_CONF = Path("/etc/reader.conf.d/vpcd")

    def __init__(self) -> None:
        if not shutil.which("pcscd") and not Path("/usr/sbin/pcscd").exists():
            raise RuntimeError("pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)")
        if not self.VPCD_CONF.exists():
            raise RuntimeError("vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)")
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def readers() -> list[str]:
        """Reader names pcscd reports now, [] when it is down."""
        try:
            from smartcard.System import readers
            return [str(r) for r in readers()]
        except Exception:
            return []

    def start(self) -> Pcscd:
        """Start pcscd (unless one already serves the virtual readers) and wait for the readers."""
        if any(r.startswith("Virtual PCD") for r in self.readers()):
            return self
        exe = shutil.which("pcscd") or "/usr/sbin/pcscd"
        self.proc = subprocess.Popen([exe, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: any(r.startswith("Virtual PCD") for r in self.readers()), 10):
            raise RuntimeError("pcscd did not come up with the Virtual PCD readers")
        return self

    def stop(self) -> None:
        """Stop pcscd by PID (it needs 1-2 s to exit) if this object started it."""
        if self.proc:
            stop_pid(self.proc)
            self.proc = None
            wait_for(lambda: not port_open("127.0.0.1", 35963), 5)
