"""Typed journal records.

Every service event is a :class:`Record` whose ``payload`` is a frozen dataclass registered under a
``kind`` name with :func:`record_kind`. Payloads serialise to compact JSON made of plain types
(enums as their value, datetimes as ISO 8601, frozensets as sorted lists) and come back as the same
dataclass, so raw dicts never cross a module boundary.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

_KINDS: dict[str, type] = {}
P = TypeVar("P")


class UnknownRecordKind(KeyError):
    """A stored or received record names a kind this version does not know."""


class PayloadError(ValueError):
    """A payload does not match its dataclass (missing field, wrong type); ``field`` names the field
    when one is to blame."""

    field: str = ""


def record_kind(name: str, priority: int = 0):
    """Class decorator: register a frozen dataclass as the payload of records of kind ``name``.

    Args:
        name: the stable kind name stored in the journal and sent to the hub.
        priority: outbox priority; higher leaves first (urgent alerts jump the queue).
    """
    def wrap(cls: type[P]) -> type[P]:
        if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):
            raise TypeError(f"{cls.__name__} must be a frozen dataclass")
        if name in _KINDS and _KINDS[name] is not cls:
            raise ValueError(f"record kind {name!r} registered twice")
        cls.KIND = name
        cls.PRIORITY = priority
        _KINDS[name] = cls
        return cls
    return wrap


def payload_class(kind: str) -> type:
    """The dataclass registered for ``kind``."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownRecordKind(kind) from None


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def payload_to_dict(payload: Any) -> dict[str, Any]:
    """A payload dataclass as a dict of JSON-ready plain values."""
    return _plain(payload)


#: The largest payload a record may have, as UTF-8 JSON (the journal refuses bigger ones).
MAX_PAYLOAD_BYTES = 64 * 1024


def payload_to_json(payload: Any) -> str:
    """Compact, key-sorted JSON of a payload (stable bytes for the same content).

    Raises:
        ValueError: the payload holds NaN or Infinity (not JSON, and not a quantity).
    """
    return json.dumps(payload_to_dict(payload), ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=False)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except PayloadError as exc:
                errors.append(str(exc))
        raise PayloadError(errors[0] if errors else f"{where}: unexpected {value!r}")
    if tp is Any:
        return value
    if origin in (list, tuple, frozenset, set):
        if not isinstance(value, list):
            raise PayloadError(f"{where}: expected a list, got {type(value).__name__}")
        (item_tp, *_rest) = typing.get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{where}[]") for v in value]
        return origin(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise PayloadError(f"{where}: expected an object")
        _k, v_tp = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(v_tp, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            try:
                return tp(value)
            except ValueError:
                raise PayloadError(f"{where}: {value!r} is not a {tp.__name__}") from None
        if tp is datetime:
            try:
                return datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise PayloadError(f"{where}: {value!r} is not a date-time") from None
        if tp is date:
            try:
                return date.fromisoformat(value)
            except (TypeError, ValueError):
                raise PayloadError(f"{where}: {value!r} is not a date") from None
        if dataclasses.is_dataclass(tp):
            return _from_dict(tp, value, where)
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if tp is bool and not isinstance(value, bool):
            raise PayloadError(f"{where}: expected true/false, got {value!r}")
        if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise PayloadError(f"{where}: expected an integer, got {value!r}")
        if not isinstance(value, tp):
            raise PayloadError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
    return value


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, required) of each init field; resolving the hints is costly, so once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
                 for f in dataclasses.fields(cls) if f.init)


def payload_fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, required) of each field of a payload dataclass."""
    return _fields(cls)


def _from_dict(cls: type[P], data: Any, where: str) -> P:
    if not isinstance(data, dict):
        raise PayloadError(f"{where}: expected an object, got {type(data).__name__}")
    kwargs = {}
    names = set()
    for name, tp, required in _fields(cls):
        names.add(name)
        if name in data:
            kwargs[name] = _convert(tp, data[name], f"{where}.{name}")
        elif required:
            raise PayloadError(f"{where}: missing field {name!r}")
    extra = set(data) - names
    if extra:
        raise PayloadError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{where}: {exc}") from None


def payload_from_dict(kind: str, data: Any) -> Any:
    """Rebuild the typed payload of ``kind`` from its plain dict.

    Raises:
        UnknownRecordKind: kind not registered.
        PayloadError: the data does not fit the dataclass.
    """
    return _from_dict(payload_class(kind), data, kind)


@dataclass(frozen=True)
class Record:
    """One immutable journal record."""

    id: str
    station_id: str
    seq: int
    kind: str
    created_at: datetime
    payload: Any

    def to_dict(self) -> dict[str, Any]:
        """The record as plain values (the wire and hub format)."""
        return {"id": self.id, "station": self.station_id, "seq": self.seq, "kind": self.kind,
                "ts": self.created_at.isoformat(timespec="milliseconds"),
                "payload": payload_to_dict(self.payload)}


# --- record kinds of the foundation --------------------------------------------------------

@record_kind("consent_withdrawn")
@dataclass(frozen=True)
class ConsentWithdrawn:
    """Staff recorded that a person withdrew consent: their health records are erased here and,
    when this record arrives, at the hub (deleted by person key)."""

    person_key: str
    erased_count: int
    by: str = "staff"


@record_kind("consent")
@dataclass(frozen=True)
class ConsentDecision:
    """A resident agreed to, or declined, the processing of health data (PIPL sensitive data)."""

    person_key: str
    granted: bool
    scope: str = "health"
    text_version: str = "1"


@record_kind("visit")
@dataclass(frozen=True)
class Visit:
    """A person identified themselves at the kiosk (masked forms only)."""

    person_key: str
    source: str
    role: str
    document_kind: str = ""
    age_band: str = ""
    gender: str = ""


@record_kind("person_key_linked")
@dataclass(frozen=True)
class PersonKeyLinked:
    """A card read at this kiosk showed that ``old_key`` (a person key of an earlier Yizhan: HMAC, or
    scrypt at an earlier cost) and ``new_key`` (the current one) are the same person: consent, trends and roster entries
    journaled under the old key carry over, here and at the hub. Once the hub acknowledged it, the
    records under ``old_key`` are relabelled and ``old_key`` becomes "" (``kiosk.key_links``)."""

    old_key: str
    new_key: str


@record_kind("token_used")
@dataclass(frozen=True)
class TokenUse:
    """A one-time QR token was used at this station (its digest only; ``kiosk.tokens.token_digest``)."""

    digest: str
    expires_at: str


@record_kind("admin_event")
@dataclass(frozen=True)
class AdminEvent:
    """Staff actions on the admin screen: login, failed PIN, lockout, settings."""

    action: str
    detail: str = ""


