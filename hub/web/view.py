"""Small display helpers shared by pages and templates (times in the district, short keys, ages)."""
from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub import models as m
from hub.reports import station_names, team_names, volunteer_names
from kiosk.timebank.catalog import DEFAULT_SERVICES

TZ = ZoneInfo("Asia/Shanghai")


def local(when: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time in the district's zone (``-`` for none)."""
    if when is None or when == "":
        return "-"
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return when[:19]
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(TZ).strftime(fmt)


def short_key(key: str | None) -> str:
    """The first 8 hex digits of a person key (enough to tell people apart on a page)."""
    return (key or "")[:8] + "…" if key else "-"


def minutes_since(when: datetime | None) -> int:
    """Whole minutes from ``when`` to now."""
    if when is None:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0, int((datetime.now(timezone.utc) - when).total_seconds() // 60))


def unit(text: str | None) -> str:
    """Readings as people write them ("mm[Hg]" is UCUM's spelling of mmHg)."""
    return (text or "").replace("mm[Hg]", "mmHg")


FILTERS = {"local": local, "short_key": short_key, "minutes_since": minutes_since, "unit": unit}


class Names:
    """Names for the ids kiosk records carry (volunteers, teams, services and activities), loaded
    on first use from the published roster and catalog, kiosk registrations and the built-in lists."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @functools.cached_property
    def _volunteers(self) -> dict[str, str]:
        return {k: str(v.get("name", "")) for k, v in volunteer_names(self.engine).items()}

    @functools.cached_property
    def _teams(self) -> dict[str, str]:
        return team_names(self.engine)

    @functools.cached_property
    def _services(self) -> dict[str, str]:
        out = {s.id: s.name for s in DEFAULT_SERVICES}
        with self.engine.connect() as conn:
            for (body,) in conn.execute(select(m.documents.c.body).where(m.documents.c.doc_type == "catalog")):
                try:
                    out.update({str(s["id"]): str(s["name"]) for s in json.loads(body).get("services", [])})
                except (ValueError, AttributeError, KeyError, TypeError):
                    continue
        return out

    @functools.cached_property
    def _stations(self) -> dict[str, str]:
        return station_names(self.engine)

    def station(self, sid: str) -> str:
        """The name the station reports (示范市民驿站 …), or the id when it has sent none."""
        return self._stations.get(sid) or sid

    def volunteer(self, vid: str) -> str:
        """``王小明（v-wang）``, or the id alone when no roster names it."""
        name = self._volunteers.get(vid)
        return f"{name}（{vid}）" if name else vid

    def team(self, tid: str) -> str:
        """The team's name (党旗红 …) or the id."""
        return self._teams.get(tid, tid) or "-"

    def service(self, sid: str) -> str:
        """The service's or activity's name (代办, 驿站值班 …) or the id."""
        return self._services.get(sid, sid) or "-"

#: Record kinds shown on a resident's page (English msgids).
KIND_WORDS = {"bp_measurement": "Blood pressure", "glucose_measurement": "Glucose", "health_alert": "Urgent alert",
              "service_confirmation": "Service confirmed", "service_follow_up": "Follow-up", "consent": "Consent",
              "care_consent": "Care sharing", "visit": "Visit"}
