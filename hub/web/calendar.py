"""The workbench's side of the ``calendar`` document: a new activity from the staff's form, checked
with words a clerk understands (past, overlapping, a calendar changed by someone else meanwhile)
before :func:`hub.activities.check_new_calendar` checks the whole document as the CLI does; and the
calendar as a station sees it, with sign-ups pooled across stations and attendance.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hub import activities

TITLE_MAX = 40
PLACE_MAX = 30
#: An activity that ended longer ago than this leaves the calendar at the next publish (its sign-ups
#: and attendance stay counted at the hub).
KEEP_ENDED = timedelta(days=60)


class CalendarRefused(ValueError):
    """The new activity cannot be published; the text (an English msgid with values) says why."""

    user_key = "calendar_refused"

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid.format(**values))
        self.msgid, self.values = msgid, values


@dataclass(frozen=True)
class NewActivity:
    """What the staff typed into the form."""

    title: str
    place: str
    day: str            # YYYY-MM-DD
    start: str          # HH:MM, in the district's time zone
    end: str
    capacity: str
    stations: tuple[str, ...]


def build(form: NewActivity, published: dict[str, Any] | None, tz: str,
          now: datetime | None = None) -> dict[str, Any]:
    """The calendar body with the new activity added (times with the district's offset), without the
    activities that ended more than :data:`KEEP_ENDED` ago.

    Raises:
        CalendarRefused: a missing title, a bad time or capacity, a time already past, or an
            overlap with another activity at the same place.
    """
    now = now or datetime.now(timezone.utc)
    title, place = form.title.strip(), form.place.strip()
    if not title or len(title) > TITLE_MAX:
        raise CalendarRefused("Give the activity a title of at most {n} characters.", n=TITLE_MAX)
    if not place or len(place) > PLACE_MAX:
        raise CalendarRefused("Say where it takes place, in at most {n} characters.", n=PLACE_MAX)
    zone = ZoneInfo(tz)
    try:
        day = date.fromisoformat(form.day)
        start = datetime.combine(day, time.fromisoformat(form.start), zone)
        end = datetime.combine(day, time.fromisoformat(form.end), zone)
    except ValueError:
        raise CalendarRefused("Give the date, the start time and the end time.") from None
    if end <= start:
        raise CalendarRefused("The activity must end after it starts.")
    if start < now:
        raise CalendarRefused("{title} would start in the past ({when}); choose a later time.", title=title,
                              when=start.strftime("%Y-%m-%d %H:%M"))
    try:
        capacity = int(form.capacity)
    except ValueError:
        capacity = 0
    if not 1 <= capacity <= 10_000:
        raise CalendarRefused("The number of places must be from 1 to 10000.")
    existing = [a for a in (published or {}).get("activities", [])
                if datetime.fromisoformat(a["end"]) >= now - KEEP_ENDED]
    for other in existing:
        if other.get("place", "") == place and datetime.fromisoformat(other["start"]) < end \
                and start < datetime.fromisoformat(other["end"]):
            raise CalendarRefused("{title} overlaps {other} at {place} ({when}); choose another time or place.",
                                  title=title, other=other["title"], place=place,
                                  when=datetime.fromisoformat(other["start"]).astimezone(zone).strftime("%m-%d %H:%M"))
    entry: dict[str, Any] = {"id": f"act-{uuid.uuid4().hex[:12]}", "title": title, "place": place,
                             "start": start.isoformat(), "end": end.isoformat(), "capacity": capacity}
    if form.stations:
        entry["stations"] = sorted(form.stations)
    body = {"activities": existing + [entry]}
    activities.check_new_calendar(body, published, now)
    return body


def for_station(activity: dict[str, Any], station: str | None) -> bool:
    """True when the activity is offered at ``station`` (None: the whole district sees every one)."""
    listed = activity.get("stations") or []
    return station is None or not listed or station in listed


def rows(published: dict[str, Any] | None, counts: dict[str, dict[str, dict[str, int]]],
         stations: tuple[str, ...] | None, now: datetime | None = None) -> list[dict[str, Any]]:
    """The activities an account may see (``stations`` None: all), soonest first, each with sign-ups
    and attendance at the account's stations, and sign-ups pooled across every station (seats are pooled)."""
    now = now or datetime.now(timezone.utc)
    out = []
    for a in (published or {}).get("activities", []):
        if stations is not None and not any(for_station(a, s) for s in stations):
            continue
        per = counts.get(a["id"], {})
        mine = per if stations is None else {s: v for s, v in per.items() if s in stations}
        signed = sum(v["signed"] for v in per.values())
        out.append({**a, "start_at": datetime.fromisoformat(a["start"]), "end_at": datetime.fromisoformat(a["end"]),
                    "past": datetime.fromisoformat(a["end"]) < now, "by_station": dict(sorted(mine.items())),
                    "signed": signed, "seats": min(signed, a["capacity"]), "waiting": max(0, signed - a["capacity"]),
                    "attended": sum(v["attended"] for v in mine.values())})
    return sorted(out, key=lambda r: (r["past"], (-1 if r["past"] else 1) * r["start_at"].timestamp()))
