"""The ``requests`` document per station (issue 22): each station receives its own requests, wishes,
family links and sign-ups with their seat positions, and never another station's person keys.

Volunteers serve the whole district, so a station also sees other stations' open requests as
tasks — without the person key, name or priority account of the resident who asked, and at most
:data:`OTHER_WAITING` waiting ones per other station (so no station can fill another's document).

The district's sign-up queue of an activity is kept whole in seat order, but another station's
entries carry neither person key nor station: ``{"key": "~<n>", "station": "_other", …}`` holds
the place (so the kiosk counts seats alike everywhere) and nothing else. The district calendar is
its own document (``_all/calendar``) and carries no person data.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub import models as m
from hub import requests, wishes

OTHER = "_other"
#: Waiting (unassigned) requests of each other station a station's document lists, oldest first.
OTHER_WAITING = 50
#: What another station's request shows of the resident: nothing.
_PERSON = ("person_key", "display_name", "priority_account")


def stations(engine: Engine, body: dict[str, Any]) -> list[str]:
    """Every station the hub knows (from status or records) or that the body names."""
    with engine.connect() as conn:
        known = {s for (s,) in conn.execute(select(m.stations.c.station))}
        known |= {s for (s,) in conn.execute(select(m.station_counts.c.station))}
    known |= {r["station"] for r in body["requests"]}
    known |= {e["station"] for a in body["activities"] for e in a.get("queue", [])}
    return sorted(s for s in known if s and not s.startswith("_") and s != "hub")


def _activities(pooled: list[dict[str, Any]], station: str) -> list[dict[str, Any]]:
    out = []
    for a in pooled:
        queue = [e if e["station"] == station else
                 {"key": f"~{i}", "station": OTHER, "waitlisted": e["waitlisted"], "at": e["at"]}
                 for i, e in enumerate(a.get("queue", []))]
        out.append({**a, "queue": queue})
    return out


def split(engine: Engine, body: dict[str, Any], station: str) -> dict[str, Any]:
    """One station's ``requests`` document body, cut from the district's (:func:`hub.requests.document_body`)."""
    waiting: dict[str, int] = {}
    listed = []
    for r in body["requests"]:
        if r["station"] == station:
            listed.append(r)
        elif r["state"] in requests.OPEN_STATES:
            if r["state"] == requests.REQUESTED:
                waiting[r["station"]] = waiting.get(r["station"], 0) + 1
                if waiting[r["station"]] > OTHER_WAITING:
                    continue
            listed.append({k: v for k, v in r.items() if k not in _PERSON})
    return {"requests": listed,
            "wishes": wishes.document_entries(engine, station),
            "activities": _activities(body["activities"], station),
            "family": [f for f in body["family"] if f.get("station") == station]}


def station_bodies(engine: Engine, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Every station's ``requests`` document body, by station (the scope it is published under)."""
    body = requests.document_body(engine, now)
    return {st: split(engine, body, st) for st in stations(engine, body)}
