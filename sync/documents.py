"""Downlink documents (hub → kiosk, retained): ``config``, ``roster``, ``catalog``, signed by the hub.

Whoever may publish on the broker could otherwise rewrite every kiosk's roster (and balances), so
each document carries an Ed25519 signature (``"sig"``, base64) over its canonical JSON (the other
fields, sorted keys, compact, UTF-8). The hub holds the private key (``yizhan hub keygen``); each
kiosk holds the public key (``sync.document_public_key``) and refuses a document that is unsigned,
signed by another key, or altered after signing.

Versions are whole numbers from 1 to :data:`MAX_DOCUMENT_VERSION` (2^31 − 1): the hub gives each
publish of a type and scope the next number, so that is one publish a second for 68 years, and a
32-bit integer in every database and language. A version near 2^62 would leave no room for a newer
document ever again, so it is refused at both ends.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sync.messages import (
    ALL_STATIONS,
    DOCUMENT_TYPES,
    FORMAT_VERSION,
    REQUEST_STATES,
    WISH_STATES,
    MessageError,
    MessageTooLarge,
    PrivacyRejected,
    SchemaError,
    StationMismatch,
    check_station,
    check_ts,
    dumps,
    extra_fields,
    field_of,
    load,
)
from sync.screening import holds_id_number

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
#: The highest document version a kiosk accepts (see the module docstring).
MAX_DOCUMENT_VERSION = 2**31 - 1
_HEX = frozenset("0123456789abcdefABCDEF")


class SignatureError(MessageError):
    """A document is unsigned, or its signature does not verify with this kiosk's public key."""


class DocumentKeyError(MessageError):
    """A signing or verifying key cannot be read; the text says which and why."""


@dataclass(frozen=True)
class Document:
    """A versioned downlink document for one station or all (``sig``: base64 Ed25519, or "")."""

    type: str
    version: int
    scope: str
    issued: str
    body: dict
    sig: str = ""
    #: After this time the kiosk tells staff the document is out of date (and keeps using it); ""
    #: for a document made before expiries existed.
    expires: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The signed fields (the wire form without ``sig``)."""
        out = {"v": FORMAT_VERSION, "type": self.type, "version": self.version, "scope": self.scope,
               "issued": self.issued, "body": self.body}
        if self.expires:
            out["expires"] = self.expires
        return out

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                          allow_nan=False).encode("utf-8")


# --- keys ---------------------------------------------------------------------------------------

_crypto: SimpleNamespace | None = None


def _ed25519() -> SimpleNamespace:
    """``cryptography``'s Ed25519 keys, serialization and ``InvalidSignature``, imported on first use.

    Deliberately not at module level: the kiosk imports this module at start (its publisher reads
    documents), but the library (7 MB of a station's memory) is needed only when a key is read or a
    document arrives.
    """
    global _crypto
    if _crypto is None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
        _crypto = SimpleNamespace(InvalidSignature=InvalidSignature, serialization=serialization,
                                  Ed25519PrivateKey=Ed25519PrivateKey, Ed25519PublicKey=Ed25519PublicKey)
    return _crypto


def generate_signing_key(path: Path | str) -> str:
    """Create a new Ed25519 private key file (PEM, mode 0600); returns the public key as hex.

    Raises:
        DocumentKeyError: the file exists (never overwritten) or cannot be written.
    """
    path = Path(path)
    c = _ed25519()
    key = c.Ed25519PrivateKey.generate()
    pem = key.private_bytes(c.serialization.Encoding.PEM, c.serialization.PrivateFormat.PKCS8,
                            c.serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DocumentKeyError(f"{path} exists; it was not overwritten (kiosks trust the key inside it)") from None
    except OSError as exc:
        raise DocumentKeyError(f"cannot create {path}: {exc}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return public_key_hex(key)


def load_signing_key(path: Path | str) -> Ed25519PrivateKey:
    """Read the hub's private key file.

    Raises:
        DocumentKeyError: missing, readable by others than its owner, or not an Ed25519 key.
    """
    path = Path(path)
    c = _ed25519()
    try:
        if path.stat().st_mode & 0o077:
            raise DocumentKeyError(f"{path} is readable by other users; chmod 600 it (and consider the key leaked)")
        key = c.serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise DocumentKeyError(f"cannot read the signing key {path}: {exc}. Create one with: yizhan hub keygen") from exc
    except ValueError as exc:
        raise DocumentKeyError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, c.Ed25519PrivateKey):
        raise DocumentKeyError(f"{path} is not an Ed25519 key")
    return key


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The public half as 64 hex digits (what kiosks put in ``sync.document_public_key``)."""
    serialization = _ed25519().serialization
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def valid_public_key_hex(text: Any) -> bool:
    """True for 64 hex digits (a raw Ed25519 public key)."""
    return isinstance(text, str) and len(text) == 64 and set(text) <= _HEX


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    """The verifying key from 64 hex digits.

    Raises:
        DocumentKeyError: not 64 hex digits.
    """
    if not valid_public_key_hex(text):
        raise DocumentKeyError("a document public key is 64 hex digits (from: yizhan hub keygen)")
    return _ed25519().Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


# --- documents ------------------------------------------------------------------------------------

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
                raise SchemaError(f"{what}: {key}[{i}] repeats id {str(ident)[:40]!r}")
            seen.add(ident)
    return items


def _hex_of(value: Any, lengths: range) -> bool:
    return isinstance(value, str) and len(value) in lengths and set(value) <= _HEX


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


def _check_requests(body: dict, what: str) -> None:
    extra_fields(body, {"requests", "wishes", "activities", "family"}, what)
    for i, f in enumerate(_list_of_objects(body, "family", ("volunteer_id", "at"), what)):
        if not _hex_of(f.get("family_key"), range(64, 65)):
            raise SchemaError(f"{what}: family[{i}].family_key must be 64 hex digits")
        if not isinstance(f.get("linked"), bool):
            raise SchemaError(f"{what}: family[{i}].linked must be true or false")
    for i, a in enumerate(_list_of_objects(body, "activities", ("id",), what)):
        signed = a.get("signed", {})
        if not isinstance(signed, dict) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                   for n in signed.values()):
            raise SchemaError(f"{what}: activities[{i}].signed must map stations to counts")
        queue = a.get("queue", [])
        if not isinstance(queue, list) or not all(isinstance(e, dict) and isinstance(e.get("key"), str)
                                                  and 0 < len(e["key"]) <= 80
                                                  and isinstance(e.get("waitlisted"), bool)
                                                  and isinstance(e.get("at"), str) for e in queue):
            raise SchemaError(f"{what}: activities[{i}].queue must list sign-ups (key, waitlisted, at)")
    for i, w in enumerate(_list_of_objects(body, "wishes", ("id", "kind", "state"), what)):
        if w["state"] not in WISH_STATES:
            raise SchemaError(f"{what}: wishes[{i}].state must be one of {', '.join(WISH_STATES)}")
    for i, r in enumerate(_list_of_objects(body, "requests", ("id", "number", "station", "service_type", "state"),
                                           what)):
        if r["state"] not in REQUEST_STATES:
            raise SchemaError(f"{what}: requests[{i}].state must be one of {', '.join(REQUEST_STATES)}")
        key = r.get("person_key")
        if key is not None and not _hex_of(key, range(64, 65)):
            raise SchemaError(f"{what}: requests[{i}].person_key must be 64 hex digits")


def _check_body(doc_type: str, body: dict, what: str) -> None:
    if doc_type == "roster":
        extra_fields(body, {"volunteers", "teams"}, what)
        volunteers = _list_of_objects(body, "volunteers", ("id", "name"), what)
        for i, v in enumerate(volunteers):
            uid, key = v.get("card_uid"), v.get("person_key")
            if uid is None and key is None:
                raise SchemaError(f"{what}: volunteers[{i}] needs a card_uid or a person_key")
            if uid is not None and not _hex_of(uid, range(4, 21)):
                raise SchemaError(f"{what}: volunteers[{i}].card_uid must be 4-20 hex digits")
            if key is not None and not _hex_of(key, range(64, 65)):
                raise SchemaError(f"{what}: volunteers[{i}].person_key must be 64 hex digits")
            teams = v.get("teams", [])
            if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
                raise SchemaError(f"{what}: volunteers[{i}].teams must be a list of team ids")
        _list_of_objects(body, "teams", ("id", "name"), what)
    elif doc_type == "catalog":
        extra_fields(body, {"services", "teams", "announcements"}, what)
        _list_of_objects(body, "services", ("id", "name"), what)
        _list_of_objects(body, "teams", ("id", "name"), what)
        _list_of_objects(body, "announcements", ("id", "text"), what)
    elif doc_type == "requests":
        _check_requests(body, what)
    elif doc_type == "calendar":
        extra_fields(body, {"activities"}, what)
        check_calendar(_list_of_objects(body, "activities", ("id", "title", "start", "end"), what), what)
    else:
        for key, value in body.items():
            if not isinstance(value, dict):
                raise SchemaError(f"{what}: config section {str(key)[:40]!r} must be an object")


#: How long a document stays current after it is issued, by type (default :data:`LIFETIME`): the
#: hub republishes on every change; a kiosk holding an older one says so to staff.
LIFETIMES = {"requests": timedelta(days=30)}
LIFETIME = timedelta(days=90)


def expiry_of(doc_type: str, issued: str) -> str:
    """The ``expires`` stamp of a document of ``doc_type`` issued at ``issued``."""
    when = datetime.fromisoformat(issued) + LIFETIMES.get(doc_type, LIFETIME)
    return when.isoformat(timespec="milliseconds")


def _check_expiry(expires: Any, issued: str, what: str) -> None:
    try:
        ok = isinstance(expires, str) and len(expires) <= 40 and \
            datetime.fromisoformat(expires).tzinfo is not None and \
            datetime.fromisoformat(expires) > datetime.fromisoformat(issued)
    except ValueError:
        ok = False
    if not ok:
        raise SchemaError(f"{what}: expires must be a time with a zone after the issue time")


def make_document(doc_type: str, version: int, scope: str, issued: str, body: Any, expires: str = "") -> Document:
    """Build and validate an unsigned document (the hub signs it with :func:`sign_document`).

    Raises:
        SchemaError / PrivacyRejected / MessageTooLarge: the document would be rejected by kiosks.
    """
    what = f"{doc_type} document"
    if doc_type not in DOCUMENT_TYPES:
        raise SchemaError(f"document type must be one of {', '.join(DOCUMENT_TYPES)} (got {str(doc_type)[:20]!r})")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_DOCUMENT_VERSION:
        raise SchemaError(f"{what}: version must be a whole number from 1 to {MAX_DOCUMENT_VERSION}")
    if scope != ALL_STATIONS:
        check_station(scope, what)
    check_ts(issued, what)
    if expires:
        _check_expiry(expires, issued, what)
    if not isinstance(body, dict):
        raise SchemaError(f"{what}: body must be an object")
    _check_body(doc_type, body, what)
    doc = Document(doc_type, version, scope, issued, body, expires=expires)
    try:
        raw = doc.signed_bytes()
    except ValueError:
        raise SchemaError(f"{what}: NaN and Infinity are not numbers a document may hold") from None
    if len(raw) > MAX_DOCUMENT_BYTES - 200:
        raise MessageTooLarge(f"{what} of {len(raw)} bytes exceeds the limit of {MAX_DOCUMENT_BYTES} bytes")
    if holds_id_number(body):
        raise PrivacyRejected(f"{what} carries a full ID number")
    return doc


def sign_document(doc: Document, key: Ed25519PrivateKey) -> Document:
    """The document with its signature."""
    return replace(doc, sig=base64.b64encode(key.sign(doc.signed_bytes())).decode("ascii"))


def encode_document(doc: Document) -> bytes:
    """The retained document message (``sig`` included when signed)."""
    wire = doc.to_dict()
    if doc.sig:
        wire["sig"] = doc.sig
    return dumps(wire)


def decode_document(raw: bytes, doc_type: str | None = None, scope: str | None = None, *,
                    public_key: Ed25519PublicKey | None) -> Document:
    """Validate a downlink document and verify its signature.

    Args:
        doc_type: the type named by the topic; must equal the payload's.
        scope: the station (or ``_all``) named by the topic; must equal the payload's.
        public_key: the hub's key; None (not configured) refuses every document.

    Raises:
        SignatureError: unsigned, badly signed, or no key configured.
        MessageError: malformed, oversized, wrong schema, or for another station or type.
    """
    doc = load(raw, MAX_DOCUMENT_BYTES, "document")
    extra_fields(doc, {"v", "type", "version", "scope", "issued", "body", "sig", "expires"}, "document")
    dtype = field_of(doc, "type", str, "document")
    if doc_type is not None and dtype != doc_type:
        raise SchemaError(f"document of type {dtype[:20]!r} arrived on the {doc_type} topic")
    dscope = field_of(doc, "scope", str, "document")
    if scope is not None and dscope != scope:
        raise StationMismatch(f"document for {dscope[:70]!r} arrived on the topic of {scope!r}")
    made = make_document(dtype, field_of(doc, "version", int, "document"), dscope,
                         field_of(doc, "issued", str, "document"), doc.get("body"),
                         field_of(doc, "expires", str, "document", optional=True) or "")
    sig = doc.get("sig")
    if public_key is None:
        raise SignatureError("no document public key is configured (sync.document_public_key); "
                             "documents cannot be trusted and are refused")
    if not isinstance(sig, str) or not sig:
        raise SignatureError(f"{dtype} version {made.version} is not signed; refused")
    try:
        public_key.verify(base64.b64decode(sig, validate=True), made.signed_bytes())
    except (_ed25519().InvalidSignature, binascii.Error, ValueError):
        raise SignatureError(f"{dtype} version {made.version} has a signature that does not verify with "
                             "this kiosk's document key; refused") from None
    return replace(made, sig=sig)
