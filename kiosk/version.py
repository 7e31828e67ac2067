"""What runs: the package version and the build it came from, for field reports (``yizhan --version``).

The version is the installed distribution's (``importlib.metadata``); the build is ``git describe`` —
of the checkout for a developer install, or as recorded at package build time in ``build-info.txt``
(written by ``deploy/debian/build.py`` into the wheel).
"""
from __future__ import annotations

import importlib.metadata
import importlib.resources
import subprocess
from pathlib import Path

__all__ = ["describe", "version"]

_CHECKOUT = Path(__file__).resolve().parent.parent


def version() -> str:
    """The installed ``yizhan`` distribution's version, or ``unknown`` when it is not installed."""
    try:
        return importlib.metadata.version("yizhan")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build() -> str:
    """``git describe`` of what runs: recorded at build time, else the checkout's, else ``unknown``."""
    recorded = importlib.resources.files("kiosk").joinpath("build-info.txt")
    if recorded.is_file():
        return recorded.read_text(encoding="utf-8").strip() or "unknown"
    if (_CHECKOUT / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(_CHECKOUT), "describe", "--always", "--dirty", "--tags"],
                                 capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        return out or "unknown"
    return "unknown"


def describe() -> str:
    """``yizhan 0.1.0 (b0bd156)``: one line naming what runs."""
    return f"yizhan {version()} ({build()})"
