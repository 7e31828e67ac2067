"""The journal's clean-shutdown seal: the size and CRC-32 of the journal (and of its write-ahead
log, if one is left) written beside it when the kiosk stops cleanly, compared when it starts.

``PRAGMA quick_check`` reads and checks every page, so the kiosk runs it only on the first start of
a UTC day or after an unclean stop (``kiosk.journal``). Damage made while the kiosk was stopped (a
bad sector, a stray write, a file restored from a broken copy) is caught at every start by the seal
instead: the checksum is a sequential read at a few GB/s (docs/kiosk-disk.md measures both on a
10^6-record journal), and when the seal is missing or disagrees the full check runs. The seal
is a damage detector, not an authenticator: whoever can rewrite the journal can rewrite the seal.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

_SUFFIX = ".sealed"
_BLOCK = 1 << 20


def seal_path(journal: Path) -> Path:
    """Where the seal of ``journal`` is kept (beside it, in the data directory)."""
    return journal.with_name(journal.name + _SUFFIX)


def _fingerprint(journal: Path) -> dict[str, object]:
    """Size and CRC-32 of the journal and of its write-ahead log (absent counts as empty), read in
    1 MiB blocks. CRC-32 misses random damage once in 2^32 and runs at about 4 GB/s here, three
    times SHA-256's speed; the seal detects damage, it does not authenticate (see the module)."""
    out: dict[str, object] = {}
    for name, path in (("journal", journal), ("wal", journal.with_name(journal.name + "-wal"))):
        crc, size = 0, 0
        try:
            with path.open("rb") as f:
                while block := f.read(_BLOCK):
                    crc = zlib.crc32(block, crc)
                    size += len(block)
        except FileNotFoundError:
            pass
        out[name] = {"size": size, "crc32": crc}
    return out


def write_seal(journal: Path) -> None:
    """After the last connection closed cleanly: write the seal atomically (mode 0600). Errors
    (a full disk) are left to the caller; without a seal the next start runs the full check."""
    target = seal_path(journal)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    text = json.dumps(_fingerprint(journal), sort_keys=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)


def take_seal(journal: Path, compare: bool = True) -> bool:
    """Before anything is written to the journal: whether it is byte for byte as it was sealed at the
    last clean stop. The seal is removed either way (a seal describes one stop only); with
    ``compare`` false (the full check runs anyway) nothing is hashed. The sizes are compared first,
    so a truncated or grown file costs no hashing."""
    target = seal_path(journal)
    try:
        stored = json.loads(target.read_text(encoding="ascii")) if compare else None
    except (OSError, ValueError, UnicodeDecodeError):
        stored = None
    try:
        target.unlink(missing_ok=True)
    except OSError:
        return False                    # cannot remove it (read-only directory): never trust it
    if not isinstance(stored, dict):
        return False
    try:
        sizes = [journal.stat().st_size]
        wal = journal.with_name(journal.name + "-wal")
        sizes.append(wal.stat().st_size if wal.exists() else 0)
    except OSError:
        return False
    try:
        if sizes != [stored["journal"]["size"], stored["wal"]["size"]]:
            return False
    except (KeyError, TypeError):
        return False
    return _fingerprint(journal) == stored
