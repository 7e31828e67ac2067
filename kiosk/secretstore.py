"""Secrets of a kiosk: the district key, the MQTT password and the admin PIN hash.

They come from the environment (``YIZHAN_DISTRICT_KEY``, ``YIZHAN_MQTT_PASSWORD``,
``YIZHAN_ADMIN_PIN``), from systemd credentials (``$CREDENTIALS_DIRECTORY/district_key``,
``…/mqtt_password``, ``…/admin_pin_hash``: ``LoadCredentialEncrypted=`` keeps the district key
encrypted at rest, bound to the kiosk's TPM), or from a secrets file outside git
(``<data_dir>/secrets.toml`` by default). The file must be mode 0600 (no group or other bits) and
may not hold a plaintext ``admin_pin``; the demo writes its own atomically, so a full disk never
leaves an empty one. Admin PINs are 6 to 12 digits, hashed with scrypt.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets as pysecrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: PIN of demo mode only (documented in the README); a real station sets its own.
DEMO_ADMIN_PIN = "246813"
#: The PIN of demo data directories made before PINs needed 6 digits (their hash is migrated).
_OLD_DEMO_ADMIN_PIN = "2468"
#: Admin PINs are this many digits at least, and at most ``PIN_MAX_DIGITS``.
PIN_MIN_DIGITS = 6
PIN_MAX_DIGITS = 12
#: scrypt cost of the admin PIN hash: 2^14 x 8 x 128 B = 16 MiB per check.
PIN_HASH_COST = {"n": 2 ** 14, "r": 8, "p": 1}
#: Names a secret may have (file keys, and file names in ``$CREDENTIALS_DIRECTORY``).
SECRET_NAMES = ("district_key", "mqtt_password", "admin_pin_hash")



@dataclass(frozen=True)
class Secrets:
    """Secrets, from the environment or the secrets file; never from ``config/``."""

    district_key: bytes = field(repr=False)
    mqtt_password: str = field(repr=False)
    admin_pin_hash: str = field(repr=False)


def read_toml(path: Path, errors: list[str]) -> dict:
    """A TOML file as a dict; a problem is appended to ``errors`` (and {} returned)."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        errors.append(f"{path}: file not found")
    except PermissionError:
        errors.append(f"{path}: not readable (check its permissions)")
    except tomllib.TOMLDecodeError as exc:
        errors.append(f"{path}: not valid TOML: {exc}")
    except OSError as exc:
        errors.append(f"{path}: cannot read: {exc}")
    return {}


# --- admin PIN hashing -------------------------------------------------------------------------

def pin_format_ok(pin: str) -> bool:
    """True for a PIN of :data:`PIN_MIN_DIGITS` to :data:`PIN_MAX_DIGITS` ASCII digits."""
    return pin.isascii() and pin.isdigit() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """An scrypt hash of a PIN: ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (:data:`PIN_HASH_COST`)."""
    salt = salt or pysecrets.token_bytes(16)
    cost = PIN_HASH_COST
    digest = hashlib.scrypt(pin.encode(), salt=salt, maxmem=64 * 1024 * 1024, dklen=32, **cost)
    return f"scrypt${cost['n']}${cost['r']}${cost['p']}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """Constant-time check of a PIN against :func:`hash_pin`'s output (False for any other format,
    and for costs outside what :func:`hash_pin` could have written ten years from now)."""
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        if algo != "scrypt" or not (2 ** 10 <= n <= 2 ** 20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 4):
            return False
        got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=n, r=r, p=p,
                             maxmem=256 * 1024 * 1024, dklen=len(bytes.fromhex(digest)) or 32)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# --- secrets files -------------------------------------------------------------------------------

def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600: a temporary file in the same directory,
    flushed to disk, then linked into place. A full disk or a crash leaves either no file or the
    whole file, never an empty one.

    Raises:
        FileExistsError: ``path`` appeared meanwhile (another process wrote it first).
        OSError: the directory is not writable or the disk is full (nothing is left behind).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{pysecrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except FileExistsError:
        raise
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _demo_secrets_text(data: Mapping[str, str]) -> str:
    return ("# Demo secrets, generated on first run. Never use them on a real station.\n"
            + "".join(f'{k} = "{v}"\n' for k, v in data.items()))


def _unsafe_mode(path: Path, errors: list[str]) -> bool:
    """Refuse a secrets file that other users may read or change (or a path that is not a file)."""
    try:
        st = path.stat()
    except OSError as exc:
        errors.append(f"{path}: cannot read: {exc.strerror or exc}")
        return True
    if not stat.S_ISREG(st.st_mode):
        errors.append(f"{path}: not a regular file")
        return True
    if st.st_mode & 0o077:
        errors.append(f"{path}: mode {stat.S_IMODE(st.st_mode):04o} lets other users read or change the secrets; "
                      f"run: chmod 600 {path}")
        return True
    return False


def _demo_secrets(path: Path, errors: list[str]) -> dict:
    """The demo data directory's secrets: generated on first run, and migrated from a 4-digit PIN.

    The PIN is hashed only when a file is written: a scrypt hash costs some 50 ms of every start."""
    if path.exists() and path.stat().st_size == 0:
        path.unlink()                 # left by a Yizhan that wrote secrets non-atomically on a full disk
    if not path.exists():
        fresh = {"district_key": pysecrets.token_hex(32), "admin_pin_hash": hash_pin(DEMO_ADMIN_PIN)}
        try:
            write_private_file(path, _demo_secrets_text(fresh))
            return fresh
        except FileExistsError:
            pass
        except OSError as exc:
            errors.append(f"{path}: cannot write demo secrets: {exc.strerror or exc}")
            return {}
    if _unsafe_mode(path, errors):
        return {}
    data = read_toml(path, errors)
    old_hash = str(data.get("admin_pin_hash", ""))
    if old_hash.startswith("pbkdf2_sha256$") and _legacy_pin_ok(_OLD_DEMO_ADMIN_PIN, old_hash):
        data = {**data, "admin_pin_hash": hash_pin(DEMO_ADMIN_PIN)}
        try:
            tmp = path.with_name(path.name + ".new")
            tmp.unlink(missing_ok=True)
            write_private_file(tmp, _demo_secrets_text(data))
            os.replace(tmp, path)
        except OSError as exc:
            errors.append(f"{path}: cannot migrate the demo PIN: {exc.strerror or exc}")
    return data


def _legacy_pin_ok(pin: str, stored: str) -> bool:
    try:
        _algo, iterations, salt, digest = stored.split("$")
        got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), min(int(iterations), 1_000_000))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def _credentials(env: Mapping[str, str], errors: list[str]) -> dict:
    """Secrets passed as systemd credentials (``LoadCredential=``/``LoadCredentialEncrypted=``)."""
    folder = env.get("CREDENTIALS_DIRECTORY")
    out: dict[str, str] = {}
    if not folder:
        return out
    for name in SECRET_NAMES:
        path = Path(folder) / name
        try:
            out[name] = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read the credential: {exc}")
    return out


#: Secrets the kiosk cannot run without; a command that needs fewer names them (``load_settings(need=…)``).
KIOSK_SECRETS = frozenset({"district_key", "admin_pin_hash"})


def load_secrets(path: Path, env: Mapping[str, str], demo: bool, errors: list[str],
                 need: frozenset[str] = KIOSK_SECRETS) -> Secrets:
    """The secrets, from the environment, systemd credentials and the file at ``path``; every problem
    is appended to ``errors``. A missing secret is an error only when ``need`` names it; a
    malformed or unsafe one always is."""
    data: dict = {}
    if demo:
        data = _demo_secrets(path, errors)
    elif path.exists():
        if path.stat().st_size == 0:
            errors.append(f"{path}: the secrets file is empty; write district_key, mqtt_password and "
                          "admin_pin_hash (from: yizhan kiosk --hash-pin) into it")
        elif not _unsafe_mode(path, errors):
            data = read_toml(path, errors)
    data = {**data, **_credentials(env, errors)}
    src = str(path)
    for extra in sorted(set(data) - set(SECRET_NAMES) - {"admin_pin"}):
        errors.append(f"{src}: {extra}: unknown secret")
    if "admin_pin" in data:
        errors.append(f"{src}: admin_pin: a plaintext PIN is refused; replace it by admin_pin_hash = \"…\" "
                      "from: yizhan kiosk --hash-pin")
    key_hex = env.get("YIZHAN_DISTRICT_KEY") or data.get("district_key", "")
    key = b""
    try:
        key = bytes.fromhex(str(key_hex))
    except ValueError:
        errors.append(f"{src}: district_key: must be hex (64 hex digits = 32 bytes)")
    if key_hex and len(key) < 16:
        errors.append(f"{src}: district_key: must be at least 32 hex digits (16 bytes)")
    if not key_hex and "district_key" in need:
        errors.append(f"{src}: district_key: missing; set YIZHAN_DISTRICT_KEY or write it in {path}")
    pin = env.get("YIZHAN_ADMIN_PIN")
    pin_hash = data.get("admin_pin_hash", "")
    if pin is not None:
        if pin_format_ok(pin):
            pin_hash = hash_pin(pin)
        else:
            errors.append(f"YIZHAN_ADMIN_PIN: must be {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")
    elif str(pin_hash).startswith("pbkdf2_sha256$"):
        errors.append(f"{src}: admin_pin_hash: made by an earlier Yizhan (PBKDF2, PINs from 4 digits); choose a PIN "
                      f"of at least {PIN_MIN_DIGITS} digits and replace the hash with the output of: "
                      "yizhan kiosk --hash-pin")
    elif pin_hash and not str(pin_hash).startswith("scrypt$"):
        errors.append(f"{src}: admin_pin_hash: not a hash from yizhan kiosk --hash-pin")
    if not pin_hash and "admin_pin" not in data and pin is None and "admin_pin_hash" in need:
        errors.append(f"{src}: admin_pin_hash: missing; set admin_pin_hash (yizhan kiosk --hash-pin prints one)")
    return Secrets(district_key=key, mqtt_password=env.get("YIZHAN_MQTT_PASSWORD") or data.get("mqtt_password", ""),
                   admin_pin_hash=str(pin_hash))
