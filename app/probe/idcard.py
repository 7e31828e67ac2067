"""``yizhan probe idcard``: wait for one ID card, read it once, print one JSON object.

For installers checking a reader on site. The output carries only masked forms (name, number),
the birth year, gender, validity, the check-digit result, timings and, when a district key is
available, the person key. The full number never appears.

Output and exit codes follow the form every probe shares (``app.probe``): 0 read, 1 device error
(port, timeout, card), 2 usage or configuration error (a bad number such as ``--timeout nan``).
"""
from __future__ import annotations

import argparse
import os
import tomllib
from datetime import date
from pathlib import Path

from app.probe import ProbeUsageError, fail, seconds, succeed, whole
from drivers.errors import DriverError, UnsupportedFeature
from drivers.idcard_sam import IdCardReader
from drivers.protocols.sam import SamStatusError
from kiosk.privacy import mask_id_number, mask_name, person_key, redact_id_numbers

class ConfigError(ValueError):
    """A bad option or district key (exit code 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan probe idcard``."""
    parser.add_argument("--port", required=True, help="pyserial URL: /dev/serial/by-id/..., hwgrep://VID:PID, "
                                                      "socket://host:port or a pty path")
    parser.add_argument("--baud", default="115200", help="reader baud rate (default 115200)")
    parser.add_argument("--timeout", default="30", help="seconds to wait for a card (default 30)")
    parser.add_argument("--fingerprint", action="store_true", help="use the text+photo+fingerprint read (30 10)")
    parser.add_argument("--key-file", type=Path, help="district key: a file holding the hex key, or a secrets "
                                                      "TOML with district_key (default: YIZHAN_DISTRICT_KEY)")


def load_district_key(key_file: Path | None, env: dict[str, str] | os._Environ = os.environ) -> bytes | None:
    """The district key from ``key_file`` or ``YIZHAN_DISTRICT_KEY``, or None when neither is set.

    Raises:
        ConfigError: unreadable file, not hex, or shorter than 16 bytes.
    """
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read key file {key_file}: {exc}") from exc
        try:
            text = str(tomllib.loads(text).get("district_key", ""))
        except tomllib.TOMLDecodeError:
            pass
        source = str(key_file)
    else:
        text = env.get("YIZHAN_DISTRICT_KEY", "")
        source = "YIZHAN_DISTRICT_KEY"
        if not text:
            return None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(f"district key in {source} is not hex") from None
    if len(key) < 16:
        raise ConfigError(f"district key in {source} is shorter than 16 bytes (32 hex digits)")
    return key


def probe(args: argparse.Namespace, key: bytes | None) -> dict:
    """Open the reader, wait for a card, read it once; the JSON-able result.

    Raises:
        DriverError: any device failure, typed.
    """

    with IdCardReader(args.port, baudrate=int(args.baud)) as reader:
        try:
            sam_id: str | None = reader.sam_id()
        except SamStatusError:
            sam_id = None   # some readers do not answer 12 FF; the id is optional
        document, timings = reader.read_when_presented(float(args.timeout), args.fingerprint)
    today = date.today()
    out = {
        "kind": document.kind.value,
        "name": mask_name(document.display_name),
        "number": mask_id_number(document.number),
        "birth_year": document.birth_date.year,
        "gender": document.gender.name.lower(),
        "valid_from": document.valid_from.isoformat(),
        "valid_until": document.valid_until.isoformat() if document.valid_until else None,
        "long_term": document.long_term,
        "expired": document.expired(today),
        "check_digit_ok": document.check_digit_ok,
        "photo_present": document.photo_present,
        "sam_id": sam_id,
        "port": args.port,
        "baudrate": int(args.baud),
        "timings_ms": timings.as_ms(),
    }
    if key is not None:
        out["person_key"] = person_key(key, document.number)
    else:
        out["person_key_missing"] = "no district key: set YIZHAN_DISTRICT_KEY (hex) or pass --key-file"
    return out


def run(args: argparse.Namespace) -> int:
    """Run the probe; print one JSON object (see ``app.probe`` for the form)."""
    try:
        args.timeout = seconds(args.timeout)
        args.baud = whole(args.baud, "--baud", 300, 4_000_000)
        key = load_district_key(args.key_file)
        result = probe(args, key)
    except (ProbeUsageError, ConfigError, UnsupportedFeature) as exc:
        return fail("idcard", 2, type(exc).__name__, redact_id_numbers(str(exc)))
    except DriverError as exc:
        return fail("idcard", 1, type(exc).__name__, f"{type(exc).__name__}: {redact_id_numbers(str(exc))}",
                    user_key=getattr(exc, "user_key", None))
    return succeed("idcard", result)
