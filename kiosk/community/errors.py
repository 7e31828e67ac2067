"""Typed errors of service requests, each with the plain-language message the kiosk shows."""
from __future__ import annotations

from kiosk.i18n import N_


class RequestError(Exception):
    """Base of the request errors; ``message`` is the English sentence a person reads (Chinese in
    ``locale/zh_CN/LC_MESSAGES/community.po``)."""

    message = N_("The request could not be recorded. Please ask the staff.")


class NotIdentified(RequestError):
    """Nobody is identified: a request needs the resident's card first."""

    message = N_("Please tap your card first, so we know who is asking.")


class NothingChosen(RequestError):
    """No service, or no time, was chosen."""

    message = N_("Please choose what you need help with.")


class UnknownRequestService(RequestError):
    """The service is not one that can be requested here."""

    message = N_("This service cannot be requested here. Please choose another one.")


class UnknownSlot(RequestError):
    """The chosen time is not in the station's timetable (any more)."""

    message = N_("This time is no longer offered. Please choose another one.")


class AlreadyRequested(RequestError):
    """The same person already has an open request for this service."""

    message = N_("You already asked for this service; it is in “My requests”.")


class UnknownRequest(RequestError):
    """No request with that id is known at this station."""

    message = N_("This request was not found. Please ask the staff.")


class NotYourTask(RequestError):
    """A volunteer tried to mark done (or confirm) a task assigned to someone else."""

    message = N_("This task belongs to another volunteer.")


class OwnRequest(RequestError):
    """A volunteer tried to take on their own request."""

    message = N_("You cannot take on your own request.")


class AlreadyTaken(RequestError):
    """The task was claimed or assigned already."""

    message = N_("Another volunteer has already taken this task.")


class WrongState(RequestError):
    """The request is not in a state that allows this (e.g. cancelling after it was done)."""

    message = N_("This request cannot be changed any more.")


class NotRequester(RequestError):
    """Someone other than the resident who asked tried to confirm or cancel."""

    message = N_("Only the resident who asked can do this, with their own card.")
