"""The volunteer roster: who is a registered volunteer, by card UID or person key.

The hub's ``roster`` downlink document is the source of truth (``sync/downlink.py`` stores it in
the data directory); a local ``<data_dir>/roster.json`` with the same body shape adds entries a
station keeps for itself (and lets a station work before its first sync).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from kiosk.documents import current_documents

log = logging.getLogger(__name__)

LOCAL_FILE = "roster.json"


@dataclass(frozen=True)
class Volunteer:
    """A registered volunteer (the display name is masked before it is shown)."""

    id: str
    name: str
    teams: tuple[str, ...] = ()
    card_uid: str = ""
    person_key: str = ""


class Roster:
    """Lookups over the effective roster (hub document + local file)."""

    def __init__(self, volunteers: list[Volunteer], teams: dict[str, str]) -> None:
        self.volunteers = volunteers
        self.teams = teams
        self._by_uid = {v.card_uid.upper(): v for v in volunteers if v.card_uid}
        self._by_key = {v.person_key: v for v in volunteers if v.person_key}
        self._by_id = {v.id: v for v in volunteers}

    @classmethod
    def load(cls, data_dir: Path | str) -> Roster:
        """Merge the hub's roster document and the local file; unreadable parts are logged and skipped."""
        bodies = []
        try:
            hub = current_documents(data_dir).get("roster")
            if hub:
                bodies.append(hub["body"])      # current_documents wraps the body with its version
        except Exception as exc:   # a broken downlink store must not stop identification
            log.error("hub roster unavailable: %s", exc)
        local = Path(data_dir) / LOCAL_FILE
        if local.exists():
            try:
                bodies.append(json.loads(local.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                log.error("local roster %s unreadable: %s", local, exc)
        volunteers: dict[str, Volunteer] = {}
        teams: dict[str, str] = {}
        for body in bodies:
            for team in body.get("teams", []):
                if isinstance(team, dict) and team.get("id"):
                    teams.setdefault(str(team["id"]), str(team.get("name", team["id"])))
            for v in body.get("volunteers", []):
                if not isinstance(v, dict) or not v.get("id"):
                    continue
                volunteers.setdefault(str(v["id"]), Volunteer(
                    id=str(v["id"]), name=str(v.get("name", "")), teams=tuple(map(str, v.get("teams", []))),
                    card_uid=str(v.get("card_uid") or "").upper(), person_key=str(v.get("person_key") or "")))
        return cls(list(volunteers.values()), teams)

    def by_card_uid(self, uid: str) -> Volunteer | None:
        """The volunteer whose card has this UID (hex, any case)."""
        return self._by_uid.get(uid.upper())

    def by_person_key(self, key: str) -> Volunteer | None:
        """The volunteer with this person key."""
        return self._by_key.get(key)

    def by_id(self, volunteer_id: str) -> Volunteer | None:
        """The volunteer with this roster id."""
        return self._by_id.get(volunteer_id)

    def team_name(self, team_id: str) -> str:
        """A team's display name (the id when unknown)."""
        return self.teams.get(team_id, team_id)
