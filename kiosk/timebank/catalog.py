"""Teams and service types (the hub's ``catalog`` document or built-in defaults) and the effective roster.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kiosk.documents import current_documents
from kiosk.journal import Journal
from kiosk.key_links import META_RELABELLED
from kiosk.roster import LOCAL_FILE, Roster, Volunteer
from kiosk.timebank.kinds import CardRebound, VolunteerRegistered, _quarter_hours

log = logging.getLogger(__name__)

# --- catalog ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """A volunteer team (五色一彩 by default)."""

    id: str
    name: str


@dataclass(frozen=True)
class ServiceType:
    """A service for residents, or (``kind == "activity"``) a shift activity."""

    id: str
    name: str
    hours: float | None = None   # fixed credit per service; None: the rules applied to the minutes
    kind: str = "service"


DEFAULT_TEAMS = (Team("red", "党旗红"), Team("orange", "暖心橙"), Team("green", "生态绿"),
                 Team("blue", "守护蓝"), Team("purple", "文艺紫"), Team("rainbow", "绚丽彩"))
DEFAULT_SERVICES = (
    ServiceType("proxy", "代理", 1.0), ServiceType("errand", "代办", 1.0), ServiceType("purchase", "代购", 1.0),
    ServiceType("receive", "代收", 0.5), ServiceType("home_visit", "上门探访", 1.0),
    ServiceType("bp", "测血压", 0.5), ServiceType("glucose", "测血糖", 0.5), ServiceType("escort", "陪同就医", 2.0),
    ServiceType("duty", "驿站值班", kind="activity"), ServiceType("health_day", "筛查日协助", kind="activity"),
    ServiceType("event", "活动服务", kind="activity"), ServiceType("environment", "环境整治", kind="activity"),
)


@dataclass(frozen=True)
class Catalog:
    """Teams, resident services and shift activities: the hub's ``catalog`` document or the defaults."""

    teams: tuple[Team, ...] = DEFAULT_TEAMS
    services: tuple[ServiceType, ...] = DEFAULT_SERVICES
    version: int | None = None

    @property
    def resident_services(self) -> list[ServiceType]:
        """Services done for a resident (recorded, then confirmed)."""
        return [s for s in self.services if s.kind != "activity"]

    @property
    def activities(self) -> list[ServiceType]:
        """What a shift can be for."""
        return [s for s in self.services if s.kind == "activity"] or [s for s in DEFAULT_SERVICES
                                                                     if s.kind == "activity"]

    def service(self, service_id: str) -> ServiceType | None:
        """A service type by id."""
        return next((s for s in self.services if s.id == service_id), None)

    def team(self, team_id: str) -> Team | None:
        """A team by id."""
        return next((t for t in self.teams if t.id == team_id), None)


def _documents(data_dir: Path | str) -> dict[str, Any]:
    try:
        return current_documents(data_dir)
    except Exception as exc:     # a broken downlink store must not stop the time bank
        log.error("downlink documents unavailable: %s", exc)
        return {}


def load_catalog(data_dir: Path | str) -> Catalog:
    """The hub's catalog document (teams, services) or the built-in defaults for parts it lacks."""
    doc = _documents(data_dir).get("catalog")
    if not doc:
        return Catalog()
    body = doc["body"]
    teams = tuple(Team(str(t["id"]), str(t["name"])) for t in body.get("teams", []))
    services = []
    for s in body.get("services", []):
        hours = s.get("hours")
        ok = isinstance(hours, (int, float)) and not isinstance(hours, bool) and 0 < hours <= 24 \
            and _quarter_hours(hours)
        services.append(ServiceType(str(s["id"]), str(s["name"]), float(hours) if ok else None,
                                    "activity" if s.get("kind") == "activity" else "service"))
    return Catalog(teams or DEFAULT_TEAMS, tuple(services) or DEFAULT_SERVICES, doc.get("version"))


#: The kinds that change the effective roster from the journal.
ROSTER_KINDS = ("volunteer_registered", "card_rebound")
_roster_cache: dict[tuple[str, int], tuple[tuple, Roster]] = {}


def _roster_signature(data_dir: Path | str, journal: Journal) -> tuple:
    """What the effective roster depends on: the hub document, the local file, the journal's roster records
    and its relabelled person keys (``kiosk.key_links``)."""
    doc = _documents(data_dir).get("roster") or {}
    try:
        st = (Path(data_dir) / LOCAL_FILE).stat()
        local = (st.st_mtime_ns, st.st_size)
    except OSError:
        local = None
    return (doc.get("version"), doc.get("scope"), doc.get("issued"), local, journal.last_seq(ROSTER_KINDS),
            journal.get_meta(META_RELABELLED))


def load_roster(data_dir: Path | str, journal: Journal | None = None) -> Roster:
    """The effective roster: the hub document and local file (``Roster.load``) plus this kiosk's
    own ``volunteer_registered`` and ``card_rebound`` records, so a volunteer registered here works at
    once and a replaced card stops working here at once.

    With a journal the result is kept until one of its sources changes, so the several lookups of
    one tap read the files and the journal once.
    """
    if journal is None:
        return Roster.load(data_dir)
    key = (str(data_dir), id(journal))
    sig = _roster_signature(data_dir, journal)
    cached = _roster_cache.get(key)
    if cached is not None and cached[0] == sig:
        return cached[1]
    roster = Roster.load(data_dir)
    by_id = {v.id: v for v in roster.volunteers}
    for rec in journal.each("volunteer_registered"):
        p: VolunteerRegistered = rec.payload
        by_id.setdefault(p.volunteer_id, Volunteer(p.volunteer_id, p.name, (p.team,) if p.team else (),
                                                   p.card_uid.upper(), p.person_key))
    for rec in journal.each("card_rebound"):
        c: CardRebound = rec.payload
        v = by_id.get(c.volunteer_id)
        if v is not None:
            by_id[c.volunteer_id] = replace(v, card_uid=c.new_card_uid.upper() or v.card_uid,
                                            person_key=c.new_person_key or v.person_key)
    result = Roster(list(by_id.values()), roster.teams)
    _roster_cache[key] = (sig, result)
    return result
