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
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

# The kind modules register every record kind's schema (imported for that effect).
import kiosk.care  # noqa: F401  (care_consent)
import kiosk.community.activities  # noqa: F401
import kiosk.community.family  # noqa: F401
import kiosk.community.kinds  # noqa: F401
import kiosk.community.wishes  # noqa: F401
import kiosk.health_records  # noqa: F401
import kiosk.timebank.kinds  # noqa: F401
from kiosk.i18n import N_
from kiosk.records import MAX_PAYLOAD_BYTES, PayloadError, UnknownRecordKind
from kiosk.schema import check_payload
from sync.screening import (TimeOutOfRange, check_embedded_times, fields_hold_id_number, holds_id_number,
                            parse_bounded, redact, text_holds_id_number)

#: The wire format version of every message this module writes.
FORMAT_VERSION = 1

SUFFIX_RECORDS = "records"
SUFFIX_ACK = "ack"
SUFFIX_STATUS = "status"
DOCUMENT_TYPES = ("config", "roster", "catalog", "requests", "calendar")
#: Documents published per station only (hub/scopes.py): a district-wide one would carry every station's
#: person keys, so kiosks do not subscribe to ``_all/<type>`` for these and the broker does not grant it.
STATION_ONLY_DOCUMENTS = ("requests",)
#: States a request can have in the hub's ``requests`` document (see ``kiosk.community.kinds``).
REQUEST_STATES = ("requested", "assigned", "done", "confirmed", "cancelled")
#: States of a wish or suggestion in the same document's ``wishes`` list (``kiosk.community.wishes``).
WISH_STATES = ("posted", "published", "claimed", "fulfilled", "closed")
#: The pseudo-station whose documents apply to every station (station ids cannot start with "_").
ALL_STATIONS = "_all"

MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORDS_PER_BATCH = 5000
#: A record's payload; the journal refuses a bigger one when it is written, so none is ever sent.
MAX_RECORD_BYTES = MAX_PAYLOAD_BYTES
MAX_STATUS_BYTES = 16 * 1024
MAX_ACK_BYTES = 256 * 1024

_STATION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_KIND_RE = re.compile(r"[a-z][a-z0-9_.]{0,63}")


class MessageError(Exception):
    """A message cannot be accepted; the text says why (stored as the dead-letter reason)."""

    user_key = "sync_bad_message"
    user_message = N_("A sync message was malformed and was set aside.")


class MessageTooLarge(MessageError):
    """The message is bigger than its type allows."""


class MalformedMessage(MessageError):
    """The bytes are not a UTF-8 JSON object."""


class SchemaError(MessageError):
    """The JSON does not match the message schema (missing field, wrong type, bad value); ``field``
    names the payload field to blame, when there is one."""

    field: str = ""


def _payload_error(where: str, exc: PayloadError) -> SchemaError:
    err = SchemaError(f"{where}: payload {exc}")
    err.field = exc.field
    return err


class UnsupportedVersion(SchemaError):
    """The message names a format version this side does not understand."""


class StationMismatch(MessageError):
    """The station in the payload is not the station of the topic it arrived on."""

    user_key = "sync_station_mismatch"
    user_message = N_("A message claimed to come from another station and was set aside.")


class PrivacyRejected(MessageError):
    """The message carries a full ID number; it is refused."""


def valid_station_id(station: Any) -> bool:
    """True for a station id usable in a topic: 1-64 of letters, digits, ``-``, ``_``; no leading ``_``;
    not an ID number (it would travel in every topic and ack)."""
    return (isinstance(station, str) and bool(_STATION_RE.fullmatch(station)) and not station.startswith("_")
            and not holds_id_number(station))


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (Chinese stays readable, no spaces)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON messages may carry")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} overflows to infinity")
    return value


def load(raw: bytes | bytearray | str, limit: int, what: str, *, constants: bool = False) -> dict:
    """Parse a message: size first, then UTF-8 JSON (no NaN or Infinity unless ``constants``: then
    they come back as floats for the caller to refuse per record), then ``"v"``.

    Raises:
        MessageTooLarge, MalformedMessage, SchemaError, UnsupportedVersion.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > limit:
        raise MessageTooLarge(f"{what} of {len(raw)} bytes exceeds the limit of {limit} bytes")
    try:
        text = bytes(raw).decode("utf-8")
        doc = json.loads(text, parse_constant=float if constants else _no_constant,
                         parse_float=float if constants else _finite)
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


def field_of(doc: dict, name: str, tp: type | tuple, what: str, *, optional: bool = False) -> Any:
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


def check_station(station: Any, what: str) -> str:
    if not valid_station_id(station):
        raise SchemaError(f"{what}: {station!r} is not a valid station id")
    return station


def check_ts(value: Any, what: str) -> str:
    """A time field: an ISO 8601 string with a zone, within the range :mod:`sync.screening` allows."""
    if type(value) is not str or len(value) > 40:
        raise SchemaError(f"{what}: timestamp must be an ISO 8601 string")
    try:
        parse_bounded(value)
    except TimeOutOfRange as exc:
        raise SchemaError(f"{what}: {exc}") from None
    return value


def extra_fields(doc: dict, allowed: set[str], what: str) -> None:
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
        return record_json(self)


def record_json(r: Any) -> str:
    """A record as compact JSON from anything with the fields of :class:`WireRecord` (the outbox's
    rows too), embedding its payload text unchanged."""
    return (f'{{"id":{json.dumps(r.id)},"station":{json.dumps(r.station)},"seq":{r.seq},'
            f'"kind":{json.dumps(r.kind)},"ts":{json.dumps(r.ts)},"payload":{r.payload_json}}}')


@dataclass(frozen=True)
class Batch:
    """A decoded batch: envelope plus records (each already validated)."""

    station: str
    batch_id: str
    records: tuple[WireRecord, ...]
    #: ``(index, record id or None, reason, record text)`` for records that failed validation; the
    #: text is "" when the record carried an ID number (never stored), the id None when the id did.
    rejected: tuple[tuple[int, str | None, str, str], ...] = ()
    #: The position of each of ``records`` in the message (what an ack's ``refused`` refers to).
    indices: tuple[int, ...] = ()
    #: The refusal code of each of ``rejected`` (see :data:`REFUSAL_CODES`).
    codes: tuple[str, ...] = ()
    #: Records refused only for naming another station, decoded as that station's: the hub acks
    #: one as a duplicate when exactly that record is already stored there (replayed by an operator).
    foreign: tuple[tuple[int, WireRecord], ...] = ()
    #: The payload field to blame for each of ``rejected`` ("" when none is).
    fields: tuple[str, ...] = ()


#: Why a record of a batch was not stored, as an ack reports it (never the record's content).
REFUSAL_CODES = ("invalid", "privacy", "station", "too_large", "conflict", "authority", "quota")


def refusal_code(exc: MessageError) -> str:
    """The refusal code of a validation error."""
    if isinstance(exc, PrivacyRejected):
        return "privacy"
    if isinstance(exc, StationMismatch):
        return "station"
    if isinstance(exc, MessageTooLarge):
        return "too_large"
    return "invalid"


def encode_batch(station: str, batch_id: str, records: Sequence[Any]) -> bytes:
    """The batch message ``{"v":1,"station":…,"batch":…,"records":[…]}`` as UTF-8 bytes.

    ``records`` are :class:`WireRecord` or anything with its fields (``kiosk.outbox.QueuedRecord``).

    Raises:
        SchemaError: bad station or batch id, or too many records.
        MessageTooLarge: the encoded batch exceeds :data:`MAX_BATCH_BYTES`.
    """
    check_station(station, "batch")
    if not isinstance(batch_id, str) or not _ID_RE.fullmatch(batch_id):
        raise SchemaError(f"batch: {batch_id!r} is not a valid batch id")
    if len(records) > MAX_RECORDS_PER_BATCH:
        raise SchemaError(f"batch: {len(records)} records, at most {MAX_RECORDS_PER_BATCH} allowed")
    body = ",".join(record_json(r) for r in records)
    raw = (f'{{"v":{FORMAT_VERSION},"station":{json.dumps(station)},"batch":{json.dumps(batch_id)},'
           f'"records":[{body}]}}').encode()
    if len(raw) > MAX_BATCH_BYTES:
        raise MessageTooLarge(f"batch of {len(raw)} bytes exceeds the limit of {MAX_BATCH_BYTES} bytes")
    return raw


def _decode_record(item: Any, station: str, where: str) -> WireRecord:
    # Hot path of the hub (thousands of records per second): checks are inlined, the messages
    # are built only on failure.
    if type(item) is not dict:
        raise SchemaError(f"{where}: not an object")
    if len(item) != 6 or item.keys() != _RECORD_KEYS:
        missing = _RECORD_KEYS - item.keys()
        if missing:
            raise SchemaError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
        extra_fields(item, _RECORD_KEYS, where)
    rid, rstation, seq, kind = item["id"], item["station"], item["seq"], item["kind"]
    if type(rid) is not str or not _ID_RE.fullmatch(rid):
        raise SchemaError(f"{where}: {str(rid)[:70]!r} is not a valid record id")
    if rstation != station:
        raise StationMismatch(f"{where}: record {rid} names station {str(rstation)[:70]!r}, the batch {station!r}")
    if type(seq) is not int or not 1 <= seq < 2**62:
        raise SchemaError(f"{where}: seq {str(seq)[:30]} is not a positive whole number")
    if type(kind) is not str or not _KIND_RE.fullmatch(kind):
        raise SchemaError(f"{where}: {str(kind)[:70]!r} is not a valid record kind")
    ts = check_ts(item["ts"], where)
    payload = item["payload"]
    if type(payload) is not dict:
        raise SchemaError(f"{where}: payload must be an object")
    try:
        check_payload(kind, payload)
    except UnknownRecordKind:
        raise SchemaError(f"{where}: {kind!r} is not a record kind this hub knows") from None
    except PayloadError as exc:
        raise _payload_error(where, exc) from None
    try:
        payload_json = _dumps_str(payload)
    except ValueError:
        raise SchemaError(f"{where}: payload holds NaN or Infinity") from None
    if len(payload_json) > MAX_RECORD_BYTES // 4 and len(payload_json.encode("utf-8")) > MAX_RECORD_BYTES:
        raise MessageTooLarge(f"{where}: payload exceeds {MAX_RECORD_BYTES} bytes")
    try:
        check_embedded_times(payload_json)
    except TimeOutOfRange as exc:
        raise SchemaError(f"{where}: payload {exc}") from None
    return WireRecord(rid, rstation, seq, kind, ts, payload_json)


_RECORD_KEYS = frozenset({"id", "station", "seq", "kind", "ts", "payload"})
_dumps_str = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


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
    doc = load(raw, MAX_BATCH_BYTES, "batch", constants=True)
    extra_fields(doc, {"v", "station", "batch", "records"}, "batch")
    station = check_station(field_of(doc, "station", str, "batch"), "batch")
    if topic_station is not None and station != topic_station:
        raise StationMismatch(f"batch from topic station {topic_station!r} names station {station!r}")
    batch_id = field_of(doc, "batch", str, "batch")
    if not _ID_RE.fullmatch(batch_id):
        raise SchemaError(f"batch: {redact(batch_id[:70])!r} is not a valid batch id")
    if holds_id_number(batch_id):
        raise PrivacyRejected("batch: the batch id carries a full ID number")
    items = field_of(doc, "records", list, "batch")
    if len(items) > MAX_RECORDS_PER_BATCH:
        raise SchemaError(f"batch: {len(items)} records, at most {MAX_RECORDS_PER_BATCH} allowed")
    # One scan of the decoded message; records are scanned one by one only if it found something.
    check_privacy = text_holds_id_number(_dumps_lenient(items))
    records: list[WireRecord] = []
    indices: list[int] = []
    rejected: list[tuple[int, str | None, str, str]] = []
    codes: list[str] = []
    foreign: list[tuple[int, WireRecord]] = []
    fields: list[str] = []
    for i, item in enumerate(items):
        where = f"batch {batch_id} record {i}"
        try:
            if (check_privacy and text_holds_id_number(_dumps_lenient(item))) or (
                    type(item) is dict and fields_hold_id_number(item.get("payload"))):
                raise PrivacyRejected(f"{where}: the record carries a full ID number")
            records.append(_decode_record(item, station, where))
            indices.append(i)
        except MessageError as exc:
            rid = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
            private = isinstance(exc, PrivacyRejected)
            if rid is not None and (private or holds_id_number(rid)):
                rid = None
            text = "" if private else _dumps_lenient(item)[:MAX_RECORD_BYTES]
            rejected.append((i, rid[:64] if rid else None, redact(str(exc)), text))
            codes.append(refusal_code(exc))
            fields.append(redact(str(getattr(exc, "field", "")))[:64])
            if isinstance(exc, StationMismatch) and valid_station_id(item.get("station")):
                try:
                    foreign.append((i, _decode_record(item, item["station"], where)))
                except MessageError:
                    pass
    return Batch(station, batch_id, tuple(records), tuple(rejected), tuple(indices), tuple(codes), tuple(foreign),
                 tuple(fields))


def _dumps_lenient(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- acks (hub → kiosk) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Ack:
    """The hub committed a batch: ``stored`` new records, ``duplicates`` already held (identical),
    ``rejected`` not stored; ``refused`` says which: ``(index in the batch, refusal code)``.

    Only the records not in ``refused`` may be marked synced by the station. ``fields`` names, for
    a record refused as ``invalid``, the payload field to blame: ``(index, field)``.
    """

    batch_id: str
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    refused: tuple[tuple[int, str], ...] = ()
    fields: tuple[tuple[int, str], ...] = ()


def encode_ack(ack: Ack) -> bytes:
    """``{"v":1,"batch":…,"stored":n,"dup":n,"rejected":n,"refused":[[index,"code"],…]}``; an entry
    refused as invalid carries the field to blame as a third item: ``[index,"invalid","hours"]``."""
    named = dict(ack.fields)
    return dumps({"v": FORMAT_VERSION, "batch": ack.batch_id, "stored": ack.stored, "dup": ack.duplicates,
                  "rejected": ack.rejected,
                  "refused": [[i, c, named[i]] if named.get(i) else [i, c] for i, c in ack.refused]})


def decode_ack(raw: bytes) -> Ack:
    """Validate an ack message.

    Raises:
        MessageError: malformed, oversized or wrong schema.
    """
    doc = load(raw, MAX_ACK_BYTES, "ack")
    extra_fields(doc, {"v", "batch", "stored", "dup", "rejected", "refused"}, "ack")
    batch_id = field_of(doc, "batch", str, "ack")
    counts = [field_of(doc, k, int, "ack") for k in ("stored", "dup", "rejected")]
    if any(c < 0 for c in counts):
        raise SchemaError("ack: counts must not be negative")
    refused = field_of(doc, "refused", list, "ack", optional=True) or []
    out, named = [], []
    for item in refused:
        if not (isinstance(item, list) and len(item) in (2, 3) and type(item[0]) is int
                and 0 <= item[0] < MAX_RECORDS_PER_BATCH and item[1] in REFUSAL_CODES
                and (len(item) == 2 or (type(item[2]) is str and len(item[2]) <= 64))):
            raise SchemaError("ack: refused entries must be [index, code] or [index, code, field]")
        out.append((item[0], item[1]))
        if len(item) == 3:
            named.append((item[0], item[2]))
    if len(out) != counts[2]:
        raise SchemaError(f"ack: {counts[2]} rejected but {len(out)} refused entries")
    return Ack(batch_id, *counts, tuple(out), tuple(named))
