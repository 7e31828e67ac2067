"""The station's secrets sealed to its TPM: ``systemd-creds encrypt --with-key=tpm2`` at installation,
``LoadCredentialEncrypted=`` in the units, and the doctor's check that nothing is left in plaintext.

The station package's units load ``secrets.toml`` (district key, MQTT password, admin PIN hash) from
:data:`SEALED`, a credential only this PC's TPM decrypts: a copied or stolen disk holds the blob,
not the key. Without a TPM the credential is encrypted with systemd's host key, which lives on the
same disk: the units work the same, but a stolen disk yields the district key and the PIN hash
(docs/kiosk-disk.md says what that allows). :data:`PLAIN` is where the installer writes the
secrets; ``yizhan seal-secrets`` (run by the package's postinst when that file holds anything)
seals it and erases it.
"""
from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

#: Where the installer writes the secrets (plaintext, root only) and where the sealed credential goes.
PLAIN = Path("etc/credstore/yizhan-station.toml")
SEALED = Path("etc/credstore.encrypted/yizhan-station.toml")
#: The credential's name: the units hand it to the kiosk as ``$CREDENTIALS_DIRECTORY/secrets.toml``.
NAME = "secrets.toml"
#: The units that load it (a station PC with the package installed is a production station).
UNITS = (Path("usr/lib/systemd/system/yizhan-kiosk.service"), Path("lib/systemd/system/yizhan-kiosk.service"))
#: The first 16 bytes of a systemd credential name the key that sealed it (systemd's creds-util.h).
SEAL_KINDS = {
    bytes.fromhex("5a1c6a86df9d4096b1d5a65e0862f19a"): "host",
    bytes.fromhex("0c7cc07b117645919c4b0bea08bc20fe"): "tpm2",
    bytes.fromhex("93a8940948744490" "90caf2fc93cab553"): "host+tpm2",
}
SECRET_FIELDS = ("district_key", "admin_pin_hash")


class SealError(Exception):
    """Sealing failed; the message says what to do (the plaintext was left as it was)."""


def has_tpm(root: Path, env: Mapping[str, str]) -> bool:
    """Whether this PC has a TPM systemd can use (or one is named by ``SYSTEMD_TPM2_DEVICE``)."""
    return bool(env.get("SYSTEMD_TPM2_DEVICE")) or (root / "dev/tpmrm0").exists() \
        or (root / "sys/class/tpm/tpm0").exists()


def seal_kind(path: Path) -> str:
    """Which key sealed the credential at ``path``: "host", "tpm2", "host+tpm2", or "unknown"."""
    try:
        head = base64.b64decode(path.read_bytes()[:64], validate=False)[:16]
    except (OSError, binascii.Error, ValueError):
        return "unknown"
    return SEAL_KINDS.get(head, "unknown")


def holds_secrets(path: Path) -> bool:
    """Whether a plaintext secrets file holds the district key or the PIN hash (an unreadable,
    non-empty file counts: the doctor cannot show it does not)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:
        return path.stat().st_size > 0
    return any(line.split("=")[0].strip() in SECRET_FIELDS for line in text.splitlines() if "=" in line)


def seal(root: Path, env: Mapping[str, str]) -> str:
    """Seal :data:`PLAIN` into :data:`SEALED` (TPM if present, else the host key), check the blob
    decrypts to the same text, then overwrite and remove the plaintext. Returns the key kind used.

    Raises:
        SealError: nothing to seal, ``systemd-creds`` missing or failing (the plaintext is kept).
    """
    plain, sealed = root / PLAIN, root / SEALED
    if not plain.is_file() or plain.stat().st_size == 0:
        raise SealError(f"{plain} is empty or missing: write the secrets there first")
    tool = shutil.which("systemd-creds", path=env.get("PATH"))
    if tool is None:
        raise SealError("systemd-creds is missing (systemd 250 or newer is needed); the secrets stay in "
                        f"{plain}")
    kind = "tpm2" if has_tpm(root, env) else "host"
    sealed.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = sealed.with_name(sealed.name + ".new")
    run_env = dict(env)
    for step in ([tool, f"--with-key={kind}", f"--name={NAME}", "encrypt", str(plain), str(tmp)],
                 [tool, f"--name={NAME}", "decrypt", str(tmp), "-"]):
        result = subprocess.run(step, capture_output=True, env=run_env, timeout=120)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise SealError(f"systemd-creds {step[-3]} failed: {result.stderr.decode(errors='replace').strip()}; "
                            f"the secrets stay in {plain}")
    if result.stdout != plain.read_bytes():
        tmp.unlink(missing_ok=True)
        raise SealError(f"the sealed credential does not decrypt to {plain}; the secrets stay there")
    os.chmod(tmp, 0o600)
    os.replace(tmp, sealed)
    _erase(plain)
    return kind


def _erase(path: Path) -> None:
    """Overwrite the plaintext with zeros, flush, and remove it (a journaling file system or an SSD
    may still keep an old copy of the blocks: docs/kiosk-disk.md)."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.write(bytes(size))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def check(root: Path, env: Mapping[str, str], data_secrets: Path | None) -> tuple[str, str]:
    """The doctor's verdict on where the district key and the PIN hash live: (status, message),
    status one of "ok", "warn", "fail", "skip" (not a packaged station)."""
    if not any((root / unit).exists() for unit in UNITS):
        return "skip", "not an installed station (demo or development): secrets are not checked for sealing"
    how = ("seal them: sudo yizhan seal-secrets (systemd-creds encrypt --with-key=tpm2 into "
           f"/{SEALED}; the plaintext is erased), then restart yizhan-kiosk")
    plain = [str(p) for p in (root / PLAIN, data_secrets) if p is not None and holds_secrets(p)]
    if plain:
        return "fail", f"the district key or the admin PIN hash is stored in plaintext in {', '.join(plain)}: " \
                       f"a stolen disk gives them away. {how}"
    sealed = root / SEALED
    if not sealed.exists():
        return "fail", f"no sealed credential /{SEALED}: write the secrets into /{PLAIN} and {how}"
    kind = seal_kind(sealed)
    if kind in ("tpm2", "host+tpm2"):
        return "ok", f"secrets sealed to this PC's TPM ({kind})"
    if has_tpm(root, env):
        return "fail", f"/{SEALED} is sealed with the host key ({kind}), which lives on the same disk, though " \
                       f"this PC has a TPM: {how}"
    return "warn", f"no TPM: /{SEALED} is encrypted with the host key on the same disk, so a stolen disk " \
                   "yields the district key and the PIN hash (docs/kiosk-disk.md)"
