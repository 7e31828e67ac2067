"""Parse the 256-byte text block a SAM reader returns, for all four document kinds.

Text is UCS-2 little-endian, padded with spaces (``20 00``); the character at byte 248 tells
the layouts apart (docs/protocols.md §1.6–1.8):

* ``' '`` resident identity card (居民身份证)
* ``'J'`` residence permit for Hong Kong, Macao and Taiwan residents (港澳台居民居住证)
* ``'I'`` foreign permanent resident card, 2017 version (外国人永久居留证)
* ``'Y'`` foreign permanent resident ID card, 2023 version (外国人永久居留身份证)

This is a pure function of the bytes: no I/O. The result, :class:`IdDocument`, holds the full
number in memory only; its ``repr`` leaves out the number, the names, the address and the birth
date because reprs end up in logs (masking for display is ``kiosk.privacy``'s).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date

from drivers.errors import InvalidResponse
from drivers.messages import N_
from drivers.idnumber import id_number_valid

TEXT_SIZE = 256
#: Byte offset of the one-character card-type flag.
FLAG_OFFSET = 248
#: The validity end of a long-term document.
LONG_TERM = "长期"


class InvalidDocument(InvalidResponse):
    """The text block cannot be parsed as any known document.

    The message names the field and its offset but never the personal value.
    """

    user_key = "idcard_invalid_document"
    user_message = N_("The card data could not be understood. Please ask the staff for help.")

    def __init__(self, message: str) -> None:
        super().__init__(message)


class DocumentKind(enum.Enum):
    """The four document kinds a SAM reader returns."""

    RESIDENT = "resident"
    HMT_PERMIT = "hmt_permit"
    FOREIGN_2017 = "foreign_2017"
    FOREIGN_2023 = "foreign_2023"


#: Card-type flag character at byte 248 -> document kind.
KIND_BY_FLAG: dict[str, DocumentKind] = {
    " ": DocumentKind.RESIDENT,
    "J": DocumentKind.HMT_PERMIT,
    "I": DocumentKind.FOREIGN_2017,
    "Y": DocumentKind.FOREIGN_2023,
}
FLAG_BY_KIND = {kind: flag for flag, kind in KIND_BY_FLAG.items()}


class Gender(enum.Enum):
    """Gender code, GB/T 2261.1."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSPECIFIED = "9"


#: Ethnicity code (GB 3304, two ASCII digits) -> name. 46 is 德昂 and 36 is 毛南, the current names.
ETHNICITIES: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉",
    "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米", "41": "塔吉克", "42": "怒",
    "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂", "47": "保安", "48": "裕固",
    "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春", "53": "赫哲", "54": "门巴", "55": "珞巴",
    "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}

# Field layouts as (offset, size in bytes), docs/protocols.md §1.6 and §1.8.
RESIDENT_LAYOUT = {
    "name": (0, 30), "gender": (30, 2), "ethnicity": (32, 4), "birth": (36, 16), "address": (52, 70),
    "number": (122, 36), "issuer": (158, 30), "valid_from": (188, 16), "valid_until": (204, 16),
}
HMT_EXTRA = {"pass_number": (220, 18), "issue_count": (238, 4)}
FOREIGN_2017_LAYOUT = {
    "english_name": (0, 120), "gender": (120, 2), "number": (122, 30), "nationality": (152, 6),
    "name": (158, 30), "valid_from": (188, 16), "valid_until": (204, 16), "birth": (220, 16),
    "card_version": (236, 4), "issuer": (240, 8),
}
FOREIGN_2023_LAYOUT = {
    "name": (0, 30), "gender": (30, 2), "renewal_count": (32, 4), "birth": (36, 16),
    "english_name_1": (52, 70), "number": (122, 36), "valid_from": (188, 16), "valid_until": (204, 16),
    "english_name_2": (220, 22), "nationality": (242, 6), "previous_number": (250, 6),
}


@dataclass(frozen=True, repr=False)
class IdDocument:
    """One identity document as read from the card.

    ``number`` is the full document number (18 characters; 15 for the 2017 foreign card): keep
    it in memory only, turn it into a person key, never store or log it.

    Attributes:
        valid_until: None for a long-term (长期) document.
        ethnicity: the name (resident cards and permits that carry a code), else None.
        photo_present: the card returned a photo (the photo itself is always dropped).
    """

    kind: DocumentKind
    name: str
    gender: Gender
    birth_date: date
    number: str
    valid_from: date
    valid_until: date | None
    english_name: str | None = None
    ethnicity: str | None = None
    ethnicity_code: str | None = None
    address: str | None = None
    issuer: str | None = None
    nationality: str | None = None
    permit_number: str | None = None
    issue_count: int | None = None
    renewal_count: int | None = None
    card_version: str | None = None
    previous_number: str | None = None
    photo_present: bool = False

    @property
    def long_term(self) -> bool:
        """True when the document is valid without end date (长期)."""
        return self.valid_until is None

    def expired(self, on: date) -> bool:
        """True when the document is no longer valid on ``on`` (the end date itself is still valid)."""
        return self.valid_until is not None and on > self.valid_until

    @property
    def check_digit_ok(self) -> bool | None:
        """The ISO 7064 MOD 11-2 check digit of an 18-character number.

        Returns:
            True or False for resident cards, permits and the 2023 foreign card; None for the
            2017 foreign card, whose 15-character number has no published check rule.
        """
        if self.kind is DocumentKind.FOREIGN_2017:
            return None
        return id_number_valid(self.number)

    @property
    def display_name(self) -> str:
        """Chinese name when the card has one, else the English name."""
        return self.name or (self.english_name or "")

    def with_photo_present(self, present: bool) -> IdDocument:
        """A copy with ``photo_present`` set."""
        return replace(self, photo_present=present)

    def __repr__(self) -> str:
        until = self.valid_until.isoformat() if self.valid_until else LONG_TERM
        # No name, number, address or birth data: a document must never leak through a log line.
        return (f"IdDocument(kind={self.kind.value}, number=<{len(self.number)} chars>, "
                f"valid={self.valid_from.isoformat()}..{until}, check_digit_ok={self.check_digit_ok})")

    __str__ = __repr__


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError:
        raise InvalidDocument(f"{what} is not valid UCS-2 (unpaired surrogate)") from None


def _field(block: bytes, spec: tuple[int, int]) -> str:
    """The trimmed text of one field; each field is decoded on its own, so a character
    outside the BMP can never shift the fields after it."""
    offset, size = spec
    return _decode(block[offset:offset + size], f"field at byte {offset}").strip(" \x00")


def _date(value: str, field_name: str, offset: int) -> date:
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise InvalidDocument(f"{field_name} at byte {offset} is not a date YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise InvalidDocument(f"{field_name} at byte {offset} is not a real calendar date") from None


def _gender(value: str, offset: int) -> Gender:
    try:
        return Gender(value)
    except ValueError:
        raise InvalidDocument(f"gender code at byte {offset} is not one of 0, 1, 2, 9") from None


def _count(value: str, field_name: str, offset: int) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise InvalidDocument(f"{field_name} at byte {offset} is not a number")
    return int(value)


def _id_number(value: str, offset: int, length: int = 18) -> str:
    number = value.upper()
    if length == 18:
        ok = len(number) == 18 and number[:17].isascii() and number[:17].isdigit() and number[17] in "0123456789X"
    else:
        ok = len(number) == length and number.isascii() and number.isalnum()
    if not ok:
        raise InvalidDocument(f"document number at byte {offset} is not {length} characters of the allowed set")
    return number


def _validity(block: bytes, layout: dict[str, tuple[int, int]]) -> tuple[date, date | None]:
    start = _date(_field(block, layout["valid_from"]), "validity start", layout["valid_from"][0])
    end_text = _field(block, layout["valid_until"])
    end = None if end_text == LONG_TERM else _date(end_text, "validity end", layout["valid_until"][0])
    if end is not None and end < start:
        raise InvalidDocument("validity end is before validity start")
    return start, end


def _optional_name(value: str, offset: int) -> str:
    if not value.isprintable():
        raise InvalidDocument(f"name at byte {offset} holds control characters")
    return value


def _require_name(value: str, offset: int) -> str:
    if not value:
        raise InvalidDocument(f"name at byte {offset} is empty")
    return _optional_name(value, offset)


def parse_text(block: bytes) -> IdDocument:
    """Parse the 256-byte text block into an :class:`IdDocument`.

    Args:
        block: the text block from a read-card response.

    Returns:
        The document; a bad check digit or an expired date is reported on the document
        (``check_digit_ok``, ``expired()``), not raised.

    Raises:
        InvalidDocument: wrong size, not UCS-2, unknown card-type flag, a malformed date, gender
            or number, or an empty name.
    """
    block = bytes(block)
    if len(block) != TEXT_SIZE:
        raise InvalidDocument(f"text block is {len(block)} bytes, expected {TEXT_SIZE}")
    flag = block[FLAG_OFFSET:FLAG_OFFSET + 2]
    kind = KIND_BY_FLAG.get(_decode(flag, "card-type flag") if flag[1] == 0 else "")
    if kind is None:
        raise InvalidDocument(f"unknown card-type flag {flag.hex(' ')} at byte {FLAG_OFFSET}")
    if kind is DocumentKind.FOREIGN_2017:
        return _parse_foreign_2017(block)
    if kind is DocumentKind.FOREIGN_2023:
        return _parse_foreign_2023(block)
    return _parse_resident(block, kind)


def _parse_resident(block: bytes, kind: DocumentKind) -> IdDocument:
    lay = RESIDENT_LAYOUT
    f = {key: _field(block, spec) for key, spec in lay.items()}
    code = f["ethnicity"]
    if code and not (len(code) == 2 and code.isascii() and code.isdigit()):
        raise InvalidDocument(f"ethnicity code at byte {lay['ethnicity'][0]} is not two digits")
    valid_from, valid_until = _validity(block, lay)
    extra: dict = {}
    if kind is DocumentKind.HMT_PERMIT:
        extra["permit_number"] = _field(block, HMT_EXTRA["pass_number"]) or None
        extra["issue_count"] = _count(_field(block, HMT_EXTRA["issue_count"]),
                                      "issue count", HMT_EXTRA["issue_count"][0])
    return IdDocument(
        kind=kind,
        name=_require_name(f["name"], lay["name"][0]),
        gender=_gender(f["gender"], lay["gender"][0]),
        birth_date=_date(f["birth"], "birth date", lay["birth"][0]),
        number=_id_number(f["number"], lay["number"][0]),
        valid_from=valid_from,
        valid_until=valid_until,
        ethnicity=ETHNICITIES.get(code) if code else None,
        ethnicity_code=code or None,
        address=f["address"] or None,
        issuer=f["issuer"] or None,
        nationality="CHN" if kind is DocumentKind.RESIDENT else None,
        **extra,
    )


def _parse_foreign_2017(block: bytes) -> IdDocument:
    lay = FOREIGN_2017_LAYOUT
    f = {key: _field(block, spec) for key, spec in lay.items()}
    if not f["english_name"] and not f["name"]:
        raise InvalidDocument(f"both names (bytes {lay['english_name'][0]} and {lay['name'][0]}) are empty")
    valid_from, valid_until = _validity(block, lay)
    return IdDocument(
        kind=DocumentKind.FOREIGN_2017,
        name=_optional_name(f["name"], lay["name"][0]),
        english_name=_optional_name(f["english_name"], 0) or None,
        gender=_gender(f["gender"], lay["gender"][0]),
        birth_date=_date(f["birth"], "birth date", lay["birth"][0]),
        number=_id_number(f["number"], lay["number"][0], length=15),
        valid_from=valid_from,
        valid_until=valid_until,
        nationality=f["nationality"] or None,
        issuer=f["issuer"] or None,
        card_version=f["card_version"] or None,
    )


def _parse_foreign_2023(block: bytes) -> IdDocument:
    lay = FOREIGN_2023_LAYOUT
    f = {key: _field(block, spec) for key, spec in lay.items()}
    # The English name runs over two fields: characters 1-35 at byte 52, 36-46 at byte 220.
    (o1, n1), (o2, n2) = lay["english_name_1"], lay["english_name_2"]
    english = _decode(block[o1:o1 + n1] + block[o2:o2 + n2], "English name").strip(" \x00")
    if not english and not f["name"]:
        raise InvalidDocument("both names (bytes 0 and 52) are empty")
    valid_from, valid_until = _validity(block, lay)
    return IdDocument(
        kind=DocumentKind.FOREIGN_2023,
        name=_optional_name(f["name"], lay["name"][0]),
        english_name=_optional_name(english, lay["english_name_1"][0]) or None,
        gender=_gender(f["gender"], lay["gender"][0]),
        birth_date=_date(f["birth"], "birth date", lay["birth"][0]),
        number=_id_number(f["number"], lay["number"][0]),
        valid_from=valid_from,
        valid_until=valid_until,
        nationality=f["nationality"] or None,
        renewal_count=_count(f["renewal_count"], "renewal count", lay["renewal_count"][0]),
        previous_number=f["previous_number"] or None,
    )


