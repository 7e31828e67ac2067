"""Which tiles a station's home screen shows, in which order: the hub's ``config`` document, section
``home`` (``{"tiles": ["health", "request", "info", "help"]}``), or :data:`DEFAULT_TILES`.

Stations pick their own modules (自选动作); unknown tile names are skipped and logged, ``help`` is
always offered (a person must always find a way to a staff member).
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

KNOWN_TILES = ("health", "request", "activities", "volunteer", "records", "info", "help")
#: My records stays one tap away from the health check's greeting; a station may choose it instead.
DEFAULT_TILES = ("health", "request", "activities", "volunteer", "info", "help")
MAX_TILES = 6


def home_tiles(config_body: dict[str, Any] | None) -> list[str]:
    """The tile ids to show, in order (at most :data:`MAX_TILES`, ``help`` always among them)."""
    wanted = ((config_body or {}).get("home") or {}).get("tiles") if isinstance(config_body, dict) else None
    if not isinstance(wanted, list) or not wanted:
        return list(DEFAULT_TILES)
    tiles: list[str] = []
    for t in wanted:
        if t in KNOWN_TILES and t not in tiles:
            tiles.append(t)
        else:
            log.warning("home tile %r is unknown or repeated; skipped", t)
    if "help" not in tiles:
        tiles = tiles[:MAX_TILES - 1] + ["help"]
    return tiles[:MAX_TILES]


def announcement(catalog_body: dict[str, Any] | None) -> str:
    """The station's newest announcement (the last of the hub catalog's ``announcements``), or ""."""
    items = catalog_body.get("announcements") if isinstance(catalog_body, dict) else None
    texts = [str(a["text"]).strip() for a in items if isinstance(a, dict) and isinstance(a.get("text"), str)
             and a["text"].strip()] if isinstance(items, list) else []
    return texts[-1][:80] if texts else ""
