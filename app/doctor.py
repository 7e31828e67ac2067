"""``yizhan doctor``'s checks: is this station healthy, and if not, what should the installer fix.

Each check returns a :class:`Check` (``ok`` / ``warn`` / ``fail`` / ``skip``, one sentence a
person understands, and machine-readable details). :func:`run_checks` runs all of them in a fixed
order; :func:`summary` is the compact form the kiosk puts into its retained status message, so the
hub sees the same verdict. Devices are probed through their drivers (the SAM status command, the
printer's real-time status); inside the running kiosk the device manager's state is used instead,
because the kiosk holds the ports.
"""
from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import ssl
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app import sealing
from drivers import UnknownDriver, load_driver
from drivers.errors import DriverError
from drivers.printer_escpos import PRINTERS
from kiosk.district_clock import machine_zone, zone_mismatch
from kiosk.journal import SCHEMA_VERSION, Journal
from kiosk.outbox import backlog as outbox_backlog
from kiosk.settings import Settings
from kiosk.version import describe
from sync.mqtt import MqttLink
from sync.publisher import KIOSK_SUBSCRIPTIONS

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
#: The checks in the order they run and are printed.
CHECK_NAMES = ("settings", "secrets", "secrets_sealed", "devices", "printer_paper", "broker", "tls_certificate", "clock",
               "time_zone", "disk", "journal", "outbox")
#: Free space below this fails, below WARN_FREE warns (bytes).
FAIL_FREE = 200 * 1024 ** 2
WARN_FREE = 1024 ** 3
#: A TLS certificate expiring within this many days warns.
CERT_WARN_DAYS = 30
#: An unsynced record older than this warns (seconds).
OLDEST_WARN_S = 24 * 3600
SERIAL_KINDS = ("idcard", "bp", "glucose")


@dataclass(frozen=True)
class Check:
    """The result of one check."""

    name: str
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_secrets(settings: Settings, env: Mapping[str, str]) -> Check:
    """The secrets file exists, is not readable by group or others, and the data directory is not
    writable by others."""
    creds = env.get("CREDENTIALS_DIRECTORY")
    path = Path(creds) / "secrets.toml" if creds and (Path(creds) / "secrets.toml").exists() else \
        Path(settings.paths.secrets_file.replace("{data_dir}", str(Path(settings.paths.data_dir).expanduser())))
    details: dict[str, Any] = {"file": str(path)}
    from_env = [k for k in ("YIZHAN_DISTRICT_KEY", "YIZHAN_MQTT_PASSWORD", "YIZHAN_ADMIN_PIN") if env.get(k)]
    if from_env:
        details["from_environment"] = from_env
    if not path.exists():
        if from_env:
            return Check("secrets", OK, "secrets come from the environment", details)
        return Check("secrets", FAIL, f"the secrets file {path} is missing", details)
    mode = _mode(path)
    details["mode"] = f"{mode:04o}"
    if mode & 0o077:
        return Check("secrets", FAIL, f"{path} has mode {mode:04o}: others can read the district key. "
                                      f"Run: chmod 600 {path}", details)
    data_dir = settings.data_dir
    if data_dir.exists() and _mode(data_dir) & 0o002:
        return Check("secrets", FAIL, f"the data directory {data_dir} is writable by everyone. "
                                      f"Run: chmod o-w {data_dir}", details)
    if settings.sync.enabled and settings.sync.username and not settings.secrets.mqtt_password:
        return Check("secrets", FAIL, "sync is on but the MQTT password is missing from the secrets", details)
    return Check("secrets", OK, f"secrets file {path} (mode {mode:04o})", details)


def check_sealed(settings: Settings, env: Mapping[str, str]) -> Check:
    """On an installed station, the district key and the admin PIN hash are sealed to the TPM and
    held nowhere in plaintext (``app.sealing``). ``YIZHAN_SYSTEM_ROOT`` points the check at an
    unpacked system (tests, images); default /."""
    if settings.demo:
        return Check("secrets_sealed", SKIP, "demo mode: the demo's own secrets")
    root = Path(env.get("YIZHAN_SYSTEM_ROOT") or "/")
    data_secrets = Path(settings.paths.secrets_file.replace("{data_dir}", str(settings.data_dir)))
    status, message = sealing.check(root, env, data_secrets)
    return Check("secrets_sealed", status, message, {"sealed": f"/{sealing.SEALED}", "plain": f"/{sealing.PLAIN}"})


def _probe_serial(kind: str, cfg) -> dict[str, Any]:
    cls = load_driver(kind, cfg.driver)
    device = cls(cfg.port, baudrate=cfg.baudrate or None, options=cfg.options)
    device.open()                 # opens the port and runs the model's handshake (SAM: status 11 FF)
    try:
        return {"model": getattr(cls, "MODEL", ""), "answered": True}
    finally:
        device.close()


def _probe_pcsc(cfg) -> dict[str, Any]:
    from smartcard.System import readers
    prefix = str(cfg.options.get("reader_prefix", ""))
    names = [str(r) for r in readers()]
    match = [n for n in names if n.startswith(prefix)]
    if not match:
        raise DriverError(f"no PC/SC reader starts with {prefix!r} (readers: {', '.join(names) or 'none'})")
    return {"reader": match[0], "answered": True}


def probe_devices(settings: Settings) -> dict[str, dict[str, Any]]:
    """Probe every configured, enabled device; returns name -> {state, detail, …}."""
    states: dict[str, dict[str, Any]] = {}
    for name, cfg in settings.devices.items():
        if not cfg.enabled:
            continue
        try:
            if name in SERIAL_KINDS:
                info = _probe_serial(name, cfg)
            elif name == "pcsc":
                info = _probe_pcsc(cfg)
            elif name == "printer":
                info = PRINTERS[cfg.driver](cfg.port, baudrate=cfg.baudrate or None, options=cfg.options).status()
                if not info.get("answered"):
                    raise DriverError(f"the printer on {cfg.port} does not answer status requests")
            else:
                states[name] = {"state": "unchecked", "driver": cfg.driver, "port": cfg.port}
                continue
            states[name] = {"state": "connected", "driver": cfg.driver, "port": cfg.port, **info}
        except (DriverError, UnknownDriver, KeyError, ImportError, OSError) as exc:
            states[name] = {"state": "disconnected", "driver": cfg.driver, "port": cfg.port,
                            "detail": str(exc) or type(exc).__name__}
    return states


def check_devices(states: Mapping[str, Mapping[str, Any]]) -> Check:
    """Every configured device answered."""
    if not states:
        return Check("devices", WARN, "no devices are configured", {})
    bad = {n: s for n, s in states.items() if s.get("state") not in ("connected", "measuring", "unchecked", "starting")}
    details = {n: dict(s) for n, s in states.items()}
    if bad:
        text = "; ".join(f"{n} ({s.get('port', '')}): {s.get('detail') or s.get('state')}" for n, s in sorted(bad.items()))
        return Check("devices", FAIL, f"not answering: {text}. Check the cable and the udev name.", details)
    return Check("devices", OK, f"{len(states)} devices answer: {', '.join(sorted(states))}", details)


def check_printer_paper(states: Mapping[str, Mapping[str, Any]]) -> Check:
    """The slip printer has paper."""
    printer = states.get("printer")
    if not printer:
        return Check("printer_paper", SKIP, "no slip printer is configured")
    paper = printer.get("paper")
    if paper == "out":
        return Check("printer_paper", FAIL, "the slip printer is out of paper", {"paper": paper})
    if paper == "near_end":
        return Check("printer_paper", WARN, "the slip printer's paper is near its end", {"paper": paper})
    if printer.get("state") == "unchecked":
        return Check("printer_paper", SKIP, "checked by yizhan doctor (the kiosk opens the printer only to print)")
    if paper == "ok":
        return Check("printer_paper", OK, "the slip printer has paper", {"paper": paper})
    return Check("printer_paper", WARN, "the printer does not report its paper sensor", {"paper": paper})


def check_broker(settings: Settings, timeout: float = 5.0) -> Check:
    """The station connects to its MQTT broker with its own user, password and client id.

    The shipped broker binds each station login to the client id ``kiosk-<station>`` (no other id
    may log in), so this check uses it too: run alone while the kiosk runs, it takes the kiosk's
    connection for a moment (the kiosk reconnects and resends what was in flight).
    """
    sync = settings.sync
    details = {"host": sync.host, "port": sync.port, "tls": sync.tls}
    if not sync.enabled:
        return Check("broker", SKIP, "sync is off in the settings", details)
    link = MqttLink(host=sync.host, port=sync.port, client_id=f"kiosk-{settings.station.id}",
                    base_topic=sync.base_topic, station=settings.station.id, tls=sync.tls, ca_file=sync.ca_file,
                    username=sync.username, password=settings.secrets.mqtt_password, keepalive=sync.keepalive_s,
                    reconnect_max_s=timeout)
    for suffix, station in KIOSK_SUBSCRIPTIONS:            # what the kiosk subscribes to, each granted?
        link.subscribe(suffix, lambda *message: None, station=station)
    t0 = time.monotonic()
    link.start()
    try:
        if not link.wait_connected(timeout):
            return Check("broker", FAIL, f"cannot connect to the MQTT broker {sync.host}:{sync.port}: "
                                         f"{link.last_error or 'no answer'}", details)
        details["connect_ms"] = round((time.monotonic() - t0) * 1000, 1)
        if not link.wait_subscribed(timeout):
            return Check("broker", FAIL, f"the MQTT broker {sync.host}:{sync.port} did not answer the kiosk's "
                                         "subscriptions", details)
        if link.refused:
            details["refused"] = dict(link.refused)
            docs = sorted({topic.rsplit("/", 2)[-2] + "/" + topic.rsplit("/", 1)[-1] for topic in link.refused})
            return Check("broker", FAIL, f"the broker refuses this station {', '.join(docs)}: those documents never "
                                         "arrive; grant them with yizhan-broker add-station", details)
        return Check("broker", OK, f"connected to {sync.host}:{sync.port} as {sync.username or 'anonymous'}; "
                                   f"all {len(KIOSK_SUBSCRIPTIONS)} subscriptions granted", details)
    finally:
        link.stop()


def check_tls(settings: Settings, timeout: float = 5.0, now: float | None = None) -> Check:
    """The broker's TLS certificate verifies against the configured CA and does not expire soon."""
    sync = settings.sync
    if not (sync.enabled and sync.tls):
        return Check("tls_certificate", SKIP, "TLS is off" if sync.enabled else "sync is off")
    try:
        ctx = ssl.create_default_context(cafile=sync.ca_file or None)
        with socket.create_connection((sync.host, sync.port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=sync.host) as tls:
            cert = tls.getpeercert()
    except (ssl.SSLError, ssl.CertificateError) as exc:
        return Check("tls_certificate", FAIL, f"the broker's certificate is not valid: {exc}")
    except OSError as exc:
        return Check("tls_certificate", FAIL, f"cannot reach {sync.host}:{sync.port} for TLS: {exc}")
    expires = ssl.cert_time_to_seconds(cert["notAfter"])
    days = (expires - (now or time.time())) / 86400
    details = {"not_after": cert["notAfter"], "days_left": round(days, 1)}
    if days < CERT_WARN_DAYS:
        return Check("tls_certificate", WARN, f"the broker's certificate expires in {days:.0f} days", details)
    return Check("tls_certificate", OK, f"certificate valid for {days:.0f} more days", details)


def check_clock(sync_flag: Path = Path("/run/systemd/timesync/synchronized")) -> Check:
    """The system clock is synchronised (records carry wall-clock times; the hub checks the offset)."""
    if sync_flag.exists():
        return Check("clock", OK, "the clock is synchronised by systemd-timesyncd", {"source": str(sync_flag)})
    return Check("clock", WARN, "the clock is not known to be synchronised: enable systemd-timesyncd "
                                "(timedatectl set-ntp true) with the district's time server", {})


def check_zone(settings: Settings) -> Check:
    """The machine's own time zone against the district's (the kiosk uses the district's either way)."""
    zone = settings.station.timezone
    differs = zone_mismatch(zone)
    if differs:
        return Check("time_zone", WARN, differs, {"district": zone, "machine": machine_zone()[0]})
    return Check("time_zone", OK, f"the machine keeps the district's time ({zone})", {"district": zone})


def check_disk(settings: Settings) -> Check:
    """Free space in the data directory, and the journal's size."""
    data_dir = settings.data_dir
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError as exc:
        return Check("disk", FAIL, f"cannot look at {data_dir}: {exc}")
    journal = data_dir / Journal.FILENAME
    size = sum(p.stat().st_size for p in (journal, journal.with_name(journal.name + "-wal")) if p.exists())
    details = {"free_bytes": usage.free, "total_bytes": usage.total, "journal_bytes": size}
    free_mb = usage.free / 1024 ** 2
    if usage.free < FAIL_FREE:
        return Check("disk", FAIL, f"only {free_mb:.0f} MB free in {data_dir}", details)
    if usage.free < WARN_FREE:
        return Check("disk", WARN, f"{free_mb:.0f} MB free in {data_dir}", details)
    return Check("disk", OK, f"{free_mb / 1024:.1f} GB free; journal {size / 1024 ** 2:.1f} MB", details)


def _open_journal(settings: Settings) -> sqlite3.Connection | None:
    path = settings.data_dir / Journal.FILENAME
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def check_journal(settings: Settings) -> Check:
    """The journal passes SQLite's quick check and has a schema this version understands."""
    try:
        db = _open_journal(settings)
        if db is None:
            return Check("journal", WARN, "no journal yet (the kiosk creates it on first start)")
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Check("journal", FAIL, f"the journal cannot be read: {exc}. Restore a backup.")
    details = {"schema_version": version, "supported": SCHEMA_VERSION}
    if result != "ok":
        return Check("journal", FAIL, f"the journal is damaged ({result}); restore a backup", details)
    if version > SCHEMA_VERSION:
        return Check("journal", FAIL, f"the journal has schema {version}, newer than this Yizhan ({SCHEMA_VERSION})",
                     details)
    return Check("journal", OK, f"journal intact, schema {version}", details)


def check_outbox(settings: Settings, now: datetime | None = None) -> Check:
    """How many records wait for the hub, how old the oldest is, and how many the hub refused."""
    try:
        db = _open_journal(settings)
        if db is None:
            return Check("outbox", SKIP, "no journal yet")
        try:
            depth, oldest, rejected = outbox_backlog(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Check("outbox", FAIL, f"the outbox cannot be read: {exc}")
    age = (now or datetime.now(timezone.utc)) - datetime.fromisoformat(oldest) if oldest else None
    details = {"backlog": depth, "oldest_unsynced": oldest, "oldest_age_s": round(age.total_seconds()) if age else None,
               "refused": rejected}
    if rejected:
        return Check("outbox", WARN, f"the hub refused {rejected} records (yizhan hub dead-letters); "
                                     f"{depth} more wait for the hub", details)
    if depth > settings.sync.queue_warn or (age and age.total_seconds() > OLDEST_WARN_S):
        return Check("outbox", WARN, f"{depth} records wait for the hub; the oldest since {oldest}", details)
    return Check("outbox", OK, f"{depth} records wait for the hub" + (f", the oldest since {oldest}" if oldest else ""),
                 details)


def run_checks(settings: Settings, *, env: Mapping[str, str] | None = None,
               device_states: Mapping[str, Mapping[str, Any]] | None = None,
               broker_connected: bool | None = None,
               probe: Callable[[Settings], dict] = probe_devices) -> list[Check]:
    """Every check except ``settings`` (the caller loaded them), in :data:`CHECK_NAMES` order.

    Args:
        device_states: the running kiosk's device states; None probes the devices now.
        broker_connected: the running kiosk's link state; None connects to the broker now.
    """
    env = os.environ if env is None else env
    states = probe(settings) if device_states is None else device_states
    if broker_connected is None or not settings.sync.enabled:
        broker = check_broker(settings)
    elif broker_connected:
        broker = Check("broker", OK, f"the kiosk is connected to {settings.sync.host}:{settings.sync.port}")
    else:
        broker = Check("broker", FAIL, f"the kiosk is not connected to {settings.sync.host}:{settings.sync.port}")
    return [check_secrets(settings, env), check_sealed(settings, env), check_devices(states), check_printer_paper(states),
            broker, check_tls(settings), check_clock(), check_zone(settings), check_disk(settings),
            check_journal(settings), check_outbox(settings)]


def kiosk_device_states(settings: Settings, board: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The configured devices' states as the running kiosk sees them (the printer is only probed by
    ``yizhan doctor``: the kiosk opens it to print)."""
    states: dict[str, dict[str, Any]] = {}
    for name, cfg in settings.devices.items():
        if cfg.enabled:
            states[name] = dict(board.get(name) or {"state": "unchecked" if name == "printer" else "starting"})
            states[name].setdefault("port", cfg.port)
    return states


def healthy(checks: list[Check]) -> bool:
    """No check failed (warnings allowed)."""
    return all(c.status != FAIL for c in checks)


def report(station: str, checks: list[Check]) -> dict[str, Any]:
    """The ``--json`` document."""
    return {"station": station, "healthy": healthy(checks), "version": describe(),
            "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "checks": [asdict(c) for c in checks]}


def summary(checks: list[Check]) -> dict[str, Any]:
    """The compact form for the status message: ``{"ok": bool, "checks": {name: status}, "failing": {name: message}}``."""
    return {"ok": healthy(checks), "checks": {c.name: c.status for c in checks},
            "failing": {c.name: c.message[:200] for c in checks if c.status == FAIL}}
