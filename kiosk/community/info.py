"""Station information read by tapping, no identification needed: opening hours, service windows,
the affairs guide (办事指南) and the canteen menu — from the hub's ``config`` document, section
``info``::

    {"info": {
       "hours": [{"days": "周一至周五", "time": "08:30-17:00"}],
       "windows": [{"name": "1号窗口", "does": "社保、医保"}],
       "guide": [{"name": "老年人综合津贴", "how": "on_the_spot", "bring": ["身份证", "银行卡"]}],
       "canteen": {"hours": "11:00-13:00", "menu": {"1": ["红烧肉", "清炒时蔬"], "2": ["..."]}}}}

``how`` is ``on_the_spot`` (办结 here) or ``accepted`` (收件 here, processed elsewhere); ``menu`` is
keyed by weekday 1 (Monday) … 7. Malformed entries are skipped and logged, never shown half.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kiosk.i18n import N_

log = logging.getLogger(__name__)

HOW = {"on_the_spot": N_("Done on the spot"), "accepted": N_("Accepted here, processed elsewhere")}


@dataclass(frozen=True)
class GuideItem:
    """One affair of the guide: its name, how the station handles it, what to bring."""

    name: str
    how: str
    bring: tuple[str, ...] = ()


@dataclass(frozen=True)
class StationInfo:
    """What the information screen shows; empty parts mean the hub has not published them."""

    hours: tuple[tuple[str, str], ...] = ()
    windows: tuple[tuple[str, str], ...] = ()
    guide: tuple[GuideItem, ...] = ()
    canteen_hours: str = ""
    menu: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing published yet."""
        return not (self.hours or self.windows or self.guide or self.canteen_hours or self.menu)


def _text(value: Any, limit: int = 60) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _pairs(items: Any, a: str, b: str, what: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items if isinstance(items, list) else []:
        first, second = (_text(item.get(a)), _text(item.get(b))) if isinstance(item, dict) else (None, None)
        if first and second:
            out.append((first, second))
        else:
            log.warning("station info %s entry %r is malformed; skipped", what, item)
    return tuple(out)


def station_info(config_body: dict[str, Any] | None) -> StationInfo:
    """Parse the ``info`` section of the hub's ``config`` body (missing: an empty :class:`StationInfo`)."""
    info = (config_body or {}).get("info") if isinstance(config_body, dict) else None
    if not isinstance(info, dict):
        return StationInfo()
    guide = []
    for item in info.get("guide", []) if isinstance(info.get("guide"), list) else []:
        name = _text(item.get("name")) if isinstance(item, dict) else None
        how = item.get("how") if isinstance(item, dict) else None
        bring = item.get("bring", []) if isinstance(item, dict) else []
        if name and how in HOW and isinstance(bring, list) and all(_text(b) for b in bring):
            guide.append(GuideItem(name, how, tuple(_text(b) for b in bring)))
        else:
            log.warning("station info guide entry %r is malformed; skipped", item)
    canteen = info.get("canteen") if isinstance(info.get("canteen"), dict) else {}
    menu: dict[int, tuple[str, ...]] = {}
    raw_menu = canteen.get("menu") if isinstance(canteen.get("menu"), dict) else {}
    for day, dishes in raw_menu.items():
        if str(day) in "1234567" and len(str(day)) == 1 and isinstance(dishes, list) and all(_text(d) for d in dishes):
            menu[int(day)] = tuple(_text(d) for d in dishes)
        else:
            log.warning("canteen menu of day %r is malformed; skipped", day)
    return StationInfo(_pairs(info.get("hours"), "days", "time", "hours"),
                       _pairs(info.get("windows"), "name", "does", "windows"), tuple(guide),
                       _text(canteen.get("hours")) or "", menu)
