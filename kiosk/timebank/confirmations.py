"""Services done for residents, confirmed and rated by the resident's card (part of ``TimeBank``).
"""
from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from kiosk.session import Person
from kiosk.timebank.errors import (
    AlreadyConfirmed,
    InvalidDuration,
    InvalidRating,
    SelfConfirmation,
    UnknownPendingService,
    UnknownService,
    require_second_factor,
)
from kiosk.timebank.kinds import (
    FOLLOW_UP_AT,
    ISSUED,
    NAMESPACE,
    RATINGS,
    ServiceConfirmation,
    ServiceFollowUp,
    VolunteerService,
    volunteer_account,
)
from kiosk.timebank.results import Confirmation, PendingService
from kiosk.timebank.rules import hours_for_minutes

log = logging.getLogger(__name__)


class ServicesMixin:
    """Record, list and confirm services; needs the attributes :class:`TimeBank` sets up."""

    def record_service(self, volunteer_person: Person, service_type: str, minutes: int) -> PendingService:
        """A volunteer records a service done for a resident (credited after the resident confirms).

        Raises:
            NotRegistered, UnknownService, InvalidDuration (minutes outside 1..max shift).
        """
        v = self._require(volunteer_person)
        st = self.catalog().service(service_type)
        if st is None or st.kind == "activity":
            raise UnknownService(f"service {service_type!r} is not in the catalog")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise InvalidDuration(f"a service of {minutes!r} minutes")
        hours = Decimal(str(st.hours)) if st.hours is not None else \
            hours_for_minutes(minutes, self.rules, apply_minimum=False)
        if minutes > self.rules.max_shift_hours * 60:
            raise InvalidDuration(f"a service of {minutes} minutes is longer than {self.rules.max_shift_hours} h")
        payload = VolunteerService(service_id=str(uuid.uuid4()), volunteer_id=v.id, person_key=v.person_key,
                                   team=v.teams[0] if v.teams else "", service_type=st.id, service_name=st.name,
                                   minutes=minutes, hours=float(hours))
        res = self.journal.append(payload, created_at=self._clock())
        return PendingService(payload.service_id, v.id, st.id, st.name, minutes, float(hours), res.record.id)

    def pending_services(self, volunteer_person: Person) -> list[PendingService]:
        """This volunteer's recorded services not yet confirmed at this station."""
        v = self._require(volunteer_person)
        out = []
        for r in self.journal.records("volunteer_service", where={"volunteer_id": v.id}, newest_first=True, limit=50):
            p: VolunteerService = r.payload
            if not self.journal.records("service_confirmation", where={"service_id": p.service_id}, limit=1):
                out.append(PendingService(p.service_id, p.volunteer_id, p.service_type, p.service_name, p.minutes,
                                          p.hours, r.id))
        return out

    def confirm_service(self, pending_id: str, resident_person: Person, rating: int) -> Confirmation:
        """The resident confirms with their card and rates (5 非常满意 … 1 非常不满意).

        Journals the confirmation, the earn movement (if the service earns hours) and, for a rating of
        2 or less, a follow-up for staff. Calling it again with the same resident and rating after a
        crash completes what was missing and duplicates nothing.

        Raises:
            SecondFactorRequired (the resident was identified by a card UID or QR code, not the ID
            card), InvalidRating, UnknownPendingService, SelfConfirmation, AlreadyConfirmed.
        """
        require_second_factor(resident_person, "confirming a service")
        if isinstance(rating, bool) or rating not in RATINGS:
            raise InvalidRating(f"rating {rating!r} is not 1..5")
        found = self.journal.records("volunteer_service", where={"service_id": pending_id}, limit=1)
        if not found:
            raise UnknownPendingService(f"no service {pending_id!r} recorded here")
        return self.confirm_recorded(found[0].payload, resident_person, rating)

    def confirm_recorded(self, svc: VolunteerService, resident_person: Person, rating: int) -> Confirmation:
        """Confirm a service known from its record (here, or as the hub reported a request done at
        another station): the same journal records and ids as :meth:`confirm_service`.

        Raises:
            InvalidRating, SelfConfirmation, AlreadyConfirmed.
        """
        if isinstance(rating, bool) or rating not in RATINGS:
            raise InvalidRating(f"rating {rating!r} is not 1..5")
        if resident_person.person_key == svc.person_key or resident_person.volunteer_id == svc.volunteer_id:
            raise SelfConfirmation("a volunteer cannot confirm their own service")
        payload = ServiceConfirmation(service_id=svc.service_id, volunteer_id=svc.volunteer_id,
                                      resident_key=resident_person.person_key, rating=rating, hours=svc.hours)
        res = self.journal.append(payload, record_id=str(uuid.uuid5(NAMESPACE, f"confirm:{svc.service_id}")),
                                  created_at=self._clock())
        if res.record.payload != payload:
            raise AlreadyConfirmed(f"service {svc.service_id} was confirmed before")
        movement_id = str(uuid.uuid5(NAMESPACE, f"earn:{svc.service_id}"))
        if svc.hours > 0:
            self._move("earn", ISSUED, volunteer_account(svc.volunteer_id), Decimal(str(svc.hours)), svc.service_id,
                       "service", svc.team, movement_id=movement_id)
        follow = rating <= FOLLOW_UP_AT
        if follow:
            self.journal.append(ServiceFollowUp(service_id=svc.service_id, volunteer_id=svc.volunteer_id,
                                                resident_key=resident_person.person_key, rating=rating,
                                                service_type=svc.service_type),
                                record_id=str(uuid.uuid5(NAMESPACE, f"follow:{svc.service_id}")))
        return Confirmation(svc.service_id, rating, RATINGS[rating], svc.hours, follow, movement_id)
