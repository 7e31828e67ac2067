"""Staff registers volunteers and replaces lost cards at the kiosk (part of ``TimeBank``).
"""
from __future__ import annotations

import logging
import re
import uuid

from kiosk.privacy import contains_id_number
from kiosk.roster import Volunteer
from kiosk.timebank.errors import (
    CardInUse,
    RegistrationInvalid,
    UnknownTeam,
    UnknownVolunteer,
)
from kiosk.timebank.kinds import CardRebound, VolunteerRegistered

log = logging.getLogger(__name__)

_PHONE = re.compile(r"\+?\d[\d -]{5,18}\d")
_HEX = re.compile(r"[0-9A-Fa-f]+")


def mask_phone(phone: str) -> str:
    """138****5678: first 3 and last 4 digits kept.

    Raises:
        RegistrationInvalid: not a phone number.
    """
    digits = re.sub(r"\D", "", phone)
    if not _PHONE.fullmatch(phone.strip()) or not 7 <= len(digits) <= 15:
        raise RegistrationInvalid(f"phone {phone[:20]!r} is not a phone number")
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


class RegistrationMixin:
    """Registration and card rebinding; needs the attributes :class:`TimeBank` sets up."""

    def register_volunteer(self, name: str, phone: str, team: str, *, card_uid: str = "", person_key: str = "",
                           registered_by: str = "") -> Volunteer:
        """Staff registers a volunteer at the kiosk (synced up; usable here at once).

        Args:
            name: the real name (certificates need it; shown masked everywhere on the kiosk).
            phone: stored masked only.
            card_uid: the tapped IC card's UID (hex) and/or person_key of their ID card.

        Raises:
            RegistrationInvalid, UnknownTeam, CardInUse.
        """
        name = " ".join(name.split())
        if not name or len(name) > 40 or any(c.isdigit() for c in name) or contains_id_number(name):
            raise RegistrationInvalid("name must be 1-40 characters without digits")
        masked = mask_phone(phone)
        uid = self._check_uid(card_uid)
        key = self._check_key(person_key)
        if not uid and not key:
            raise RegistrationInvalid("a card UID or an ID card is needed")
        if self.catalog().team(team) is None and team not in self._roster().teams:
            raise UnknownTeam(f"team {team!r} is not in the catalog")
        self._check_free(uid, key, None)
        vid = f"{self.station_id}-{uuid.uuid4().hex[:10]}"
        self.journal.append(VolunteerRegistered(volunteer_id=vid, name=name, phone_masked=masked, team=team,
                                                card_uid=uid, person_key=key, registered_by=registered_by),
                            created_at=self._clock())
        return Volunteer(vid, name, (team,), uid, key)

    @staticmethod
    def _check_uid(card_uid: str) -> str:
        uid = card_uid.strip().upper()
        if uid and not (_HEX.fullmatch(uid) and 4 <= len(uid) <= 20):
            raise RegistrationInvalid("card UID must be 4-20 hex digits")
        return uid

    @staticmethod
    def _check_key(person_key: str) -> str:
        key = person_key.strip().lower()
        if key and not (_HEX.fullmatch(key) and len(key) == 64):
            raise RegistrationInvalid("person key must be 64 hex digits")
        return key

    def _check_free(self, uid: str, key: str, owner: str | None) -> None:
        roster = self._roster()
        for other in (roster.by_card_uid(uid) if uid else None, roster.by_person_key(key) if key else None):
            if other is not None and other.id != owner:
                raise CardInUse(f"the card already belongs to volunteer {other.id}")

    def rebind_card(self, volunteer_id: str, *, new_card_uid: str = "", new_person_key: str = "",
                    reason: str = "lost", by: str = "") -> CardRebound:
        """Replace a volunteer's lost card; the old card stops working here at once, the history stays.

        Raises:
            UnknownVolunteer, RegistrationInvalid, CardInUse.
        """
        v = self._roster().by_id(volunteer_id)
        if v is None:
            raise UnknownVolunteer(f"no volunteer {volunteer_id!r}")
        uid, key = self._check_uid(new_card_uid), self._check_key(new_person_key)
        if not uid and not key:
            raise RegistrationInvalid("a new card UID or ID card is needed")
        self._check_free(uid, key, v.id)
        payload = CardRebound(volunteer_id=v.id, old_card_uid=v.card_uid, new_card_uid=uid,
                              old_person_key=v.person_key if key else "", new_person_key=key, reason=reason[:40],
                              by=by)
        self.journal.append(payload, created_at=self._clock())
        return payload
