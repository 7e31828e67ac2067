"""Typed errors of the time bank, each with the plain-language message the kiosk shows.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from kiosk.i18n import N_

log = logging.getLogger(__name__)

#: Identification sources strong enough to spend hours or confirm a service: the resident ID card,
#: whose chip the reader's security module authenticates. A contactless card's UID is copied onto a
#: blank card for a few yuan, and a QR code can be photographed, so they only identify.
STRONG_SOURCES = frozenset({"idcard"})


class VolunteerError(Exception):
    """Base of the time-bank errors; ``user_message`` is what the person is told (translated when shown)."""

    user_key = "volunteer_error"
    user_message = N_("The volunteer service could not be recorded. Please ask the staff.")

    @property
    def message(self) -> str:
        """The English message id the kiosk shows (translate it)."""
        return self.user_message


class InvalidDuration(VolunteerError):
    """A negative or absurdly long duration (usually a clock change); nothing was credited."""

    user_key = "invalid_duration"
    user_message = N_("The shift time does not look right (the clock may have changed). Please ask the staff.")


class NotRegistered(VolunteerError):
    """The person is not a volunteer in the roster (offer registration through staff)."""

    user_key = "not_registered"
    user_message = N_("This card is not registered as a volunteer. Please ask the staff to register you.")


class AlreadyCheckedIn(VolunteerError):
    """The volunteer has an open shift at this station."""

    user_key = "already_checked_in"
    user_message = N_("You are already checked in.")


class NotCheckedIn(VolunteerError):
    """There is no open shift to close."""

    user_key = "not_checked_in"
    user_message = N_("You are not checked in.")


class UnknownTeam(VolunteerError):
    """The team is in neither the catalog nor the roster."""

    user_key = "unknown_team"
    user_message = N_("This team is not in the list. Please choose another one.")


class UnknownService(VolunteerError):
    """The service type is not in the catalog."""

    user_key = "unknown_service"
    user_message = N_("This service is not in the list. Please choose another one.")


class UnknownPendingService(VolunteerError):
    """No service with that id was recorded at this station."""

    user_key = "unknown_pending"
    user_message = N_("This service was not found. Please record it again.")


class AlreadyConfirmed(VolunteerError):
    """The service was confirmed before (by another resident or with another rating)."""

    user_key = "already_confirmed"
    user_message = N_("This service has already been confirmed.")


class SelfConfirmation(VolunteerError):
    """The volunteer tried to confirm their own service."""

    user_key = "self_confirmation"
    user_message = N_("The resident who was served must confirm with their own card.")


class InvalidRating(VolunteerError):
    """A rating outside 1..5."""

    user_key = "invalid_rating"
    user_message = N_("Please choose one of the five faces.")


class InvalidHours(VolunteerError):
    """Hours not positive, not in half-hour steps, or too large."""

    user_key = "invalid_hours"
    user_message = N_("Please enter the hours in steps of half an hour.")


class InsufficientBalance(VolunteerError):
    """The movement would take the balance below the configured floor."""

    user_key = "insufficient_balance"
    user_message = N_("Not enough hours in the account for this service.")

    def __init__(self, balance: Decimal, hours: Decimal, floor: Decimal) -> None:
        self.balance, self.hours, self.floor = balance, hours, floor
        super().__init__(f"balance {balance} h minus {hours} h would go below the floor of {floor} h")


class RegistrationInvalid(VolunteerError):
    """Missing or malformed registration data (the message names the field)."""

    user_key = "registration_invalid"
    user_message = N_("The registration is incomplete: please check the name, phone and card.")


class CardInUse(VolunteerError):
    """The card UID or person key already belongs to another volunteer."""

    user_key = "card_in_use"
    user_message = N_("This card already belongs to another volunteer.")


class UnknownVolunteer(VolunteerError):
    """No volunteer with that id."""

    user_key = "unknown_volunteer"
    user_message = N_("This volunteer was not found.")


class SecondFactorRequired(VolunteerError):
    """Spending hours or confirming a service needs the ID card; a card UID or a QR code only identifies."""

    user_key = "second_factor"
    user_message = N_("For this, please place your ID card on the reader. A contactless card alone is not enough.")


def require_second_factor(person, what: str) -> None:
    """Raise :class:`SecondFactorRequired` unless ``person`` was identified by a strong source."""
    if getattr(person, "source", "") not in STRONG_SOURCES:
        raise SecondFactorRequired(f"{what} needs the ID card, not a {getattr(person, 'source', '?')} identification")
