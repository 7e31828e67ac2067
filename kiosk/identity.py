"""Identity: one service turns an ID card, a contactless card or a QR token into a session person.

Privacy by design: the full document number is used once, to compute the person key, and is then
dropped with the document; only masked forms leave this module. A person whose records were
journaled under the key of an earlier Yizhan (HMAC, or scrypt at a lower cost) is linked to the new
key the first time their card is read (a ``person_key_linked`` record), so consent, trends and
roster entries carry over; once the hub has the link, the old key is erased (``kiosk.key_links``).
Residents are asked once for consent to the processing of health data (PIPL sensitive personal
information); the decision is journaled and looked up on later visits.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from kiosk.i18n import N_
from kiosk.journal import ERASABLE_KINDS, Journal
from kiosk.privacy import age_band, age_on, earlier_person_keys, mask_id_number, mask_name, person_key
from kiosk.records import ConsentDecision, ConsentWithdrawn, PersonKeyLinked, TokenUse, Visit
from kiosk.roster import Roster
from kiosk.session import Person
from kiosk.tokens import Token, TokenError, TokenExpired, TokenUsed, TokenWrongStation, token_digest, verify_token

log = logging.getLogger(__name__)
_TOKEN_USE_NS = uuid.UUID("6f1d3c52-2b1e-4c3a-9a51-7f0d2e9b8c11")

#: Why an identification was refused -> what the person is told.
REFUSALS = {
    "document_expired": N_("This card has expired. Please use a valid card or ask the staff."),
    "bad_check_digit": N_("This card's number does not check out. Please ask the staff."),
    "unknown_card": N_("This card is not registered here. Please use your ID card or ask the staff."),
    "token_invalid": N_("This QR code is not valid here. Please use your card or ask the staff."),
    "token_expired": N_("This QR code has expired. Please ask the staff for a new one."),
    "token_wrong_station": N_("This QR code belongs to another station. Please use it there, or ask the staff."),
    "token_used": N_("This QR code has already been used. Please ask the staff for a new one."),
    "unsupported_card": N_("This kind of card cannot be used here. Please use your ID card."),
}


@dataclass(frozen=True)
class Identified:
    """A person was identified; ``needs_consent`` asks the consent screen to run first."""

    person: Person
    needs_consent: bool
    consent_given: bool | None


@dataclass(frozen=True)
class Refused:
    """Identification failed; ``reason`` is a key of :data:`REFUSALS`."""

    reason: str
    detail: str = ""

    @property
    def message(self) -> str:
        """The English message id to show (translate it)."""
        return REFUSALS[self.reason]


Outcome = Identified | Refused


class IdentityService:
    """Merges the three identification sources into one kind of outcome.

    Args:
        district_key: HMAC key for person keys and QR tokens.
        journal: where visits and consent decisions go.
        roster: loader of the current roster (called on each identification so downlink updates apply).
        today: date source (injectable for tests).
    """

    def __init__(self, district_key: bytes, journal: Journal, roster: Callable[[], Roster],
                 today: Callable[[], date] = date.today) -> None:
        self._key = district_key
        self.journal = journal
        self._roster = roster
        self._today = today

    # -- sources ------------------------------------------------------------------------------
    def from_document(self, doc, source: str = "idcard") -> Outcome:
        """An ID document read by the SAM reader (``drivers.idcard_text.IdDocument``)."""
        today = self._today()
        if doc.expired(today):
            return Refused("document_expired")
        if doc.check_digit_ok is False:
            return Refused("bad_check_digit")
        key = person_key(self._key, doc.number)
        former = self._former_keys(key, doc.number)
        age = age_on(doc.birth_date, today)
        gender = getattr(doc.gender, "name", str(doc.gender)).lower()
        person = Person(role="resident", person_key=key, display_name=mask_name(doc.name),
                        masked_id=mask_id_number(doc.number), birth_year=doc.birth_date.year,
                        gender=gender if gender in ("male", "female") else "", age_band=age_band(age),
                        document_kind=doc.kind.value, source=source, former_keys=former)
        return self._finish(self._with_roster(person))

    def from_card_uid(self, uid: str) -> Outcome:
        """A contactless card's UID: known only through the roster."""
        volunteer = self._roster().by_card_uid(uid)
        if volunteer is None:
            return Refused("unknown_card", uid.upper())    # the UID lets staff bind this card to someone
        return self._finish(self._volunteer_person(volunteer, "pcsc"))

    @staticmethod
    def _volunteer_person(volunteer, source: str) -> Person:
        return Person(role="volunteer", person_key=volunteer.person_key or f"volunteer:{volunteer.id}",
                      display_name=mask_name(volunteer.name), source=source, volunteer_id=volunteer.id,
                      team=volunteer.teams[0] if volunteer.teams else "")

    def from_token(self, text: str, now=None) -> Outcome:
        """A QR token issued by a station (``kiosk.tokens``)."""
        try:
            token = verify_token(self._key, text, now=now, station=self.journal.station_id)
            if token.one_time:
                self._use_once(text, token)
        except TokenExpired:
            return Refused("token_expired")
        except (TokenWrongStation, TokenUsed) as exc:
            return Refused(exc.user_key)
        except TokenError as exc:
            return Refused("token_invalid", type(exc).__name__)
        if token.kind == "volunteer":
            volunteer = self._roster().by_id(token.subject)
            if volunteer is None:
                return Refused("unknown_card", "volunteer token for an id not in the roster")
            return self._finish(self._volunteer_person(volunteer, "qr"))
        linked = self.journal.records("person_key_linked", where={"old_key": token.subject}, limit=1)
        if linked:            # a token issued before the person key changed
            person = Person(role="resident", person_key=linked[0].payload.new_key, display_name="", source="qr",
                            former_keys=(token.subject,))
        else:
            person = Person(role="resident", person_key=token.subject, display_name="", source="qr")
        return self._finish(self._with_roster(person))

    def _use_once(self, text: str, token: Token) -> None:
        """Journal the use of a one-time token; a second use (even after a restart) raises TokenUsed."""
        digest = token_digest(text)
        record_id = str(uuid.uuid5(_TOKEN_USE_NS, f"{self.journal.station_id}|{digest}"))
        used = self.journal.append(TokenUse(digest=digest, expires_at=token.expires_at.isoformat()),
                                   record_id=record_id)
        if not used.created:
            raise TokenUsed("this one-time token was used before")

    # -- person-key migration ---------------------------------------------------------------------
    def _former_keys(self, key: str, number: str) -> tuple[str, ...]:
        """The earlier keys linked to ``key``; links each key an earlier Yizhan derived (HMAC, an
        earlier scrypt cost) that this journal or the roster knows (a consent decision, a volunteer
        entry). Once the hub acknowledged a link, its records are relabelled and its old key is ""."""
        linked = self.journal.records("person_key_linked", where={"new_key": key}, limit=10)
        if linked:
            return tuple(r.payload.old_key for r in linked if r.payload.old_key)
        known = tuple(old for old in earlier_person_keys(self._key, number)
                      if self.consent_status(old) is not None or self._roster().by_person_key(old) is not None)
        for old in known:
            self.journal.append(PersonKeyLinked(old_key=old, new_key=key))
            log.info("linked a person's records under an earlier person key to the new one")
        return known

    # -- consent and records ------------------------------------------------------------------------
    def consent_status(self, key: str) -> bool | None:
        """The person's latest consent decision for health services, None if never asked."""
        last = self.journal.records("consent", where={"person_key": key}, newest_first=True, limit=1)
        return last[0].payload.granted if last else None

    def record_consent(self, person: Person, granted: bool) -> None:
        """Journal the person's decision (returns after the commit)."""
        self.journal.append(ConsentDecision(person_key=person.person_key, granted=granted))

    def withdraw_consent(self, person_key: str, by: str = "staff") -> int:
        """A person withdraws consent: journal the decline and the withdrawal, then erase their
        health records here (the hub deletes its copies when the withdrawal arrives). Returns how
        many records were erased. Records under a linked earlier person key (``person_key_linked``) are
        withdrawn and erased too, each key by its own withdrawal record. Safe to repeat (a crash between
        the steps is mended by doing it again)."""
        linked = self.journal.records("person_key_linked", where={"new_key": person_key}, limit=10)
        erased = 0
        for key in (person_key, *(r.payload.old_key for r in linked if r.payload.old_key)):   # earlier keys too
            self.journal.append(ConsentDecision(person_key=key, granted=False))
            erasable = sum(len(self.journal.records(kind, where={"person_key": key}, limit=100_000))
                           for kind in ERASABLE_KINDS)
            withdrawal = self.journal.append(ConsentWithdrawn(person_key=key, erased_count=erasable, by=by))
            erased += self.journal.erase_person(key, withdrawal.record.id)
        return erased

    def _with_roster(self, person: Person) -> Person:
        roster = self._roster()
        volunteer = next((v for v in map(roster.by_person_key, person.keys) if v is not None), None)
        if volunteer is None:
            return person
        return replace(person, role="volunteer", volunteer_id=volunteer.id,
                       display_name=person.display_name or mask_name(volunteer.name),
                       team=volunteer.teams[0] if volunteer.teams else "")

    def _finish(self, person: Person) -> Identified:
        self.journal.append(Visit(person_key=person.person_key, source=person.source, role=person.role,
                                  document_kind=person.document_kind, age_band=person.age_band,
                                  gender=person.gender))
        consent = next((c for c in map(self.consent_status, person.keys) if c is not None), None)
        log.info("identified a %s via %s", person.role, person.source)
        return Identified(person=person, needs_consent=consent is None and person.role == "resident",
                          consent_given=consent)
