"""Privacy by design: keyed person keys, masked display forms, and a guard against leaks.

The full ID number lives only in memory for the moment a card is read: it is turned into a
``person_key`` (scrypt, a memory-hard function, salted with a sub-key of the district key, so visits
link across stations without the number; a stolen key leaves a search whose cost docs/kiosk-disk.md
states from measurements) and
masked forms for display. :func:`contains_id_number` lets the journal, the sync
layer and the log filter refuse anything that still carries a full number.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import date

# The number's format facts live with the drivers that read it; re-exported for the core.
from drivers.idnumber import ID_CANDIDATE_RE, id_check_char, id_number_valid, normalise_id_number  # noqa: F401

_ID_RE = ID_CANDIDATE_RE


def contains_id_number(text: str) -> bool:
    """True if ``text`` contains an 18-character string with a valid ID check digit."""
    return any(id_number_valid(m.group(1)) for m in _ID_RE.finditer(text))


def redact_id_numbers(text: str) -> str:
    """Replace every valid-looking full ID number in ``text`` by its masked form."""
    return _ID_RE.sub(lambda m: mask_id_number(m.group(1)) if id_number_valid(m.group(1)) else m.group(1), text)


#: scrypt cost of a person key: 2^16 x 6 x 128 B = 48 MiB of memory and about 160-170 ms of CPU
#: per derivation on this project's reference machine (one AMD EPYC core, 2026-12; see
#: docs/kiosk-disk.md, ``yizhan bench personkey`` measures it) — what a card read can pay. Each
#: guess of a thief holding the district key costs one derivation. Changing it changes every person
#: key: the previous cost stays in :data:`EARLIER_PERSON_KEY_COSTS` so earlier keys get linked.
PERSON_KEY_COST = {"n": 2 ** 16, "r": 6, "p": 1}
_PERSON_SALT_LABEL = b"yizhan/person-key/v3"
#: Earlier scrypt person keys (salt label, cost), newest first: 8 MiB, about 20 ms (until 2026-12).
EARLIER_PERSON_KEY_COSTS = ((b"yizhan/person-key/v2", {"n": 2 ** 13, "r": 8, "p": 1}),)
_MAXMEM = 128 * 1024 * 1024


def _check_key(district_key: bytes) -> None:
    if len(district_key) < 16:
        raise ValueError("district key must be at least 16 bytes")


def _scrypt_key(district_key: bytes, id_number: str, label: bytes, cost: dict[str, int]) -> str:
    salt = hmac.new(district_key, label, hashlib.sha256).digest()
    return hashlib.scrypt(normalise_id_number(id_number).encode("ascii", "replace"), salt=salt,
                          maxmem=_MAXMEM, dklen=32, **cost).hex()


def person_key(district_key: bytes, id_number: str) -> str:
    """The person key: scrypt of the normalised document number, salted with a district sub-key, as hex.

    Stable across stations of one district and useless without the key; with the key, each guess
    of a number costs one full scrypt derivation (:data:`PERSON_KEY_COST`) and is checked against
    every person key of the district at once (one salt serves the district, so that lookups work).
    """
    _check_key(district_key)
    return _scrypt_key(district_key, id_number, _PERSON_SALT_LABEL, PERSON_KEY_COST)


def legacy_person_key(district_key: bytes, id_number: str) -> str:
    """The person key of Yizhan before scrypt (HMAC-SHA256), computed only to find and link a
    person's records journaled before the change (``kiosk.identity``); never stored for a new person."""
    _check_key(district_key)
    return hmac.new(district_key, normalise_id_number(id_number).encode("ascii", "replace"),
                    hashlib.sha256).hexdigest()


def earlier_person_keys(district_key: bytes, id_number: str) -> tuple[str, ...]:
    """Every key an earlier Yizhan derived for this number (HMAC, then each earlier scrypt cost),
    computed only to find and link records journaled under them; about 20 ms in all."""
    _check_key(district_key)
    return (legacy_person_key(district_key, id_number),
            *(_scrypt_key(district_key, id_number, label, cost) for label, cost in EARLIER_PERSON_KEY_COSTS))


def mask_id_number(number: str) -> str:
    """310***********1234 for an 18-character number: first 3 and last 4 kept.

    Shorter document numbers (permits) keep their first 2 and last 2 characters.
    """
    n = normalise_id_number(number)
    if len(n) >= 12:
        return n[:3] + "*" * (len(n) - 7) + n[-4:]
    if len(n) > 4:
        return n[:2] + "*" * (len(n) - 4) + n[-2:]
    return "*" * len(n)


def mask_name(name: str) -> str:
    """王*明 for three characters, 王* for two, 欧**峰 for four; Latin names keep initials.

    Chinese names keep the first and last character; Latin names keep each word's first letter.
    """
    name = name.strip()
    if not name:
        return ""
    if name.isascii():
        return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def age_on(birth: date, today: date) -> int:
    """Whole years between ``birth`` and ``today``."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def age_band(age: int) -> str:
    """Ten-year band used in reports: '60-69', '80+', '<18'."""
    if age < 18:
        return "<18"
    if age >= 80:
        return "80+"
    low = (age // 10) * 10
    return f"{max(low, 18) if low < 20 else low}-{low + 9}"
