"""Privacy by design: keyed person keys, masked display forms, and a guard against leaks.

The full ID number lives only in memory for the moment a card is read: it is turned into a
``person_key`` (scrypt, a memory-hard function, salted with a sub-key of the district key, so visits
link across stations without the number, and a stolen key still leaves a search of years) and
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


#: scrypt cost of a person key: 2^13 x 8 x 128 B = 8 MiB of memory and about 50 ms per derivation
#: on a kiosk (``yizhan bench personkey`` measures it). Changing it changes every person key.
PERSON_KEY_COST = {"n": 2 ** 13, "r": 8, "p": 1}
_PERSON_SALT_LABEL = b"yizhan/person-key/v2"


def _check_key(district_key: bytes) -> None:
    if len(district_key) < 16:
        raise ValueError("district key must be at least 16 bytes")


def person_key(district_key: bytes, id_number: str) -> str:
    """The person key: scrypt of the normalised document number, salted with a district sub-key, as hex.

    Stable across stations of one district and useless without the key; with the key, each guess
    of a number costs one full scrypt derivation (:data:`PERSON_KEY_COST`).
    """
    _check_key(district_key)
    salt = hmac.new(district_key, _PERSON_SALT_LABEL, hashlib.sha256).digest()
    return hashlib.scrypt(normalise_id_number(id_number).encode("ascii", "replace"), salt=salt,
                          maxmem=64 * 1024 * 1024, dklen=32, **PERSON_KEY_COST).hex()


def legacy_person_key(district_key: bytes, id_number: str) -> str:
    """The person key of Yizhan before scrypt (HMAC-SHA256), computed only to find and link a
    person's records journaled before the change (``kiosk.identity``); never stored for a new person."""
    _check_key(district_key)
    return hmac.new(district_key, normalise_id_number(id_number).encode("ascii", "replace"),
                    hashlib.sha256).hexdigest()


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
