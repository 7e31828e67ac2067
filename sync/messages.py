"""Wire formats between kiosk and hub: versioned compact JSON, validated with typed errors.

Topics (all under ``<base_topic>``, default ``yizhan/v1``):

=============================  ==========  ==============================================
``<station>/records``          kiosk → hub  a batch of journal records, QoS 1
``<station>/ack``              hub → kiosk  the hub committed a batch, QoS 1
``<station>/status``           kiosk → all  retained ``online``/``offline`` status (last will)
``<station>/config|roster|catalog``  hub → kiosk  retained versioned documents for one station
``_all/config|roster|catalog``       hub → kiosk  the same for every station
=============================  ==========  ==============================================

Every message is a JSON object with ``"v": 1``. Every decoder checks the size first, then the
JSON, then the schema, and raises only :class:`MessageError` subclasses.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.i18n import N_
from kiosk.privacy import contains_id_number

#: The wire format version of every message this module writes.
FORMAT_VERSION = 1

SUFFIX_RECORDS = "records"
SUFFIX_ACK = "ack"
SUFFIX_STATUS = "status"
DOCUMENT_TYPES = ("config", "roster", "catalog", "requests", "calendar")
#: States a request can have in the hub's ``requests`` document (see ``kiosk.community.kinds``).
REQUEST_STATES = ("requested", "assigned", "done", "confirmed", "cancelled")
#: States of a wish or suggestion in the same document's ``wishes`` list (``kiosk.community.wishes``).
WISH_STATES = ("posted", "published", "claimed", "fulfilled", "closed")
#: The pseudo-station whose documents apply to every station (station ids cannot start with "_").
ALL_STATIONS = "_all"

MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORDS_PER_BATCH = 5000
MAX_RECORD_BYTES = 64 * 1024
MAX_STATUS_BYTES = 16 * 1024
MAX_ACK_BYTES = 16 * 1024
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

_STATION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_KIND_RE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")


class MessageError(Exception):
    """A message cannot be accepted; the text says why (stored as the dead-letter reason)."""

    user_key = "sync_bad_message"


class MessageTooLarge(MessageError):
    """The message is bigger than its type allows."""


class MalformedMessage(MessageError):
    """The bytes are not a UTF-8 JSON object."""


class SchemaError(MessageError):
    """The JSON does not match the message schema (missing field, wrong type, bad value)."""


class UnsupportedVersion(SchemaError):
    """The message names a format version this side does not understand."""


class StationMismatch(MessageError):
    """The station in the payload is not the station of the topic it arrived on."""

    user_key = "sync_station_mismatch"


class PrivacyRejected(MessageError):
    """The message carries a full ID number; it is refused."""


USER_MESSAGES = {
    "sync_bad_message": N_("A sync message was malformed and was set aside."),
    "sync_station_mismatch": N_("A message claimed to come from another station and was set aside."),
}


def valid_station_id(station: Any) -> bool:
    """True for a station id usable in a topic: 1-64 of letters, digits, ``-``, ``_``; no leading ``_``."""
    return isinstance(station, str) and bool(_STATION_RE.fullmatch(station)) and not station.startswith("_")


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (Chinese stays readable, no spaces)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load(raw: bytes | bytearray | str, limit: int, what: str) -> dict:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > limit:
        raise MessageTooLarge(f"{what} of {len(raw)} bytes exceeds the limit of {limit} bytes")
    try:
        text = bytes(raw).decode("utf-8")
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessage(f"{what} is not UTF-8 JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise MalformedMessage(f"{what} is not a JSON object (got {type(doc).__name__})")
    version = doc.get("v")
    if type(version) is not int or version != FORMAT_VERSION:
        if isinstance(version, int) and not isinstance(version, bool):
            raise UnsupportedVersion(f"{what} has format version {version}; this side understands {FORMAT_VERSION}")
        raise SchemaError(f"{what}: field 'v' must be {FORMAT_VERSION} (got {version!r})")
    return doc


def _field(doc: dict, name: str, tp: type | tuple, what: str, *, optional: bool = False) -> Any:
    if name not in doc:
        if optional:
            return None
        raise SchemaError(f"{what}: missing field {name!r}")
    value = doc[name]
    if optional and value is None:
        return None
    bad_bool = isinstance(value, bool) and bool not in (tp if isinstance(tp, tuple) else (tp,))
    if bad_bool or not isinstance(value, tp):
        raise SchemaError(f"{what}: field {name!r} has the wrong type ({type(value).__name__})")
    return value


def _check_station(station: Any, what: str) -> str:
    if not valid_station_id(station):
        raise SchemaError(f"{what}: {station!r} is not a valid station id")
    return station


def _check_ts(value: Any, what: str) -> str:
    if type(value) is not str or len(value) > 40:
        raise SchemaError(f"{what}: timestamp must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SchemaError(f"{what}: {value[:40]!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise SchemaError(f"{what}: timestamp {value!r} has no time zone")
    return value


_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")


_RUN = "0" * 17


def _may_hold_id_number(text: str) -> bool:
    """True if ``text`` holds a full ID number; fast for long texts.

    An ID number is a run of exactly 17 digits plus a digit or X, so only the starts of digit
    runs found by a plain substring search are checked exactly (hex person keys make many runs).
    """
    flat = text.translate(_DIGITS_TO_ZERO)
    i = flat.find(_RUN)
    while i != -1:
        if contains_id_number(text[max(0, i - 1):i + 19]):
            return True
        j = i + 17
        while j < len(flat) and flat[j] == "0":
            j += 1
        i = flat.find(_RUN, j)
    return False


def _extra(doc: dict, allowed: set[str], what: str) -> None:
    extra = set(doc) - allowed
    if extra:
        raise SchemaError(f"{what}: unknown field(s) {', '.join(sorted(map(str, extra)))[:200]}")


# --- record batches (kiosk → hub) ---------------------------------------------------------------

@dataclass(frozen=True)
class WireRecord:
    """One journal record as it travels: ``payload_json`` is the journal's compact JSON text."""

    id: str
    station: str
    seq: int
    kind: str
    ts: str
    payload_json: str

    def to_json(self) -> str:
        """The record object as compact JSON, embedding the payload text unchanged."""
        return (f'{{"id":{json.dumps(self.id)},"station":{json.dumps(self.station)},"seq":{self.seq},'
                f'"kind":{json.dumps(self.kind)},"ts":{json.dumps(self.ts)},"payload":{self.payload_json}}}')


@dataclass(frozen=True)
class Batch:
    """A decoded batch: envelope plus records (each already validated)."""

    station: str
    batch_id: str
    records: tuple[WireRecord, ...]
    #: ``(index, record id or None, reason)`` for records that failed validation.
    rejected: tuple[tuple[int, str | None, str, str], ...] = ()


def encode_batch(station: str, batch_id: str, records: list[WireRecord] | tuple[WireRecord, ...]) -> bytes:
    """The batch message ``{"v":1,"station":…,"batch":…,"records":[…]}`` as UTF-8 bytes.

    Raises:
        SchemaError: bad station or batch id, or too many records.
        MessageTooLarge: the encoded batch exceeds :data:`MAX_BATCH_BYTES`.
    """
    _check_station(station, "batch")
    if not isinstance(batch_id, str) or not _ID_RE.fullmatch(batch_id):
        raise SchemaError(f"batch: {batch_id!r} is not a valid batch id")
    if len(records) > MAX_RECORDS_PER_BATCH:
        raise SchemaError(f"batch: {len(records)} records, at most {MAX_RECORDS_PER_BATCH} allowed")
    body = ",".join(r.to_json() for r in records)
    raw = (f'{{"v":{FORMAT_VERSION},"station":{json.dumps(station)},"batch":{json.dumps(batch_id)},'
           f'"records":[{body}]}}').encode("utf-8")
    if len(raw) > MAX_BATCH_BYTES:
        raise MessageTooLarge(f"batch of {len(raw)} bytes exceeds the limit of {MAX_BATCH_BYTES} bytes")
    return raw


def _decode_record(item: Any, station: str, where: str, check_privacy: bool = True) -> WireRecord:
    # Hot path of the hub (thousands of records per second): checks are inlined, the messages
    # are built only on failure.
    if type(item) is not dict:
        raise SchemaError(f"{where}: not an object")
    if len(item) != 6 or item.keys() != _RECORD_KEYS:
        missing = _RECORD_KEYS - item.keys()
        if missing:
            raise SchemaError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
        _extra(item, _RECORD_KEYS, where)
    rid, rstation, seq, kind = item["id"], item["station"], item["seq"], item["kind"]
    if type(rid) is not str or not _ID_RE.fullmatch(rid):
        raise SchemaError(f"{where}: {str(rid)[:70]!r} is not a valid record id")
    if rstation != station:
        raise StationMismatch(f"{where}: record {rid} names station {str(rstation)[:70]!r}, the batch {station!r}")
    if type(seq) is not int or not 1 <= seq < 2**62:
        raise SchemaError(f"{where}: seq {str(seq)[:30]} is not a positive whole number")
    if type(kind) is not str or not _KIND_RE.fullmatch(kind):
        raise SchemaError(f"{where}: {str(kind)[:70]!r} is not a valid record kind")
    ts = _check_ts(item["ts"], where)
    payload = item["payload"]
    if type(payload) is not dict:
        raise SchemaError(f"{where}: payload must be an object")
    payload_json = _dumps_str(payload)
    if len(payload_json) > MAX_RECORD_BYTES // 4 and len(payload_json.encode("utf-8")) > MAX_RECORD_BYTES:
        raise MessageTooLarge(f"{where}: payload exceeds {MAX_RECORD_BYTES} bytes")
    if check_privacy and contains_id_number(payload_json):
        raise PrivacyRejected(f"{where}: record {rid} carries a full ID number")
    return WireRecord(rid, rstation, seq, kind, ts, payload_json)


_RECORD_KEYS = frozenset({"id", "station", "seq", "kind", "ts", "payload"})
_dumps_str = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def decode_batch(raw: bytes, topic_station: str | None = None) -> Batch:
    """Validate a batch message.

    The envelope must be valid as a whole; records that fail on their own are listed in
    ``Batch.rejected`` (so one bad record does not block the good ones).

    Args:
        raw: the MQTT payload.
        topic_station: the station segment of the topic it arrived on; must equal the payload's.

    Raises:
        MessageTooLarge, MalformedMessage, SchemaError, StationMismatch: the envelope is unusable.
    """
    doc = _load(raw, MAX_BATCH_BYTES, "batch")
    _extra(doc, {"v", "station", "batch", "records"}, "batch")
    station = _check_station(_field(doc, "station", str, "batch"), "batch")
    if topic_station is not None and station != topic_station:
        raise StationMismatch(f"batch from topic station {topic_station!r} names station {station!r}")
    batch_id = _field(doc, "batch", str, "batch")
    if not _ID_RE.fullmatch(batch_id):
        raise SchemaError(f"batch: {batch_id[:70]!r} is not a valid batch id")
    items = _field(doc, "records", list, "batch")
    if len(items) > MAX_RECORDS_PER_BATCH:
        raise SchemaError(f"batch: {len(items)} records, at most {MAX_RECORDS_PER_BATCH} allowed")
    # One scan of the whole message; records are scanned one by one only if it found something.
    check_privacy = _may_hold_id_number(bytes(raw).decode("utf-8") if not isinstance(raw, str) else raw)
    records: list[WireRecord] = []
    rejected: list[tuple[int, str | None, str, str]] = []
    for i, item in enumerate(items):
        where = f"batch {batch_id} record {i}"
        try:
            records.append(_decode_record(item, station, where, check_privacy))
        except MessageError as exc:
            rid = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
            text = json.dumps(item, ensure_ascii=False)[:MAX_RECORD_BYTES]
            rejected.append((i, rid[:64] if rid else None, str(exc), text))
    return Batch(station, batch_id, tuple(records), tuple(rejected))


# --- acks (hub → kiosk) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Ack:
    """The hub committed a batch: ``stored`` new records, ``duplicates`` already held, ``rejected``
    set aside as dead letters."""

    batch_id: str
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0


def encode_ack(ack: Ack) -> bytes:
    """``{"v":1,"batch":…,"stored":n,"dup":n,"rejected":n}``."""
    return dumps({"v": FORMAT_VERSION, "batch": ack.batch_id, "stored": ack.stored, "dup": ack.duplicates,
                  "rejected": ack.rejected})


def decode_ack(raw: bytes) -> Ack:
    """Validate an ack message.

    Raises:
        MessageError: malformed, oversized or wrong schema.
    """
    doc = _load(raw, MAX_ACK_BYTES, "ack")
    _extra(doc, {"v", "batch", "stored", "dup", "rejected"}, "ack")
    batch_id = _field(doc, "batch", str, "ack")
    counts = [_field(doc, k, int, "ack") for k in ("stored", "dup", "rejected")]
    if any(c < 0 for c in counts):
        raise SchemaError("ack: counts must not be negative")
    return Ack(batch_id, *counts)


# --- status (kiosk → all, retained) ---------------------------------------------------------------

@dataclass(frozen=True)
class Status:
    """A station's retained status message."""

    station: str
    state: str
    ts: str
    app: str = ""
    queue: int | None = None
    oldest: str | None = None
    last_ack: str | None = None
    warn: bool = False
    documents: dict[str, int] = field(default_factory=dict)
    #: ``yizhan doctor``'s summary: {"ok": bool, "checks": {name: status}, "failing": {name: text}}.
    health: dict[str, Any] | None = None


def encode_status(status: Status) -> bytes:
    """The retained status ``{"v":1,"station":…,"state":"online"|"offline",…}``."""
    doc: dict[str, Any] = {"v": FORMAT_VERSION, "station": status.station, "state": status.state, "ts": status.ts}
    if status.app:
        doc["app"] = status.app
    if status.queue is not None:
        doc.update(queue=status.queue, oldest=status.oldest, last_ack=status.last_ack, warn=status.warn,
                   documents=status.documents)
    if status.health is not None:
        doc["health"] = status.health
    return dumps(doc)


def decode_status(raw: bytes, topic_station: str | None = None) -> Status:
    """Validate a status message.

    Raises:
        MessageError: malformed, oversized, wrong schema, or another station's name.
    """
    doc = _load(raw, MAX_STATUS_BYTES, "status")
    _extra(doc, {"v", "station", "state", "ts", "app", "queue", "oldest", "last_ack", "warn", "documents", "health"},
           "status")
    station = _check_station(_field(doc, "station", str, "status"), "status")
    if topic_station is not None and station != topic_station:
        raise StationMismatch(f"status from topic station {topic_station!r} names station {station!r}")
    state = _field(doc, "state", str, "status")
    if state not in ("online", "offline"):
        raise SchemaError(f"status: state must be online or offline (got {state[:20]!r})")
    ts = _check_ts(doc.get("ts"), "status")
    app = _field(doc, "app", str, "status", optional=True) or ""
    queue = _field(doc, "queue", int, "status", optional=True)
    if queue is not None and queue < 0:
        raise SchemaError("status: queue must not be negative")
    oldest = doc.get("oldest")
    if oldest is not None:
        _check_ts(oldest, "status oldest")
    last_ack = doc.get("last_ack")
    if last_ack is not None:
        _check_ts(last_ack, "status last_ack")
    warn = _field(doc, "warn", bool, "status", optional=True) or False
    documents = _field(doc, "documents", dict, "status", optional=True) or {}
    for k, v in documents.items():
        if k not in DOCUMENT_TYPES or isinstance(v, bool) or not isinstance(v, int):
            raise SchemaError(f"status: documents entry {str(k)[:20]!r} is not a document version")
    health = _field(doc, "health", dict, "status", optional=True)
    if health is not None and not isinstance(health.get("ok"), bool):
        raise SchemaError("status: health must carry ok = true or false")
    return Status(station, state, ts, app[:40], queue, oldest, last_ack, warn, dict(documents), health)


# --- downlink documents (hub → kiosk, retained) -----------------------------------------------------

@dataclass(frozen=True)
class Document:
    """A versioned downlink document (``config``, ``roster`` or ``catalog``) for one station or all."""

    type: str
    version: int
    scope: str
    issued: str
    body: dict

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {"v": FORMAT_VERSION, "type": self.type, "version": self.version, "scope": self.scope,
                "issued": self.issued, "body": self.body}


def _list_of_objects(body: dict, key: str, required: tuple[str, ...], what: str) -> list[dict]:
    items = body.get(key, [])
    if not isinstance(items, list):
        raise SchemaError(f"{what}: {key!r} must be a list")
    seen = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise SchemaError(f"{what}: {key}[{i}] must be an object")
        for name in required:
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise SchemaError(f"{what}: {key}[{i}] needs a non-empty text field {name!r}")
        ident = item.get("id")
        if ident is not None:
            if ident in seen:
                raise SchemaError(f"{what}: {key}[{i}] repeats id {ident!r}")
            seen.add(ident)
    return items


def check_calendar(activities: list[dict], what: str = "calendar document") -> None:
    """Each activity has an aware start before its end, a capacity of 1..10000 and, if given, a list of
    stations; two activities at the same place never overlap.

    Raises:
        SchemaError: naming the activity.
    """
    spans = []
    for i, a in enumerate(activities):
        try:
            start, end = datetime.fromisoformat(a["start"]), datetime.fromisoformat(a["end"])
        except (TypeError, ValueError):
            raise SchemaError(f"{what}: activities[{i}] start and end must be ISO 8601 date-times") from None
        if start.tzinfo is None or end.tzinfo is None:
            raise SchemaError(f"{what}: activities[{i}] times need a UTC offset")
        if end <= start:
            raise SchemaError(f"{what}: activities[{i}] ({a['title'][:30]}) ends before it starts")
        cap = a.get("capacity")
        if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 10_000:
            raise SchemaError(f"{what}: activities[{i}].capacity must be 1..10000")
        stations = a.get("stations", [])
        if not isinstance(stations, list) or not all(isinstance(st, str) for st in stations):
            raise SchemaError(f"{what}: activities[{i}].stations must be a list of station ids")
        place = a.get("place", "")
        for j, (other_place, other_start, other_end) in enumerate(spans):
            if place and place == other_place and start < other_end and other_start < end:
                raise SchemaError(f"{what}: activities[{i}] ({a['title'][:30]}) overlaps activities[{j}] at {place}")
        spans.append((place, start, end))


def _check_body(doc_type: str, body: dict, what: str) -> None:
    if doc_type == "roster":
        _extra(body, {"volunteers", "teams"}, what)
        volunteers = _list_of_objects(body, "volunteers", ("id", "name"), what)
        for i, v in enumerate(volunteers):
            uid, key = v.get("card_uid"), v.get("person_key")
            if uid is None and key is None:
                raise SchemaError(f"{what}: volunteers[{i}] needs a card_uid or a person_key")
            if uid is not None and not (isinstance(uid, str) and _HEX_RE.fullmatch(uid) and 4 <= len(uid) <= 20):
                raise SchemaError(f"{what}: volunteers[{i}].card_uid must be 4-20 hex digits")
            if key is not None and not (isinstance(key, str) and _HEX_RE.fullmatch(key) and len(key) == 64):
                raise SchemaError(f"{what}: volunteers[{i}].person_key must be 64 hex digits")
            teams = v.get("teams", [])
            if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
                raise SchemaError(f"{what}: volunteers[{i}].teams must be a list of team ids")
        _list_of_objects(body, "teams", ("id", "name"), what)
    elif doc_type == "catalog":
        _extra(body, {"services", "teams", "announcements"}, what)
        _list_of_objects(body, "services", ("id", "name"), what)
        _list_of_objects(body, "teams", ("id", "name"), what)
        _list_of_objects(body, "announcements", ("id", "text"), what)
    elif doc_type == "requests":
        _extra(body, {"requests", "wishes", "activities"}, what)
        for i, a in enumerate(_list_of_objects(body, "activities", ("id",), what)):
            signed = a.get("signed", {})
            if not isinstance(signed, dict) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                       for n in signed.values()):
                raise SchemaError(f"{what}: activities[{i}].signed must map stations to counts")
        for i, w in enumerate(_list_of_objects(body, "wishes", ("id", "kind", "state"), what)):
            if w["state"] not in WISH_STATES:
                raise SchemaError(f"{what}: wishes[{i}].state must be one of {', '.join(WISH_STATES)}")
        for i, r in enumerate(_list_of_objects(body, "requests", ("id", "number", "station", "service_type", "state"),
                                               what)):
            if r["state"] not in REQUEST_STATES:
                raise SchemaError(f"{what}: requests[{i}].state must be one of {', '.join(REQUEST_STATES)}")
            key = r.get("person_key")
            if key is not None and not (isinstance(key, str) and _HEX_RE.fullmatch(key) and len(key) == 64):
                raise SchemaError(f"{what}: requests[{i}].person_key must be 64 hex digits")
    elif doc_type == "calendar":
        _extra(body, {"activities"}, what)
        check_calendar(_list_of_objects(body, "activities", ("id", "title", "start", "end"), what), what)
    else:
        for key, value in body.items():
            if not isinstance(value, dict):
                raise SchemaError(f"{what}: config section {str(key)[:40]!r} must be an object")


def make_document(doc_type: str, version: int, scope: str, issued: str, body: Any) -> Document:
    """Build and validate a document (the hub's ``publish`` uses it before sending).

    Raises:
        SchemaError / PrivacyRejected / MessageTooLarge: the document would be rejected by kiosks.
    """
    what = f"{doc_type} document"
    if doc_type not in DOCUMENT_TYPES:
        raise SchemaError(f"document type must be one of {', '.join(DOCUMENT_TYPES)} (got {str(doc_type)[:20]!r})")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**62:
        raise SchemaError(f"{what}: version must be a positive whole number")
    if scope != ALL_STATIONS:
        _check_station(scope, what)
    _check_ts(issued, what)
    if not isinstance(body, dict):
        raise SchemaError(f"{what}: body must be an object")
    _check_body(doc_type, body, what)
    doc = Document(doc_type, version, scope, issued, body)
    raw = dumps(doc.to_dict())
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise MessageTooLarge(f"{what} of {len(raw)} bytes exceeds the limit of {MAX_DOCUMENT_BYTES} bytes")
    if contains_id_number(raw.decode("utf-8")):
        raise PrivacyRejected(f"{what} carries a full ID number")
    return doc


def encode_document(doc: Document) -> bytes:
    """The retained document message."""
    return dumps(doc.to_dict())


def decode_document(raw: bytes, doc_type: str | None = None, scope: str | None = None) -> Document:
    """Validate a downlink document.

    Args:
        doc_type: the type named by the topic; must equal the payload's.
        scope: the station (or ``_all``) named by the topic; must equal the payload's.

    Raises:
        MessageError: malformed, oversized, wrong schema, or for another station or type.
    """
    doc = _load(raw, MAX_DOCUMENT_BYTES, "document")
    _extra(doc, {"v", "type", "version", "scope", "issued", "body"}, "document")
    dtype = _field(doc, "type", str, "document")
    if doc_type is not None and dtype != doc_type:
        raise SchemaError(f"document of type {dtype[:20]!r} arrived on the {doc_type} topic")
    dscope = _field(doc, "scope", str, "document")
    if scope is not None and dscope != scope:
        raise StationMismatch(f"document for {dscope[:70]!r} arrived on the topic of {scope!r}")
    return make_document(dtype, _field(doc, "version", int, "document"), dscope,
                         _field(doc, "issued", str, "document"), doc.get("body"))
