"""Screening day (健康筛查日, staffed mode): a staff member opens a session, residents measure one after another.

A pure state machine over the journal (no Kivy, no threads): the journal is the only state that
survives a restart. ``health_session_opened`` starts a session; every measurement journaled while
it is open carries its ``session_id``; ``health_session_closed`` ends it with a summary computed
from the journal (so a summary after a restart counts what was measured before it).

Typical use by the staffed-mode screen::

    session = HealthCheckSession.current(journal) or HealthCheckSession.open(journal, staff_key, station)
    session.attribute(resident_key)               # the resident taps their card
    record, alert = session.record(reading, assessment)
    summary = session.close()                    # the staff member ends the day
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from drivers.readings import BloodPressureReading, GlucoseReading
from kiosk.health import Assessment, Level
from kiosk.health_records import (MEASUREMENT_KINDS, MEASUREMENT_NAMESPACE, HealthSessionClosed,
                                  HealthSessionOpened, record_measurement)
from kiosk.i18n import N_
from kiosk.journal import Journal
from kiosk.records import Record


class HealthSessionError(Exception):
    """Base of the session errors; ``user_message`` is what to show (translated when shown)."""

    user_key = "session_closed"
    user_message = N_("This screening day has already ended.")


class SessionAlreadyOpen(HealthSessionError):
    """Another session is open; resume it with :meth:`HealthCheckSession.current` or close it."""

    user_key = "session_already_open"
    user_message = N_("A screening day is already open. Close it before opening a new one.")


class NoResident(HealthSessionError):
    """A measurement came in before any resident tapped their card."""

    user_key = "session_no_resident"
    user_message = N_("Please ask the resident to tap their card first.")


class SessionClosed(HealthSessionError):
    """The session has ended; nothing more can be attributed to it."""

    user_key = "session_closed"
    user_message = N_("This screening day has already ended.")


class WrongSession(HealthSessionError):
    """A record that is not a measurement of this session was noted."""

    user_key = "session_wrong_record"
    user_message = N_("This result belongs to another screening day.")


@dataclass
class Tally:
    """Running counts of one session (what the staffed-mode header shows)."""

    residents: set[str]
    measurements: int = 0
    abnormal: int = 0
    urgent: int = 0

    def add(self, payload) -> None:
        """Count one measurement payload (abnormal = any level above normal, urgent included)."""
        self.residents.add(payload.person_key)
        self.measurements += 1
        self.abnormal += Level(payload.level) > Level.NORMAL
        self.urgent += bool(payload.urgent)


def _all(journal: Journal, kind: str, where: dict | None = None) -> Iterator[Record]:
    after = 0
    while True:
        page = journal.records(kind, after_seq=after, where=where, limit=500)
        yield from page
        if len(page) < 500:
            return
        after = page[-1].seq


class HealthCheckSession:
    """One open health-check session. Build it with :meth:`open` or :meth:`current`, not directly."""

    def __init__(self, journal: Journal, opened: Record, station_id: str) -> None:
        self.journal = journal
        self.station_id = station_id
        self.session_id: str = opened.payload.session_id
        self.staff_key: str = opened.payload.staff_key
        self.opened_at: datetime = opened.created_at
        self.resident: str | None = None
        self.closed: HealthSessionClosed | None = None
        self.tally = self._count()

    # -- life cycle -------------------------------------------------------------------------------
    @classmethod
    def open(cls, journal: Journal, staff_person_key: str, station_id: str) -> HealthCheckSession:
        """Journal ``health_session_opened`` and return the new session.

        Args:
            journal: the station journal.
            staff_person_key: person key of the staff member or volunteer who tapped their card.
            station_id: this station.

        Raises:
            SessionAlreadyOpen: a session is already open (it carries on; resume it with current()).
        """
        if cls.current(journal, station_id) is not None:
            raise SessionAlreadyOpen("a health-check session is already open")
        opened = journal.append(HealthSessionOpened(session_id=str(uuid.uuid4()), staff_key=staff_person_key)).record
        return cls(journal, opened, station_id)

    @classmethod
    def current(cls, journal: Journal, station_id: str | None = None) -> HealthCheckSession | None:
        """The session still open in the journal (after a restart, too), or None.

        Args:
            station_id: defaults to the journal's station.
        """
        latest = journal.records("health_session_opened", newest_first=True, limit=1)
        if not latest:
            return None
        sid = latest[0].payload.session_id
        if journal.records("health_session_closed", where={"session_id": sid}, limit=1):
            return None
        return cls(journal, latest[0], station_id or journal.station_id)

    def close(self) -> HealthSessionClosed:
        """End the session: journal ``health_session_closed`` with counts taken from the journal.

        Returns:
            The summary payload (residents measured, measurements, abnormal, urgent). Closing twice
            returns the same summary and writes nothing new.
        """
        if self.closed is not None:
            return self.closed
        tally = self._count()
        summary = HealthSessionClosed(session_id=self.session_id, staff_key=self.staff_key, opened_at=self.opened_at,
                                      residents_measured=len(tally.residents), measurements=tally.measurements,
                                      abnormal=tally.abnormal, urgent=tally.urgent)
        rid = str(uuid.uuid5(MEASUREMENT_NAMESPACE, f"session-closed|{self.session_id}"))
        self.closed = self.journal.append(summary, record_id=rid).record.payload
        self.tally = tally
        self.resident = None
        return self.closed

    @property
    def is_open(self) -> bool:
        """True until :meth:`close`."""
        return self.closed is None

    # -- residents and measurements ---------------------------------------------------------------
    def attribute(self, person_key: str) -> None:
        """The next measurements belong to this resident (who just tapped their card).

        Raises:
            SessionClosed: the session has ended.
        """
        self._check_open()
        self.resident = person_key

    def record(self, reading: BloodPressureReading | GlucoseReading,
               assessment: Assessment) -> tuple[Record, Record | None]:
        """Journal a measurement for the current resident in this session (see ``record_measurement``).

        Raises:
            SessionClosed: the session has ended.
            NoResident: no resident has tapped a card yet.
        """
        self._check_open()
        if self.resident is None:
            raise NoResident("no resident attributed yet")
        record, alert = record_measurement(self.journal, self.resident, reading, assessment,
                                           session_id=self.session_id, station_id=self.station_id)
        self.note_measurement(record)
        return record, alert

    def note_measurement(self, record: Record) -> None:
        """Count a measurement record journaled for this session (a re-read is counted once).

        Raises:
            SessionClosed: the session has ended.
            WrongSession: not a measurement, or one of another session.
        """
        self._check_open()
        if record.kind not in MEASUREMENT_KINDS.values() or record.payload.session_id != self.session_id:
            raise WrongSession(f"record {record.id} ({record.kind}) is not a measurement of session {self.session_id}")
        if record.id in self._noted:
            return
        self._noted.add(record.id)
        self.tally.add(record.payload)

    # -- internals ----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed is not None:
            raise SessionClosed(f"session {self.session_id} is closed")

    def _count(self) -> Tally:
        tally = Tally(residents=set())
        self._noted: set[str] = set()
        for kind in MEASUREMENT_KINDS.values():
            for rec in _all(self.journal, kind, {"session_id": self.session_id}):
                self._noted.add(rec.id)
                tally.add(rec.payload)
        return tally
