"""Field probes (``yizhan probe …``): read once, print one JSON object, exit non-zero on failure.

One form for every probe: stdout always carries exactly one JSON object. On success it has
``"ok": true`` and the reading; on failure ``{"ok": false, "probe": NAME, "error": TYPE, "message":
TEXT, …}`` with the probe's own details (``user_key``, ``detail``, hints), and stderr carries the one
line ``yizhan probe NAME: error: TEXT``. Exit codes: 0 read, 1 device or source failed, 2 usage or
configuration (a bad number such as ``--timeout nan`` included), 3 read but refused (a QR token).
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any


class ProbeUsageError(ValueError):
    """A bad option value (exit code 2); the message names the option."""


def seconds(text: Any, option: str = "--timeout", maximum: float = 3600.0) -> float:
    """A finite number of seconds in (0, ``maximum``] from an option's text.

    Raises:
        ProbeUsageError: not a number, NaN, infinite, zero, negative or too large.
    """
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ProbeUsageError(f"{option} must be a number of seconds (got {text!r})") from None
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise ProbeUsageError(f"{option} must be more than 0 and at most {maximum:g} seconds (got {text!r})")
    return value


def whole(text: Any, option: str, minimum: int, maximum: int) -> int:
    """A whole number in [``minimum``, ``maximum``] from an option's text (None stays None).

    Raises:
        ProbeUsageError: not a whole number or out of range.
    """
    if text is None:
        return None
    try:
        value = int(str(text), 10)
    except ValueError:
        raise ProbeUsageError(f"{option} must be a whole number (got {text!r})") from None
    if not minimum <= value <= maximum:
        raise ProbeUsageError(f"{option} must be between {minimum} and {maximum} (got {text!r})")
    return value


def succeed(probe: str, doc: dict) -> int:
    """Print the reading as the one JSON object (``ok`` true); exit code 0."""
    print(json.dumps({"ok": True, "probe": probe, **doc}, ensure_ascii=False), flush=True)
    return 0


def fail(probe: str, code: int, error: str, message: str, **detail: Any) -> int:
    """Print the failure in the one form every probe uses; returns ``code``."""
    doc = {"ok": False, "probe": probe, "error": error, "message": message, **detail}
    print(json.dumps(doc, ensure_ascii=False), flush=True)
    print(f"yizhan probe {probe}: error: {message}", file=sys.stderr, flush=True)
    return code
