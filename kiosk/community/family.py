"""家属优先: a volunteer links family members at the kiosk, so that their banked hours give the family
member's requests priority too.

Linking happens at the kiosk with both people present: the volunteer opens their page with their
card, chooses 添加家属, and the family member taps their own resident card. A link holds person keys
only (keyed hashes, never an ID number) and the masked name. Links and unlinks are immutable journal
records; the hub folds them from every station and publishes the current state of each link in its
``requests`` document (``family``), so a link made at one station counts at every other one. The
newest event of a (volunteer, family member) pair wins, wherever it happened.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.community.errors import NotIdentified, RequestError
from kiosk.community.kinds import event_id, hub_time
from kiosk.i18n import N_
from kiosk.journal import Journal
from kiosk.records import record_kind
from kiosk.session import Person

#: How many family members one volunteer may link.
MAX_FAMILY = 6


class FamilyError(RequestError):
    """Base of the family-link errors."""

    message = N_("The family member could not be linked. Please ask the staff.")


class LinkSelf(FamilyError):
    """The volunteer tapped their own card as the family member."""

    message = N_("This is your own card. Please ask your family member to tap their card.")


class AlreadyLinked(FamilyError):
    """The family member is linked to this volunteer already."""

    message = N_("This family member is already linked to you.")


class NotAResident(FamilyError):
    """The card is not a resident's ID or citizen card (a volunteer-only card, a staff card)."""

    message = N_("This card does not identify a resident. Please tap the family member's ID card or citizen card.")


class NotLinked(FamilyError):
    """Unlinking someone who is not linked."""

    message = N_("This family member is not linked to you.")


class TooManyFamily(FamilyError):
    """The volunteer has linked the most family members allowed."""

    message = N_("You have linked six family members already. Please ask the staff.")


class NotVolunteer(FamilyError):
    """Only a registered volunteer links family members."""

    message = N_("Only a registered volunteer can link family members.")


@record_kind("family_linked")
@dataclass(frozen=True)
class FamilyLinked:
    """A volunteer linked a family member at the kiosk (both cards tapped): person keys and the masked
    name only."""

    volunteer_id: str
    volunteer_key: str
    family_key: str
    display_name: str


@record_kind("family_unlinked")
@dataclass(frozen=True)
class FamilyUnlinked:
    """A volunteer removed the link to a family member (``by``: "volunteer")."""

    volunteer_id: str
    family_key: str
    by: str = "volunteer"


@dataclass(frozen=True)
class FamilyMember:
    """A linked family member as the volunteer's page shows it."""

    family_key: str
    display_name: str
    since: str                    # ISO time of the link


def resident_key(person: Person | None) -> bool:
    """True when ``person`` was identified as a resident by their own ID or citizen card (a person key
    of 64 hex digits), not by a volunteer-only card or a staff card."""
    key = person.person_key if person is not None else ""
    return person is not None and person.role != "staff" and len(key) == 64 and \
        all(c in "0123456789abcdef" for c in key)


class Family:
    """Family links of volunteers, as this station knows them (its own records and the hub's).

    Args:
        journal: the station's journal.
        volunteer: returns the roster's volunteer of a person, or None (the time bank's ``_volunteer``).
        hub_links: returns the hub's ``family`` entries (the ``requests`` document).
        clock: aware wall time.
    """

    def __init__(self, journal: Journal, volunteer: Callable[[Person], Any],
                 hub_links: Callable[[], list[dict[str, Any]]], clock: Callable[[], datetime]) -> None:
        self.journal = journal
        self.station_id = journal.station_id
        self._volunteer = volunteer
        self._hub = hub_links
        self._clock = clock

    def _state(self, where: dict[str, Any]) -> dict[tuple[str, str], tuple[datetime, bool, str]]:
        """(volunteer id, family key) -> (time, linked, masked name) of the newest event known."""
        out: dict[tuple[str, str], tuple[datetime, bool, str]] = {}

        def take(pair, at: datetime, linked: bool, name: str) -> None:
            old = out.get(pair)
            if old is None or at >= old[0]:
                out[pair] = (at, linked, name or (old[2] if old else ""))
        for e in self._hub():
            if all(e.get(k) == v for k, v in where.items()):
                take((e["volunteer_id"], e["family_key"]), hub_time(e.get("at")), e.get("linked") is True,
                     str(e.get("display_name", "")))
        for kind, linked in (("family_linked", True), ("family_unlinked", False)):
            for r in self.journal.records(kind, where=where, limit=10_000):
                p = r.payload
                take((p.volunteer_id, p.family_key), r.created_at, linked,
                     getattr(p, "display_name", ""))
        return out

    def members(self, volunteer_person: Person) -> list[FamilyMember]:
        """The volunteer's linked family members, oldest link first.

        Raises:
            NotRegistered: the person is not a volunteer.
        """
        v = self._require(volunteer_person)
        state = self._state({"volunteer_id": v.id})
        return sorted((FamilyMember(key, name, at.isoformat(timespec="seconds")) for (_vid, key), (at, linked, name) in state.items() if linked),
                      key=lambda m: m.since)

    def volunteers_of(self, person_key: str) -> list[str]:
        """The ids of the volunteers ``person_key`` is linked to as a family member."""
        state = self._state({"family_key": person_key})
        return sorted(vid for (vid, _key), (_at, linked, _name) in state.items() if linked)

    def link(self, volunteer_person: Person, family: Person | None) -> FamilyMember:
        """Link the family member whose card was just tapped to the volunteer.

        Raises:
            NotRegistered, NotIdentified (no card), NotAResident, LinkSelf, AlreadyLinked, TooManyFamily.
        """
        v = self._require(volunteer_person)
        if family is None:
            raise NotIdentified("the family member's card is needed")
        if family.person_key in (volunteer_person.person_key, v.person_key) or family.volunteer_id == v.id:
            raise LinkSelf("a volunteer cannot be their own family member")
        if not resident_key(family):
            raise NotAResident(f"a {family.role} card from {family.source} is not a resident's")
        current = self.members(volunteer_person)
        if any(m.family_key == family.person_key for m in current):
            raise AlreadyLinked("linked already")
        if len(current) >= MAX_FAMILY:
            raise TooManyFamily(f"{len(current)} family members linked")
        n = len(self.journal.records("family_linked", where={"volunteer_id": v.id, "family_key": family.person_key},
                                     limit=10_000))
        self.journal.append(FamilyLinked(v.id, v.person_key or "", family.person_key, family.display_name),
                            record_id=event_id("family", v.id, f"{self.station_id}:{family.person_key}:{n}"),
                            created_at=self._clock())
        return next(m for m in self.members(volunteer_person) if m.family_key == family.person_key)

    def unlink(self, volunteer_person: Person, family_key: str) -> None:
        """Remove the link to a family member.

        Raises:
            NotRegistered, NotLinked.
        """
        v = self._require(volunteer_person)
        if not any(m.family_key == family_key for m in self.members(volunteer_person)):
            raise NotLinked("not linked")
        n = len(self.journal.records("family_unlinked", where={"volunteer_id": v.id, "family_key": family_key},
                                     limit=10_000))
        self.journal.append(FamilyUnlinked(v.id, family_key),
                            record_id=event_id("unfamily", v.id, f"{self.station_id}:{family_key}:{n}"),
                            created_at=self._clock())

    def _require(self, person: Person) -> Any:
        v = self._volunteer(person)
        if v is None:
            raise NotVolunteer("the person is not a registered volunteer")
        return v
