"""Station-issued signed QR tokens: a printed or phone QR that identifies a resident or volunteer.

Wire format (ASCII, fits a version-6 QR at medium error correction)::

    YZ1.<base64url(payload JSON)>.<base64url(HMAC-SHA256(token key, "YZ1." + payload part)[:16])>

* ``YZ1`` is the format version; a future format gets a new prefix and both can be verified.
* The payload is compact JSON with these keys: ``k`` kind (``"r"`` resident, ``"v"`` volunteer),
  ``s`` subject (a resident's ``person_key`` – 64 hex digits – or a volunteer id), ``i`` issued-at and
  ``e`` expiry (Unix seconds, UTC), ``t`` issuing station id; optionally ``b: 1`` (valid only at
  station ``t``) and ``o: 1`` (one-time: the kiosk journals its use and refuses it again; a one-time
  token is always bound to its station, the only one that remembers it).
* A lifetime (``e - i``) longer than :data:`MAX_TTL_S` is refused, whoever signed it.
* The MAC key is not the district key itself but a sub-key derived from it with HMAC
  (``HMAC-SHA256(district_key, "yizhan/token/v1")``), so the key that links visits (``person_key``)
  is never also the key that signs tokens.
* Tags are compared in constant time; the text and the payload have hard size limits, checked before
  any decoding, so a hostile QR cannot make the kiosk do much work.

The subject is never a full ID number (:func:`issue_token` refuses one), so a token photographed
off a phone reveals no more than a pseudonymous key.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from kiosk.i18n import N_
from kiosk.privacy import contains_id_number

VERSION = "YZ1"
#: Longest token text accepted (a YZ1 token with a 64-hex subject is about 190 characters).
MAX_TEXT = 512
#: Longest decoded payload accepted, in bytes.
MAX_PAYLOAD = 320
#: Truncated HMAC length in bytes (128 bits).
TAG_BYTES = 16
#: Tolerated clock difference between the issuing station and the verifying kiosk.
CLOCK_SKEW_S = 300
#: Longest lifetime a token may be issued with (one year).
MAX_TTL_S = 366 * 24 * 3600

KINDS = {"resident": "r", "volunteer": "v"}
_KIND_NAMES = {v: k for k, v in KINDS.items()}
_SUB_KEY_LABEL = b"yizhan/token/v1"
_PERSON_KEY_RE = re.compile(r"[0-9a-f]{64}")
_VOLUNTEER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STATION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_B64_RE = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED = frozenset({"k", "s", "i", "e", "t"})
_FLAGS = frozenset({"b", "o"})


class TokenError(ValueError):
    """Base of every refusal of a token; screens show its ``user_message`` (translated)."""

    user_key = "token_invalid"
    user_message = N_("This QR code cannot be used here. Please ask the staff for help.")


class TokenMalformed(TokenError):
    """The text is not a Yizhan token at all (wrong prefix, bad base64, bad payload, too long)."""

    user_key = "token_malformed"
    user_message = N_("This is not a station QR code. Please show the QR code the station gave you.")


class TokenForged(TokenError):
    """The signature does not match: the token was altered or signed with another key."""

    user_key = "token_forged"
    user_message = N_("This QR code is not valid. Please ask the staff for a new one.")


class TokenExpired(TokenError):
    """The token was genuine but its expiry has passed."""

    user_key = "token_expired"
    user_message = N_("This QR code has expired. Please ask the staff for a new one.")


class TokenWrongStation(TokenError):
    """The token is bound to another station."""

    user_key = "token_wrong_station"
    user_message = N_("This QR code belongs to another station. Please use it there, or ask the staff.")


class TokenUsed(TokenError):
    """A one-time token that was used before (``kiosk.identity`` remembers them in the journal)."""

    user_key = "token_used"
    user_message = N_("This QR code has already been used. Please ask the staff for a new one.")


class TokenNotYetValid(TokenError):
    """The token says it was issued in the future (a wrong clock on the issuing or this station)."""

    user_key = "token_not_yet_valid"
    user_message = N_("This QR code is not valid yet. Please ask the staff to check the station clock.")


@dataclass(frozen=True)
class Token:
    """A verified token.

    Attributes:
        kind: ``"resident"`` or ``"volunteer"``.
        subject: the resident's person_key or the volunteer id.
        issued_at: when the station issued it (aware, UTC).
        expires_at: when it stops being accepted (aware, UTC).
        station: id of the issuing station.
        bound: valid only at ``station``.
        one_time: valid once (implies ``bound``).
    """

    kind: str
    subject: str
    issued_at: datetime
    expires_at: datetime
    station: str
    version: str = VERSION
    bound: bool = False
    one_time: bool = False


def token_key(district_key: bytes) -> bytes:
    """The token-signing sub-key derived from the district key.

    Raises:
        ValueError: the district key is shorter than 16 bytes.
    """
    if len(district_key) < 16:
        raise ValueError("district key must be at least 16 bytes")
    return hmac.new(district_key, _SUB_KEY_LABEL, hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64_RE.fullmatch(text) or len(text) % 4 == 1:
        raise TokenMalformed("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenMalformed(f"not base64url: {exc}") from None
    # Only the canonical spelling counts: otherwise the unused low bits of the last character
    # would let the same token be written several ways.
    if _b64encode(data) != text:
        raise TokenMalformed("not canonical base64url")
    return data


def _tag(key: bytes, signed: str) -> bytes:
    return hmac.new(token_key(key), signed.encode("ascii"), hashlib.sha256).digest()[:TAG_BYTES]


def _epoch(now: datetime | float | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return int(now.timestamp())
    return int(now)


def _check_subject(kind: str, subject: str) -> bool:
    if kind == "resident":
        return bool(_PERSON_KEY_RE.fullmatch(subject))
    return bool(_VOLUNTEER_RE.fullmatch(subject)) and not contains_id_number(subject)


def issue_token(key: bytes, kind: str, subject: str, ttl: timedelta | float, station: str,
                now: datetime | float | None = None, *, bound: bool = False, one_time: bool = False) -> str:
    """Sign a token for a resident or a volunteer.

    Args:
        key: the district key (``settings.secrets.district_key``); the token sub-key is derived from it.
        kind: ``"resident"`` or ``"volunteer"``.
        subject: a resident's ``person_key`` (64 lowercase hex) or a volunteer id (letters, digits, ``-``, ``_``).
        ttl: lifetime, a timedelta or seconds (at most one year).
        station: the issuing station id.
        now: issue time (aware datetime or Unix seconds); defaults to the current time.
        bound: valid only at ``station``.
        one_time: valid once, at ``station`` only.

    Returns:
        The token text, ASCII, ready for a QR encoder.

    Raises:
        ValueError: an unknown kind, a subject that is not a person key / volunteer id (never a full ID
            number), a bad station id, or a ttl outside (0, one year].
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    if not _check_subject(kind, subject):
        raise ValueError(f"subject is not a valid {kind} key")
    if not _STATION_RE.fullmatch(station):
        raise ValueError("station id must be 1-64 letters, digits, '-' or '_'")
    ttl_s = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl must be between 1 s and {MAX_TTL_S} s")
    issued = _epoch(now)
    payload = {"k": KINDS[kind], "s": subject, "i": issued, "e": issued + int(ttl_s), "t": station}
    if bound or one_time:
        payload["b"] = 1
    if one_time:
        payload["o"] = 1
    body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("ascii"))
    signed = f"{VERSION}.{body}"
    return f"{signed}.{_b64encode(_tag(key, signed))}"


def _parse_payload(raw: bytes) -> dict:
    try:
        doc = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TokenMalformed("payload is not JSON") from None
    if not isinstance(doc, dict) or not _REQUIRED <= set(doc) <= _REQUIRED | _FLAGS:
        raise TokenMalformed("payload keys are wrong")
    if any(type(doc[f]) is not int or doc[f] != 1 for f in _FLAGS & set(doc)) or ("o" in doc and "b" not in doc):
        raise TokenMalformed("payload flags are wrong")
    k, s, i, e, t = doc["k"], doc["s"], doc["i"], doc["e"], doc["t"]
    if k not in _KIND_NAMES or not isinstance(s, str) or not isinstance(t, str):
        raise TokenMalformed("payload field types are wrong")
    if type(i) is not int or type(e) is not int or not 0 <= i <= e < 2**37:
        raise TokenMalformed("payload times are wrong")
    if not _check_subject(_KIND_NAMES[k], s) or not _STATION_RE.fullmatch(t):
        raise TokenMalformed("payload subject or station is wrong")
    return doc


def verify_token(key: bytes, text: str, now: datetime | float | None = None, station: str | None = None) -> Token:
    """Check a token's signature, lifetime and station binding and return what it says.

    Args:
        key: the district key.
        text: what the QR decoder returned (surrounding whitespace is ignored).
        now: verification time (aware datetime or Unix seconds); defaults to the current time.
        station: the verifying station; a bound token for another one is refused (None: not checked,
            for field probes).

    Returns:
        The verified :class:`Token`.

    Raises:
        TokenMalformed: not a Yizhan token (or longer than ``MAX_TEXT``).
        TokenForged: the tag does not match (altered, or another district's key).
        TokenExpired: genuine but past its expiry.
        TokenNotYetValid: genuine but issued more than ``CLOCK_SKEW_S`` in the future.
        TokenWrongStation: bound to another station than ``station``.
    """
    if not isinstance(text, str):
        raise TokenMalformed("token must be text")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise TokenMalformed(f"token longer than {MAX_TEXT} characters")
    if not text.isascii():
        raise TokenMalformed("token is not ASCII")
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenMalformed(f"not a {VERSION} token")
    body, tag_text = parts[1], parts[2]
    if len(body) * 3 // 4 > MAX_PAYLOAD:
        raise TokenMalformed("payload too long")
    tag = _b64decode(tag_text)
    if len(tag) != TAG_BYTES:
        raise TokenMalformed("signature has the wrong length")
    raw = _b64decode(body)
    if not hmac.compare_digest(tag, _tag(key, f"{VERSION}.{body}")):
        raise TokenForged("signature does not match")
    doc = _parse_payload(raw)
    if doc["e"] - doc["i"] > MAX_TTL_S:
        raise TokenMalformed(f"lifetime {doc['e'] - doc['i']} s is longer than the maximum {MAX_TTL_S} s")
    current = _epoch(now)
    if current >= doc["e"]:
        raise TokenExpired(f"expired {current - doc['e']} s ago")
    if doc["i"] > current + CLOCK_SKEW_S:
        raise TokenNotYetValid(f"issued {doc['i'] - current} s in the future")
    if doc.get("b") and station is not None and station != doc["t"]:
        raise TokenWrongStation(f"bound to station {doc['t']}")
    return Token(kind=_KIND_NAMES[doc["k"]], subject=doc["s"],
                 issued_at=datetime.fromtimestamp(doc["i"], timezone.utc),
                 expires_at=datetime.fromtimestamp(doc["e"], timezone.utc), station=doc["t"],
                 bound=bool(doc.get("b")), one_time=bool(doc.get("o")))


def token_digest(text: str) -> str:
    """What a kiosk journals about a used one-time token: a digest of its text, never the text."""
    return hashlib.sha256(text.strip().encode("ascii", "replace")).hexdigest()[:32]


def peek_kind(text: str) -> str | None:
    """The kind a token *claims*, without checking its signature (for probes and logs only).

    Returns:
        ``"resident"``, ``"volunteer"`` or None when the text is not a readable YZ1 token.
    """
    try:
        parts = text.strip().split(".") if isinstance(text, str) and len(text) <= MAX_TEXT else []
        if len(parts) != 3 or parts[0] != VERSION:
            return None
        doc = json.loads(_b64decode(parts[1]).decode("ascii"))
        return _KIND_NAMES.get(doc.get("k")) if isinstance(doc, dict) else None
    except (TokenError, UnicodeDecodeError, ValueError, RecursionError, TypeError):
        return None
