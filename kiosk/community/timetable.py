"""The station's weekly timetable of home-service times (e.g. the haircut team comes on Tuesdays).

It comes from the hub's ``config`` document, section ``community``::

    {"timetable": [{"id": "tue-am", "day": 2, "start": "09:00", "end": "11:00", "services": ["haircut"]}]}

``day`` is 1 (Monday) … 7 (Sunday); ``services`` (optional) limits a slot to those request types.
Without a timetable the defaults below apply.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

DEFAULT_TIMETABLE = (
    {"id": "tue-am", "day": 2, "start": "09:00", "end": "11:00"},
    {"id": "thu-pm", "day": 4, "start": "14:00", "end": "16:00"},
    {"id": "sat-am", "day": 6, "start": "09:00", "end": "11:00"},
)
#: How many upcoming times the request screen offers.
OFFERED = 3


@dataclass(frozen=True)
class Slot:
    """One upcoming time: ``id`` is the timetable entry, ``start`` the next occurrence (aware)."""

    id: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """Date and hours, language-neutral: ``12-01 09:00-11:00``."""
        return f"{self.start:%m-%d} {self.start:%H:%M}-{self.end:%H:%M}"


def _hm(text: Any) -> time | None:
    try:
        return time.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def slots_from_config(config: dict[str, Any], tz: ZoneInfo, now: datetime, service_type: str = "") -> list[Slot]:
    """The next :data:`OFFERED` slot times after ``now`` within 7 days, for ``service_type``.

    Malformed timetable entries are skipped (and logged); the default timetable applies when the
    section has none.
    """
    entries = config.get("timetable") if isinstance(config, dict) else None
    if not isinstance(entries, list) or not entries:
        entries = list(DEFAULT_TIMETABLE)
    local_now = now.astimezone(tz)
    out = []
    for e in entries:
        day = e.get("day") if isinstance(e, dict) else None
        start, end = (_hm(e.get("start")), _hm(e.get("end"))) if isinstance(e, dict) else (None, None)
        if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not isinstance(day, int) \
                or isinstance(day, bool) or not 1 <= day <= 7 or start is None or end is None or end <= start:
            log.warning("timetable entry %r is malformed; skipped", e)
            continue
        services = e.get("services")
        if service_type and isinstance(services, list) and service_type not in services:
            continue
        ahead = (day - 1 - local_now.weekday()) % 7
        date = local_now.date() + timedelta(days=ahead)
        begin = datetime.combine(date, start, tz)
        if begin <= local_now:
            date += timedelta(days=7)
            begin = datetime.combine(date, start, tz)
        out.append(Slot(e["id"], begin, datetime.combine(date, end, tz)))
    return sorted(out, key=lambda s: s.start)[:OFFERED]
