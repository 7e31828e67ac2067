"""Workbench accounts: Argon2id passwords, roles with station scope, sessions, sign-in throttling.

Roles: ``staff`` sees and acts on its own stations only; ``district`` (the street office) on every
station, reports and publishing; ``admin`` also manages accounts. The command line
(``yizhan hub user add|passwd|disable``) and the admin page both call these functions.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from hub import models as m
from hub.web.audit import record
from sync.messages import valid_station_id

ROLES = ("staff", "care", "district", "admin")
#: Failed sign-ins of one name *from one address* within the window that lock that pair for the
#: window (issue 22: a name is never locked from elsewhere); an address with four times as many
#: failures (any names) is locked too.
MAX_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)
#: Past :data:`MAX_FAILURES` failures of a name from anywhere, each further try of that name waits
#: this long, doubling per failure, at most :data:`MAX_DELAY_S` (guessing slows down; the owner
#: still gets in).
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 8.0
SESSION_IDLE = timedelta(hours=12)
MIN_PASSWORD = 10

_hasher = PasswordHasher()      # Argon2id, the library's current defaults


class AccountError(Exception):
    """An account request that cannot be done; the text is shown to the person as is."""

    user_key = "account_error"


class SignInRefused(AccountError):
    """Wrong name or password, a disabled account, or too many failures (locked for a while)."""


@dataclass(frozen=True)
class User:
    """A signed-in staff member and what they may see."""

    id: int
    username: str
    display_name: str
    role: str
    stations: tuple[str, ...]

    @property
    def all_stations(self) -> bool:
        """True for district and admin accounts."""
        return self.role in ("district", "admin")

    def may_see(self, station: str) -> bool:
        """True when this account's scope covers ``station``."""
        return self.all_stations or station in self.stations

    def scope(self) -> tuple[str, ...] | None:
        """The stations this account may see, or None for every station."""
        return None if self.all_stations else self.stations


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_stations(role: str, stations: list[str]) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    bad = [s for s in stations if not valid_station_id(s)]
    if bad:
        raise AccountError(f"not a station id: {', '.join(bad)}")
    if role in ("staff", "care") and not stations:
        raise AccountError("station staff need at least one station")
    return ",".join(sorted(set(stations)))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")


def _user(row) -> User:
    return User(row.id, row.username, row.display_name, row.role,
                tuple(s for s in row.stations.split(",") if s))


def add_user(engine: Engine, username: str, password: str, role: str, stations: list[str] | None = None,
             display_name: str = "", actor: str = "cli") -> User:
    """Create an account.

    Raises:
        AccountError: bad name, role, station or a short password; the name is taken.
    """
    username = username.strip()
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise AccountError("the user name must be 1-64 printable characters without spaces")
    _check_password(password)
    scope = _check_stations(role, stations or [])
    now = _now()
    with engine.begin() as conn:
        if conn.execute(select(m.users.c.id).where(m.users.c.username == username)).first():
            raise AccountError(f"the user name {username!r} is taken")
        conn.execute(insert(m.users).values(username=username, display_name=(display_name or username)[:64],
                                            role=role, stations=scope, password_hash=_hasher.hash(password),
                                            disabled=False, created_at=now, password_changed_at=now))
        record(conn, actor, "user.add", None, username, None, {"role": role, "stations": scope})
    return get_user(engine, username)


def get_user(engine: Engine, username: str) -> User:
    """The account of ``username``.

    Raises:
        AccountError: no such account.
    """
    with engine.connect() as conn:
        row = conn.execute(select(m.users).where(m.users.c.username == username)).first()
    if row is None:
        raise AccountError(f"no account {username!r}")
    return _user(row)


def list_users(engine: Engine) -> list[dict]:
    """Every account (no hashes), by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(m.users.c.username, m.users.c.display_name, m.users.c.role, m.users.c.stations,
                                   m.users.c.disabled).order_by(m.users.c.username)).mappings().all()
    return [dict(r) for r in rows]


def set_password(engine: Engine, username: str, password: str, actor: str = "cli") -> None:
    """Replace a password and end the account's sessions.

    Raises:
        AccountError: no such account or a short password.
    """
    _check_password(password)
    user = get_user(engine, username)
    with engine.begin() as conn:
        conn.execute(update(m.users).where(m.users.c.id == user.id)
                     .values(password_hash=_hasher.hash(password), password_changed_at=_now()))
        conn.execute(delete(m.sessions).where(m.sessions.c.user_id == user.id))
        record(conn, actor, "user.passwd", None, username, None, None)


def set_disabled(engine: Engine, username: str, disabled: bool = True, actor: str = "cli") -> None:
    """Disable (or enable again) an account; disabling ends its sessions at once.

    Raises:
        AccountError: no such account.
    """
    user = get_user(engine, username)
    with engine.begin() as conn:
        before = conn.execute(select(m.users.c.disabled).where(m.users.c.id == user.id)).scalar_one()
        conn.execute(update(m.users).where(m.users.c.id == user.id).values(disabled=disabled))
        if disabled:
            conn.execute(delete(m.sessions).where(m.sessions.c.user_id == user.id))
        record(conn, actor, "user.disable" if disabled else "user.enable", None, username,
               {"disabled": bool(before)}, {"disabled": disabled})


def sign_in_delay(failures: int) -> float:
    """Seconds a sign-in of a name waits after ``failures`` recent failures of it from anywhere."""
    if failures < MAX_FAILURES:
        return 0.0
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (failures - MAX_FAILURES))


def unlock(engine: Engine, username: str, actor: str = "cli") -> int:
    """Forget the recent failed sign-ins of a name (the administrator's way in from the hub's own
    console: ``yizhan hub user unlock NAME``); returns how many were forgotten."""
    with engine.begin() as conn:
        n = conn.execute(delete(m.login_attempts).where((m.login_attempts.c.username == username)
                                                        & m.login_attempts.c.ok.is_(False))).rowcount
        record(conn, actor, "user.unlock", None, username, {"failures": n}, {"failures": 0})
    return n


def _failures(conn, column, value: str, since: datetime) -> int:
    return conn.execute(select(func.count()).select_from(m.login_attempts)
                        .where((column == value) & (m.login_attempts.c.at >= since) &
                               (m.login_attempts.c.ok.is_(False)))).scalar_one()


def sign_in(engine: Engine, username: str, password: str, address: str) -> tuple[str, str]:
    """Check a password and open a session.

    Returns:
        ``(session token for the cookie, CSRF token of the session)``.

    Raises:
        SignInRefused: wrong name or password, disabled, or locked after too many failures.
    """
    username = username.strip()[:64]
    address = address[:64]
    now = _now()
    a = m.login_attempts.c
    with engine.connect() as conn:
        since = now - LOCK_WINDOW
        pair = conn.execute(select(func.count()).select_from(m.login_attempts).where(
            (a.username == username) & (a.address == address) & (a.at >= since) & a.ok.is_(False))).scalar_one()
        if pair >= MAX_FAILURES or _failures(conn, a.address, address, since) >= MAX_FAILURES * 4:
            raise SignInRefused("too many failed sign-ins: wait 15 minutes and try again")
        by_name = _failures(conn, a.username, username, since)
    time.sleep(sign_in_delay(by_name))
    with engine.begin() as conn:
        row = conn.execute(select(m.users).where(m.users.c.username == username)).first()
        ok = False
        if row is not None:
            try:
                ok = _hasher.verify(row.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        else:
            _hasher.hash(password)       # same cost whether or not the name exists
        ok = ok and not row.disabled
        conn.execute(insert(m.login_attempts).values(username=username, address=address, at=now, ok=ok))
    if not ok:
        with engine.begin() as conn:
            record(conn, username or "?", "sign_in.failed", None, address, None, None)
        raise SignInRefused("wrong user name or password, or the account is disabled")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(insert(m.sessions).values(token_hash=_digest(token), user_id=row.id, csrf=csrf,
                                               created_at=now, last_seen=now))
        record(conn, username, "sign_in", None, address, None, None)
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(update(m.users).where(m.users.c.id == row.id).values(password_hash=_hasher.hash(password)))
    return token, csrf


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_user(engine: Engine, token: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live session, or None (unknown, idle too long, or disabled)."""
    if not token or len(token) > 100:
        return None
    now = _now()
    with engine.connect() as conn:
        row = conn.execute(select(m.users, m.sessions.c.csrf, m.sessions.c.last_seen)
                           .join(m.sessions, m.sessions.c.user_id == m.users.c.id)
                           .where(m.sessions.c.token_hash == _digest(token))).first()
    if row is None or row.disabled:
        return None
    last = row.last_seen if row.last_seen.tzinfo else row.last_seen.replace(tzinfo=timezone.utc)
    if now - last > SESSION_IDLE:
        return None
    if now - last > timedelta(minutes=1):
        with engine.begin() as conn:
            conn.execute(update(m.sessions).where(m.sessions.c.token_hash == _digest(token)).values(last_seen=now))
    return _user(row), row.csrf


def sign_out(engine: Engine, token: str, actor: str) -> None:
    """End a session."""
    with engine.begin() as conn:
        conn.execute(delete(m.sessions).where(m.sessions.c.token_hash == _digest(token)))
        record(conn, actor, "sign_out", None, None, None, None)
