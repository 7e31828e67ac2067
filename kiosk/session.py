"""The session of the person at the kiosk now: who they are (masked forms only), their language,
what they came for. Wiped completely when they leave or the kiosk falls idle."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES


@dataclass(frozen=True)
class Person:
    """An identified person, as the kiosk may keep them: keyed hash and masked forms only."""

    role: str                      # "resident" | "volunteer" | "staff"
    person_key: str                # scrypt(document number, district sub-key), hex (kiosk.privacy)
    display_name: str              # masked: 王*明
    masked_id: str = ""            # 310***********1234
    birth_year: int | None = None
    gender: str = ""               # "male" | "female" | ""
    age_band: str = ""
    document_kind: str = ""
    source: str = ""               # "idcard" | "pcsc" | "qr" | "demo"
    volunteer_id: str = ""
    team: str = ""
    former_keys: tuple[str, ...] = ()   # linked person keys of an earlier derivation (PersonKeyLinked)

    @property
    def keys(self) -> tuple[str, ...]:
        """The person key first, then every linked former key: what this person's records are under."""
        return (self.person_key, *self.former_keys)


@dataclass
class Session:
    """Mutable state of one visit; :meth:`wipe` returns it to a blank one."""

    default_language: str = DEFAULT_LANGUAGE
    lang: str = DEFAULT_LANGUAGE
    person: Person | None = None
    purpose: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: float = field(default_factory=time.time)
    scratch: dict[str, Any] = field(default_factory=dict)

    def set_language(self, lang: str) -> None:
        """Switch language for this visit only; the next person starts in the default."""
        if lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}")
        self.lang = lang

    def begin(self, purpose: str) -> None:
        """The person chose a service on the home screen."""
        self.purpose = purpose

    def identify(self, person: Person) -> None:
        """Attach the identified person to this visit."""
        self.person = person

    @property
    def active(self) -> bool:
        """True once someone started doing something (chose a service, identified, changed language)."""
        return bool(self.purpose or self.person or self.scratch or self.lang != self.default_language)

    def wipe(self) -> None:
        """Forget everything about this visit (person, purpose, scratch data, language)."""
        self.lang = self.default_language
        self.person = None
        self.purpose = ""
        self.scratch.clear()
        self.id = str(uuid.uuid4())
        self.started_at = time.time()
