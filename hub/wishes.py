"""The hub's wish board: 微心愿 and suggestions posted at kiosks; staff publish a wish (masked name
only), record who claimed it (a donor, volunteer or work unit) and fulfil it with a note, or answer a
suggestion; kiosks show the outcome through the ``requests`` document's ``wishes`` list.

``posted → published → claimed → fulfilled``; a suggestion goes ``posted → closed`` (answered).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection, Engine

from hub import models as m
from kiosk.community.wishes import CLAIMED, CLOSED, FULFILLED, POSTED, PUBLISHED, SUGGESTION, WISH

CLAIMER_KINDS = ("donor", "volunteer", "unit")
KEEP_DONE = timedelta(days=30)


class WishError(Exception):
    """A wish-board action the hub cannot carry out; the text says why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def apply_records(conn: Connection, records: Iterable[Any]) -> int:
    """Add freshly stored ``wish_posted`` records to the board (inside the storing transaction)."""
    added = 0
    for r in records:
        if r.kind != "wish_posted":
            continue
        p = json.loads(r.payload_json)
        if conn.execute(select(m.wishes.c.wish_id).where(m.wishes.c.wish_id == p["wish_id"])).first():
            continue
        conn.execute(m.wishes.insert().values(
            wish_id=p["wish_id"], station=r.station, kind=p["kind"], person_key=p["person_key"],
            display_name=p.get("display_name", ""), category=p["category"], phrase=p["phrase"], state=POSTED,
            posted_at=r.ts, updated_at=r.ts))
        added += 1
    return added


def board(engine: Engine, station: str | None = None, kind: str | None = None,
          open_only: bool = True) -> list[dict[str, Any]]:
    """Wishes and suggestions, oldest first (names as the kiosk masked them)."""
    t = m.wishes
    q = select(t).order_by(t.c.posted_at)
    if open_only:
        q = q.where(t.c.state.in_((POSTED, PUBLISHED, CLAIMED)))
    if station:
        q = q.where(t.c.station == station)
    if kind:
        q = q.where(t.c.kind == kind)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def _get(conn: Connection, wish_id: str) -> dict[str, Any]:
    row = conn.execute(select(m.wishes).where(m.wishes.c.wish_id == wish_id)).mappings().first()
    if row is None:
        raise WishError(f"no wish {wish_id!r}")
    return dict(row)


def _move(engine: Engine, wish_id: str, allowed: tuple[str, ...], by: str, **values: Any) -> dict[str, Any]:
    with engine.begin() as conn:
        row = _get(conn, wish_id)
        if row["state"] not in allowed:
            raise WishError(f"{row['kind']} {wish_id} is {row['state']}")
        conn.execute(m.wishes.update().where(m.wishes.c.wish_id == wish_id)
                     .values(updated_at=_now(), updated_by=by[:64], **values))
        return _get(conn, wish_id)


def publish(engine: Engine, wish_id: str, by: str = "staff") -> dict[str, Any]:
    """Put a posted wish on the board (masked)."""
    with engine.connect() as conn:
        if _get(conn, wish_id)["kind"] != WISH:
            raise WishError("only wishes go on the board; answer a suggestion instead")
    return _move(engine, wish_id, (POSTED,), by, state=PUBLISHED)


def claim(engine: Engine, wish_id: str, claimed_by: str, claimer_kind: str, by: str = "staff") -> dict[str, Any]:
    """Record who takes the wish on: a donor, a volunteer or a work unit."""
    if claimer_kind not in CLAIMER_KINDS or not claimed_by.strip():
        raise WishError(f"name who claims it and whether it is a {', '.join(CLAIMER_KINDS)}")
    return _move(engine, wish_id, (PUBLISHED,), by, state=CLAIMED, claimed_by=claimed_by.strip()[:80],
                 claimer_kind=claimer_kind)


def fulfil(engine: Engine, wish_id: str, note: str, by: str = "staff") -> dict[str, Any]:
    """The claimed wish came true; the note is what the resident reads."""
    if not note.strip():
        raise WishError("write a short note for the resident")
    return _move(engine, wish_id, (CLAIMED,), by, state=FULFILLED, note=note.strip()[:200])


def answer(engine: Engine, wish_id: str, note: str, by: str = "staff") -> dict[str, Any]:
    """Answer a suggestion with a note the resident reads."""
    with engine.connect() as conn:
        if _get(conn, wish_id)["kind"] != SUGGESTION:
            raise WishError("only suggestions are answered; fulfil a wish instead")
    if not note.strip():
        raise WishError("write a short answer for the resident")
    return _move(engine, wish_id, (POSTED,), by, state=CLOSED, note=note.strip()[:200])


def document_entries(engine: Engine, station: str | None = None) -> list[dict[str, Any]]:
    """The ``wishes`` list of the ``requests`` document (of one station's, if given): open ones and
    those done in the last 30 days."""
    t = m.wishes
    since = (datetime.now(timezone.utc) - KEEP_DONE).isoformat(timespec="milliseconds")
    q = select(t).where(or_(t.c.state.in_((POSTED, PUBLISHED, CLAIMED)), t.c.updated_at >= since))
    if station is not None:
        q = q.where(t.c.station == station)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(t.c.posted_at)).mappings().all()
    return [{"id": r["wish_id"], "kind": r["kind"], "state": r["state"], "category": r["category"],
             "phrase": r["phrase"], "person_key": r["person_key"], "posted_at": r["posted_at"],
             **({"claimed_by": r["claimed_by"]} if r["claimed_by"] else {}),
             **({"note": r["note"]} if r["note"] else {})} for r in rows]


def find(engine: Engine, wish_id: str) -> dict[str, Any] | None:
    """One wish or suggestion by id (None when there is none)."""
    with engine.connect() as conn:
        row = conn.execute(select(m.wishes).where(m.wishes.c.wish_id == wish_id)).mappings().first()
    return dict(row) if row else None
