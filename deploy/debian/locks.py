"""The hashed lock files in ``lock/`` as requirement blocks, for splitting one lock across packages.

A block is one requirement line with its ``--hash`` continuation lines (``name==version \\``, then
``--hash=sha256:…``). ``yizhan`` (the core package) holds what a station and a hub both need;
``yizhan-station`` and ``yizhan-hub`` hold the rest of their own lock.
"""
from __future__ import annotations

import re
from pathlib import Path

_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def blocks(lock: Path) -> dict[str, str]:
    """``{normalised name: "name==version --hash=… --hash=…"}`` of a hashed lock file."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        text = line.strip().rstrip("\\").strip()
        pin = _REQ.match(text)
        if pin:
            current = found.setdefault(normalise(pin.group(1)), [])
            current.append(text)
        elif text.startswith("--hash=") and current is not None:
            current.append(text)
    return {name: " ".join(parts) for name, parts in found.items()}


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split(kiosk: Path, hub: Path) -> tuple[list[str], list[str], list[str]]:
    """(common, kiosk only, hub only) requirement blocks; a package both locks pin alike is common.

    Raises:
        ValueError: the two locks pin one package at different versions (run ``make lock``).
    """
    k, h = blocks(kiosk), blocks(hub)
    for name in sorted(set(k) & set(h)):
        if k[name].split()[0] != h[name].split()[0]:
            raise ValueError(f"{name}: {k[name].split()[0]} in {kiosk.name} but {h[name].split()[0]} in {hub.name}; "
                             "run make lock")
    common = [k[n] for n in sorted(set(k) & set(h))]
    return common, [k[n] for n in sorted(set(k) - set(h))], [h[n] for n in sorted(set(h) - set(k))]
