"""Facts of the GB 11643-1999 citizen identity number, as printed on every document the readers see.

An 18-character number: 6 digits of region, 8 of birth date, 3 of sequence, and an ISO 7064
MOD 11-2 check character (a digit or X). Drivers use these facts to check what a card holds and
to keep numbers out of their error evidence; masking for display is the core's business
(``kiosk.privacy``).
"""
from __future__ import annotations

import re

# GB 11643-1999 / ISO 7064 MOD 11-2 weights over the first 17 digits.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
#: An 18-character candidate not glued to other letters or digits.
ID_CANDIDATE_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
#: What :func:`scrub_id_numbers` puts where a number was.
SCRUBBED = "[ID number]"


def id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_id_number(number: str) -> str:
    """Strip spaces and upper-case the trailing x."""
    return "".join(number.split()).upper()


def id_number_valid(number: str) -> bool:
    """True when ``number`` is 17 digits plus the right check character."""
    n = normalise_id_number(number)
    return len(n) == 18 and n[:17].isdigit() and id_check_char(n[:17]) == n[17]


def scrub_id_numbers(text: str) -> str:
    """``text`` with every valid-looking full ID number replaced by ``[ID number]`` (no part kept)."""
    return ID_CANDIDATE_RE.sub(lambda m: SCRUBBED if id_number_valid(m.group(1)) else m.group(1), text)
