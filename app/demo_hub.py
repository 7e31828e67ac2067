"""A local Mosquitto, hub and workbench for ``make run`` (and the benchmark): own free ports, stopped by PID.

    services = start_demo_services(data_dir)     # None when mosquitto is not installed
    ...                                          # settings: sync.host/port = services.host/port,
    ...                                          # sync.document_public_key = services.public_key
    services.stop()

The demo hub has its own document signing key (``<data_dir>/demo-hub/hub-signing.key``, made on
first start) and publishes its signed documents at start (:mod:`app.demo_documents`), which the demo
kiosk verifies and applies.

Without Mosquitto the kiosk simply queues records in its outbox.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hub.store import HubStore
from hub.web.accounts import AccountError, get_user
from hub.web.demo import ACCOUNTS, seed  # noqa: F401  (ACCOUNTS: app.main prints the demo sign-in)
from sync.documents import generate_signing_key, load_signing_key, public_key_hex

#: What the demo hub publishes (signed) at start: the teams; each volunteer's hub balance is added.


class DemoError(RuntimeError):
    """A demo service did not start; the text says which and shows its log."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The demo workbench's address stays the same from start to start when it can (a bookmark works).
DEMO_WEB_PORT = 8765


def stable_port(memo: Path, preferred: int = DEMO_WEB_PORT) -> int:
    """The port remembered in ``memo`` (else ``preferred``) when nothing listens there, else a free
    one; the choice is remembered for the next start. ``YIZHAN_DEMO_ANY_PORT=1`` takes a free port
    every time (tests run several demos at once, which must not race for one remembered port)."""
    if os.environ.get("YIZHAN_DEMO_ANY_PORT") == "1":
        return free_port()
    try:
        wanted = int(memo.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        wanted = preferred
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", wanted))
        port = wanted
    except OSError:
        port = free_port()
    try:
        memo.write_text(str(port), encoding="utf-8")
    except OSError:
        pass
    return port


def _port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), 0.2).close()
        return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def mosquitto_available() -> bool:
    """True when the ``mosquitto`` binary is installed."""
    return bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())


class LocalBroker:
    """A Mosquitto on 127.0.0.1 with anonymous access, for demos and benchmarks.

    Args:
        workdir: where its config and log go.
        port: default a free port.
        max_queued: messages the broker holds for a slow subscriber before it drops more.
        message_size_limit: the largest payload it accepts in bytes (0: no limit); a larger message
            is dropped, as a broker configured so drops it.
    """

    def __init__(self, workdir: Path | str, port: int | None = None, max_queued: int = 100000,
                 message_size_limit: int = 0) -> None:
        self.workdir = Path(workdir)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.max_queued = max_queued
        self.message_size_limit = message_size_limit
        self.proc: subprocess.Popen | None = None

    def start(self) -> LocalBroker:
        """Start it and wait until it accepts connections.

        Raises:
            DemoError: not installed or did not come up.
        """
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not mosquitto_available():
            raise DemoError("mosquitto is not installed (apt-get install mosquitto)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf, logf = self.workdir / "mosquitto.conf", self.workdir / "mosquitto.log"
        conf.write_text(f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\n"
                        f"log_dest file {logf}\nmax_queued_messages {self.max_queued}\nset_tcp_nodelay true\n"
                        f"message_size_limit {self.message_size_limit}\n")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None and not _port_open(self.host, self.port):
            time.sleep(0.02)
        if self.proc.poll() is not None or not _port_open(self.host, self.port):
            self.stop()
            raise DemoError(f"mosquitto did not start: {logf.read_text() if logf.exists() else ''}")
        return self

    def stop(self) -> None:
        """Stop it by PID."""
        _stop(self.proc)
        self.proc = None


class HubProcess:
    """``yizhan hub run`` as a child process.

    Args:
        db: SQLite path or URL.
        host, port: the broker.
        name: the hub process name.
        log_file: where its output goes (default discarded).
    """

    def __init__(self, db: str, host: str, port: int, name: str = "hub-demo", log_file: Path | None = None,
                 extra_args: list[str] | None = None) -> None:
        flags = ["-S"] if sys.flags.no_site else []         # import from where this process does
        self.cmd = [sys.executable, *flags, "-m", "app.cli", "hub", "run", "--db", db, "--host", host, "--port", str(port),
                    "--name", name, *(extra_args or [])]
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> HubProcess:
        """Start it and wait for its ready line.

        Raises:
            DemoError: it exited or did not get ready in time.
        """
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "ready" in line:
                break
        else:
            line = ""
        if not lines or "ready" not in lines[-1]:
            self.stop()
            raise DemoError("the hub did not start: " + "".join(lines)[-2000:])
        self._drain()
        return self

    def _drain(self) -> None:
        import threading

        def pump(stream, sink):
            for line in stream:
                if sink:
                    sink.write(line)
                    sink.flush()
        sink = open(self.log_file, "a", encoding="utf-8") if self.log_file else None  # noqa: SIM115 (the pump's)
        threading.Thread(target=pump, args=(self.proc.stdout, sink), daemon=True).start()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it by PID (``SIGKILL`` to simulate a crash)."""
        _stop(self.proc, sig)
        self.proc = None

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.proc is not None and self.proc.poll() is None


class WebProcess:
    """``yizhan hub web`` as a child process beside the demo hub (same database, same broker).

    Args:
        db: SQLite path.
        broker_port: where it publishes documents.
        log_file: where its output goes.
        port: where it listens (default: any free port).
    """

    def __init__(self, db: str, broker_port: int, log_file: Path | None = None,
                 signing_key: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.cmd = [sys.executable, "-m", "app.cli", "hub", "web", "--db", db, "--port", str(self.port),
                    "--broker-port", str(broker_port)] + (["--signing-key", str(signing_key)] if signing_key else [])
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> WebProcess:
        """Start it and wait until it accepts connections.

        Raises:
            DemoError: it exited or did not come up in time.
        """
        out = open(self.log_file, "a", encoding="utf-8") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None and not _port_open("127.0.0.1", self.port):
            time.sleep(0.05)
        if self.proc.poll() is not None or not _port_open("127.0.0.1", self.port):
            self.stop()
            raise DemoError(f"the workbench did not start (see {self.log_file})")
        return self

    def stop(self) -> None:
        """Stop it by PID."""
        _stop(self.proc)
        self.proc = None


@dataclass
class DemoServices:
    """Handles of the demo broker, hub and workbench; :meth:`stop` ends them."""

    broker: LocalBroker
    hub: HubProcess
    db_path: Path
    web: WebProcess | None = None
    #: The demo hub's document key (64 hex digits) for the kiosk's ``sync.document_public_key``.
    public_key: str = ""
    publishing: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        """Broker host for the kiosk's sync settings."""
        return self.broker.host

    @property
    def port(self) -> int:
        """Broker port for the kiosk's sync settings."""
        return self.broker.port

    def stop(self) -> None:
        """Stop the roster publish (if still running), the workbench, the hub, then the broker, by PID."""
        _stop(self.publishing)
        if self.web:
            self.web.stop()
        self.hub.stop()
        self.broker.stop()


def _seed_workbench(db: Path, station: str) -> None:
    store = HubStore(str(db), name="demo-seed")
    try:
        get_user(store.engine, "jiedao")
    except AccountError:
        seed(store.engine, staff_station=station)
    finally:
        store.close()


def start_demo_services(data_dir: Path | str, station: str = "demo-001", web: bool = True) -> DemoServices | None:
    """Start a local broker, hub (``<data_dir>/demo-hub/hub.sqlite3``) and workbench on free ports.

    The workbench's database gets the demo day of three other stations and the demo accounts
    (:data:`hub.web.demo.ACCOUNTS`; the staff account works at ``station``) the first time.

    Returns:
        the handles, or None when Mosquitto is not installed (the kiosk then just queues).

    Raises:
        DemoError: a service was installed but did not start.
    """
    if not mosquitto_available():
        return None
    folder = Path(data_dir) / "demo-hub"
    broker = LocalBroker(folder / "mosquitto").start()
    db = folder / "hub.sqlite3"
    try:
        if web:
            _seed_workbench(db, station)
        hub = HubProcess(str(db), broker.host, broker.port, log_file=folder / "hub.log").start()
    except BaseException:
        broker.stop()
        raise
    key_file = folder / "hub-signing.key"
    if not key_file.exists():
        generate_signing_key(key_file)
    public = public_key_hex(load_signing_key(key_file))
    # In the background: the roster, calendar, catalog and station information, retained and signed;
    # the kiosk picks them up whenever it connects (app.demo_documents).
    with open(folder / "publish.log", "a", encoding="utf-8") as out:
        publishing = subprocess.Popen([sys.executable, "-m", "app.demo_documents", "--db", str(db),
                                       "--host", broker.host, "--port", str(broker.port),
                                       "--signing-key", str(key_file), "--station", station,
                                       "--local-roster", str(Path(data_dir) / "roster.json")],
                                      stdout=out, stderr=subprocess.STDOUT)
    services = DemoServices(broker, hub, db, public_key=public, publishing=publishing)
    if web:
        try:
            try:
                services.web = WebProcess(str(db), broker.port, log_file=folder / "web.log", signing_key=key_file,
                                          port=stable_port(folder / "web.port")).start()
            except DemoError:            # another program took the remembered port meanwhile: any free one
                services.web = WebProcess(str(db), broker.port, log_file=folder / "web.log",
                                          signing_key=key_file).start()
        except BaseException:
            services.stop()
            raise
    return services
