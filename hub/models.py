"""The hub's tables (SQLAlchemy Core): records, conflicts, dead letters, stations, downlink documents, shift
rejections, consent withdrawals, the staff workbench's accounts, sessions, audit log and work state, the two-way
station's service requests, wishes and activity sign-ups, and the time-bank facts kept up to date from the records.

The same schema runs on SQLite (the default, one file) and PostgreSQL (``postgresql://…``).
"""
from __future__ import annotations

import json

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, Index, Integer, LargeBinary, MetaData, String, Table,
                        Text, text)

metadata = MetaData()

#: One row per journal record, keyed by (station, the record id the kiosk gave it): redelivery never
#: duplicates, and no station can take a key another station will use.
records = Table(
    "hub_records", metadata,
    Column("station", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("batch_id", String(64)),
    Column("hub", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("hub_records_station_seq", "station", "seq"),
    Index("hub_records_kind_ts", "kind", "ts"),
)

#: A health record erased after its person withdrew consent keeps its row — station, id, seq, kind
#: and time — with the payload ``{"erased":"<withdrawal record id>"}``, as the kiosk's journal keeps
#: it: a station's sequence has no hole (``hub_station_counts.through`` keeps moving) and a resent
#: copy is known as the same record. Readers of health kinds keep only :data:`LIVE` rows.
ERASED_PREFIX = '{"erased":'
LIVE = records.c.payload.notlike(ERASED_PREFIX + "%")


def erased_payload(by: str) -> str:
    """The payload an erased health record keeps: ``{"erased":"<by>"}``, as the kiosk's journal writes it."""
    return json.dumps({"erased": str(by)}, separators=(",", ":"), ensure_ascii=False)


#: Which person each health, service and consent record names (``hub/people.py``): a resident is
#: found by key, or by a key prefix, through the primary key instead of every record's payload.
person_records = Table(
    "hub_person_records", metadata,
    Column("person_key", String(64), primary_key=True),
    Column("station", String(64), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Index("hub_person_records_record", "station", "record_id"),
)

#: A record that arrived under a (station, id) already stored with different content: kept aside,
#: reported (``yizhan hub conflicts``), never acknowledged as stored.
conflicts = Table(
    "hub_conflicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("station", String(64), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("batch_id", String(64)),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("stored_digest", String(64), nullable=False),
    Column("hub", String(64)),
    Index("hub_conflicts_station_record", "station", "record_id"),
)

#: Everything the hub could not accept, with the reason; nothing is silently dropped. The payload
#: is kept only when it is small and carries no ID number (else b"": the SHA-256 digest remains);
#: repeats of the same message add to ``count``; sizes are capped per station and in total and
#: old rows expire (:mod:`hub.deadletters`).
dead_letters = Table(
    "hub_dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(512), nullable=False),
    Column("station", String(64)),
    Column("record_id", String(64)),
    Column("reason", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("digest", String(64)),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("last_at", DateTime(timezone=True)),
    Column("replayed_at", DateTime(timezone=True)),
    Index("hub_dead_letters_station_digest", "station", "digest"),
    Index("hub_dead_letters_received", "received_at"),
)

#: The last known state of every station.
stations = Table(
    "hub_stations", metadata,
    Column("station", String(64), primary_key=True),
    Column("state", String(16), nullable=False, default="unknown"),
    Column("last_seen", DateTime(timezone=True)),
    Column("status_ts", String(40)),
    Column("app", String(40)),
    Column("queue_depth", Integer),
    Column("oldest_unsynced", String(40)),
    Column("last_ack", String(40)),
    Column("warn", Boolean),
    Column("documents", Text),
    Column("last_batch_at", DateTime(timezone=True)),
)

#: Each station's latest ``yizhan doctor`` summary and the clock offset seen with its status message
#: (hub clock at arrival minus the station's timestamp; broker latency is milliseconds).
station_health = Table(
    "hub_station_health", metadata,
    Column("station", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status_ts", String(40), nullable=False),
    Column("clock_offset_s", Float, nullable=False),
    Column("healthy", Boolean),
    Column("health", Text),
)

#: The downlink documents as published (latest version per type and scope).
documents = Table(
    "hub_documents", metadata,
    Column("doc_type", String(16), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("issued", String(40), nullable=False),
    Column("body", Text, nullable=False),
)

#: Shifts a reviewer refused to credit, with the reason (the CLI's review list leaves them out too).
shift_rejections = Table(
    "hub_shift_rejections", metadata,
    Column("station", String(64), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("reviewer", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: Residents who withdrew consent to health processing, and how many records were deleted.
consent_withdrawals = Table(
    "hub_consent_withdrawals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_key", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64), nullable=False),
    Column("stations", Text, nullable=False),
    Column("deleted", Integer, nullable=False),
)

# --- the staff workbench (hub/web): accounts, sessions, sign-in attempts, audit log, and the state staff
# give to alerts and follow-ups (kiosk records themselves are never changed) ---------------------------

#: The workbench's lists of one station's alerts and follow-ups, newest first: partial indexes, so the
#: measurements (most of the records) cost them nothing on ingest. Queries must name the kind as a
#: literal (``hub.web.work.ALERT``) for SQLite to use them.
Index("hub_records_alerts", records.c.station, records.c.ts,
      sqlite_where=text("kind = 'health_alert'"), postgresql_where=text("kind = 'health_alert'"))
Index("hub_records_follow_ups", records.c.station, records.c.ts,
      sqlite_where=text("kind = 'service_follow_up'"), postgresql_where=text("kind = 'service_follow_up'"))

#: Staff accounts. ``role``: ``staff`` (only ``stations``), ``district`` (every station) or ``admin``.
users = Table(
    "web_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("stations", Text, nullable=False, default=""),
    Column("password_hash", String(256), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
)

#: Signed-in sessions; the cookie carries only the random token, the row its hash.
sessions = Table(
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Index("web_sessions_user", "user_id"),
)

#: Every sign-in attempt (for throttling): failures of one name or one address within a window lock it.
login_attempts = Table(
    "web_login_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
    Index("web_login_attempts_user_at", "username", "at"),
    Index("web_login_attempts_addr_at", "address", "at"),
)

#: Append-only: who did what, when, to which object, with the state before and after (JSON).
audit = Table(
    "web_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("station", String(64)),
    Column("target", String(128)),
    Column("before", Text),
    Column("after", Text),
    Index("web_audit_at", "at"),
)

#: What staff did about an urgent health alert (a ``health_alert`` hub record).
alert_state = Table(
    "web_alert_state", metadata,
    Column("station", String(64), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(64)),
    Column("action", String(32)),
    Column("note", Text),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(64)),
)

#: What staff did about a 不满意 follow-up (a ``service_follow_up`` hub record).
follow_up_state = Table(
    "web_follow_up_state", metadata,
    Column("station", String(64), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("assignee", String(64)),
    Column("note", Text),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(64)),
)

#: Service requests (四代 and home services): the current state of each, folded from its events.
service_requests = Table(
    "hub_service_requests", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("station", String(64), nullable=False),
    Column("number", String(16), nullable=False),
    Column("person_key", String(64), nullable=False),
    Column("display_name", String(32), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("service_name", String(64), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column("when_label", String(40), nullable=False),
    Column("slot_start", String(40), nullable=False),
    Column("note", String(32), nullable=False),
    Column("priority", Boolean, nullable=False),
    Column("priority_account", String(96), nullable=False),
    Column("hours", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("volunteer_id", String(64)),
    Column("rating", Integer),
    Column("cancel_reason", String(32)),
    Column("cancelled_by", String(64)),
    Column("requested_at", String(40), nullable=False),
    Column("assigned_at", String(40)),
    Column("done_at", String(40)),
    Column("closed_at", String(40)),
    Index("hub_service_requests_station_state", "station", "state"),
    Index("hub_service_requests_service_id", "service_id", unique=True),
)

#: Every event of a request, from kiosks (by record id) and from staff at the hub: the audit trail
#: the state is folded from, so events arriving in any order give the same state.
request_events = Table(
    "hub_request_events", metadata,
    Column("id", String(64), primary_key=True),
    Column("request_id", String(64), nullable=False),
    Column("event", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("station", String(64), primary_key=True),
    Column("at", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Index("hub_request_events_request", "request_id"),
)

#: 微心愿 and suggestions: posted at a kiosk, published (masked), claimed, fulfilled or answered at the hub.
wishes = Table(
    "hub_wishes", metadata,
    Column("wish_id", String(64), primary_key=True),
    Column("station", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("person_key", String(64), nullable=False),
    Column("display_name", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("phrase", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("claimed_by", String(80)),
    Column("claimer_kind", String(16)),
    Column("note", String(200)),
    Column("posted_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("updated_by", String(64)),
    Index("hub_wishes_station_state", "station", "state"),
)

#: Activity sign-ups, cancellations and attendance from every station (by record id): seats are
#: pooled across stations; 场次 and 人次 are counted from here.
activity_events = Table(
    "hub_activity_events", metadata,
    Column("id", String(64), primary_key=True),
    Column("activity_id", String(64), nullable=False),
    Column("station", String(64), primary_key=True),
    Column("person_key", String(64), nullable=False),
    Column("event", String(16), nullable=False),
    Column("at", String(40), nullable=False),
    Index("hub_activity_events_activity", "activity_id", "event"),
)

#: 家属优先: every link and unlink of a volunteer's family member, from kiosks (by record id); the
#: newest event of a (volunteer, family member) pair is the link's state.
family_events = Table(
    "hub_family_events", metadata,
    Column("id", String(64), primary_key=True),
    Column("volunteer_id", String(64), nullable=False),
    Column("family_key", String(64), nullable=False),
    Column("display_name", String(32), nullable=False),
    Column("linked", Boolean, nullable=False),
    Column("station", String(64), primary_key=True),
    Column("at", String(40), nullable=False),
    Index("hub_family_events_family", "family_key"),
    Index("hub_family_events_volunteer", "volunteer_id"),
)

# --- time-bank facts, kept up to date as records arrive (``hub/ledger.py``) ---------------------------------
# Reports, balances and rosters read these by indexed columns instead of parsing every record ever stored.

#: Every ledger movement once (by movement id, the first stored wins); hours in millionths, exact.
movements = Table(
    "hub_movements", metadata,
    Column("movement_id", String(64), primary_key=True),
    Column("record_id", String(64), nullable=False),
    Column("station", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("ts", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("debit", String(160), nullable=False),
    Column("credit", String(160), nullable=False),
    Column("micro_hours", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    Column("team", String(64), nullable=False),
    Column("at_station", String(64), nullable=False),
    Column("reference", String(200), nullable=False),
    Index("hub_movements_ts", "ts"),
    Index("hub_movements_credit", "credit", "ts"),
    Index("hub_movements_debit", "debit"),
    Index("hub_movements_station_seq", "station", "seq"),
    Index("hub_movements_reference", "reference"),
)

#: The balance of every account (sum of its movements), updated with each new movement.
accounts = Table(
    "hub_accounts", metadata,
    Column("account", String(160), primary_key=True),
    Column("micro_hours", BigInteger, nullable=False),
)

#: Which stations wrote movements of which account (the ``through`` map of roster balances).
account_stations = Table(
    "hub_account_stations", metadata,
    Column("account", String(160), primary_key=True),
    Column("station", String(64), primary_key=True),
)

#: Services for residents: recorded (``volunteer_service``) and confirmed (``service_confirmation``).
services = Table(
    "hub_services", metadata,
    Column("service_id", String(64), primary_key=True),
    Column("record_id", String(64)),
    Column("station", String(64)),
    Column("ts", String(40)),
    Column("volunteer_id", String(64)),
    Column("team", String(64)),
    Column("service_type", String(64)),
    Column("service_name", String(200)),
    Column("micro_hours", BigInteger),
    Column("confirmed_record_id", String(64)),
    Column("confirmed_station", String(64)),
    Column("confirmed_ts", String(40)),
    Column("confirmed_volunteer_id", String(64)),
    Column("rating", Integer),
    Column("confirmed_micro_hours", BigInteger),
    Index("hub_services_ts", "ts"),
    Index("hub_services_confirmed_ts", "confirmed_ts"),
)

#: Volunteers as kiosks registered them, and their latest replaced card.
volunteers = Table(
    "hub_volunteers", metadata,
    Column("volunteer_id", String(64), primary_key=True),
    Column("name", String(200)),
    Column("team", String(64)),
    Column("card_uid", String(64)),
    Column("person_key", String(128)),
    Column("registered_ts", String(40)),
    Column("registered_record_id", String(64)),
    Column("rebound_ts", String(40)),
    Column("rebound_card_uid", String(64)),
    Column("rebound_person_key", String(128)),
)

#: Shifts by id: who, where, since when, and whether some station closed them.
shifts = Table(
    "hub_shifts", metadata,
    Column("shift_id", String(64), primary_key=True),
    Column("volunteer_id", String(64)),
    Column("station", String(64)),
    Column("ts", String(40)),
    Column("record_id", String(64)),
    Column("since", String(40)),
    Column("team", String(64)),
    Column("activity", String(64)),
    Column("closed", Boolean, nullable=False, default=False),
    Index("hub_shifts_open", "closed", "ts"),
)

#: Check-outs auto-closed at the cut-off, waiting for a review (``hub review``).
reviews = Table(
    "hub_reviews", metadata,
    Column("record_id", String(64), primary_key=True),
    Column("shift_id", String(64), nullable=False),
    Column("station", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("volunteer_id", String(64), nullable=False),
    Column("since", String(40), nullable=False),
    Column("until", String(40), nullable=False),
    Column("proposed_hours", String(20), nullable=False),
    Column("team", String(64), nullable=False),
    Column("activity", String(64), nullable=False),
    Index("hub_reviews_shift", "shift_id"),
)

#: Per station: records held, ``through`` = the hub holds every record 1..through, and the name it reports.
station_counts = Table(
    "hub_station_counts", metadata,
    Column("station", String(64), primary_key=True),
    Column("name", String(100)),
    Column("records", BigInteger, nullable=False, default=0),
    Column("through", BigInteger, nullable=False, default=0),
)

#: Per station, day (UTC, of the hub's arrival) and quota key: how many records of it the hub took
#: (``hub/quotas.py``).
station_quota = Table(
    "hub_station_quota", metadata,
    Column("station", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("used", Integer, nullable=False),
)

# --- screening to care (``hub/care.py``): each resident's status per track, folded from the records ------------

#: A resident's screening status per track (``bp``, ``glucose``), recomputed from all their records and
#: care actions whenever one of them arrives; ``station`` is where the current episode started.
care_status = Table(
    "hub_care_status", metadata,
    Column("person_key", String(64), primary_key=True),
    Column("track", String(16), primary_key=True),
    Column("status", String(24), nullable=False),
    Column("station", String(64), nullable=False),
    Column("since", String(10)),
    Column("due", String(10)),
    Column("count", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("consent", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("hub_care_status_worklist", "status", "since"),
    Index("hub_care_status_station", "station", "status"),
)

#: Every step of every screening episode, once (the report counts these per station and month).
care_steps = Table(
    "hub_care_steps", metadata,
    Column("person_key", String(64), primary_key=True),
    Column("track", String(16), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("step", String(24), primary_key=True),
    Column("station", String(64), nullable=False),
    Column("on_time", Boolean, nullable=False),
    Index("hub_care_steps_day", "day", "station"),
)

#: The care team's actions at the workbench: a referral made, its outcome; the id makes a resubmitted
#: form one action.
care_events = Table(
    "hub_care_events", metadata,
    Column("id", String(64), primary_key=True),
    Column("person_key", String(64), nullable=False),
    Column("track", String(16), nullable=False),
    Column("event", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", String(200), nullable=False),
    Index("hub_care_events_person", "person_key", "track"),
)
