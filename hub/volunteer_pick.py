"""Who staff may assign a request to (派单): the volunteers the hub knows by name, with their teams,
whether they are on shift now and where; an assignment names one of them and never the resident who
asked. The workbench's picker and ``yizhan hub requests assign`` use the same check."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub import models as m
from hub.reports import team_names, volunteer_names
from hub.timebank import open_shifts


#: Why an assignment is refused: reason -> message (English id; the workbench translates it).
REFUSALS = {
    "unknown": "No volunteer {who} is known: pick one from the list.",
    "self": "{who} asked for this request and cannot be assigned to it.",
}


class AssignError(Exception):
    """The assignment cannot be made: ``reason`` (a :data:`REFUSALS` key) and ``who`` say why."""

    def __init__(self, reason: str, who: str) -> None:
        super().__init__(REFUSALS[reason].format(who=who))
        self.reason, self.who = reason, who


@dataclass(frozen=True)
class Candidate:
    """A volunteer staff can pick."""

    id: str
    name: str
    teams: tuple[str, ...]
    on_shift: bool
    station: str
    person_key: str

    def label(self, station_names: dict[str, str]) -> str:
        """``李*华 · 暖心橙 · 在岗 · 示范市民驿站`` style text parts (without the on-shift word)."""
        return " · ".join(p for p in (self.name, "、".join(self.teams), station_names.get(self.station, self.station))
                          if p)


def candidates(engine: Engine, station: str = "") -> list[Candidate]:
    """Every volunteer the hub knows by name: on shift at ``station`` first, then on shift elsewhere,
    then those who served at ``station``, then the others; by name within each."""
    names = volunteer_names(engine)
    teams = team_names(engine)
    sh = m.shifts
    with engine.connect() as conn:
        on_shift = open_shifts(conn)
        last: dict[str, str] = {vid: st for vid, st in conn.execute(
            select(sh.c.volunteer_id, sh.c.station).where(sh.c.ts.is_not(None)).order_by(sh.c.ts))}
        keys = {vid: key for vid, key in conn.execute(select(m.volunteers.c.volunteer_id, m.volunteers.c.person_key))
                if key}
    out = []
    for vid, entry in names.items():
        where = on_shift[vid]["station"] if vid in on_shift else last.get(vid, "")
        key = str(entry.get("person_key") or keys.get(vid) or "")
        out.append(Candidate(vid, str(entry.get("name") or vid),
                             tuple(teams.get(str(t), str(t)) for t in entry.get("teams", []) or [] if t),
                             vid in on_shift, where, key))

    def rank(c: Candidate) -> tuple[int, str]:
        here = c.station == station
        return (0 if c.on_shift and here else 1 if c.on_shift else 2 if here else 3, c.name)
    return sorted(out, key=rank)


def check_assignment(engine: Engine, request: dict[str, Any], volunteer_id: str) -> Candidate:
    """The volunteer ``volunteer_id`` may be assigned ``request`` (a ``hub_service_requests`` row).

    Raises:
        AssignError: no volunteer has that id, or the volunteer is the resident who asked.
    """
    wanted = volunteer_id.strip()
    found = next((c for c in candidates(engine) if c.id == wanted), None)
    if found is None:
        raise AssignError("unknown", wanted[:64])
    if found.person_key and found.person_key == request.get("person_key"):
        raise AssignError("self", found.name)
    return found


def how_assigned(engine: Engine, request_ids: list[str]) -> dict[str, str]:
    """Request id -> ``staff`` (assigned at the workbench) or ``kiosk`` (a volunteer took it on at a
    kiosk), by the latest of those events."""
    e = m.request_events
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(request_ids), 500):
            for rid, event in conn.execute(select(e.c.request_id, e.c.event)
                                           .where(e.c.request_id.in_(request_ids[i:i + 500])
                                                  & e.c.event.in_(("assigned", "claimed"))).order_by(e.c.at)):
                out[rid] = "staff" if event == "assigned" else "kiosk"
    return out
