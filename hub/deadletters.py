"""Dead letters: what the hub set aside, why, and what of it is kept — within bounds.

A junk flood must not fill the hub's disk, and a message refused for carrying an ID number must not
be kept at all. So each dead letter keeps its reason (ID numbers masked), size and SHA-256 digest;
the payload itself only when it is at most :data:`KEEP_BYTES` and carries no ID number in any
disguise. Repeats of the same message from the same station add to ``count`` instead of a row.
Each :func:`add` keeps its station within :data:`STATION_ROWS` rows and :data:`STATION_BYTES` of
kept payloads (oldest first); :func:`enforce_limits` (run at most every :data:`ENFORCE_EVERY_S` by
the store) deletes rows older than :data:`KEEP_DAYS` and keeps all payloads within :data:`TOTAL_BYTES`.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from hub import models as m
from hub.database import HubError
from sync.messages import decode_ack, dumps, valid_station_id
from sync.screening import holds_id_number, redact

log = logging.getLogger(__name__)

#: Largest payload kept (one valid record's worth); bigger ones keep only their digest.
KEEP_BYTES = 64 * 1024
#: Payload bytes kept per station, and for all stations together.
STATION_BYTES = 8 * 1024 * 1024
TOTAL_BYTES = 256 * 1024 * 1024
#: Rows kept per station (the oldest go first).
STATION_ROWS = 10_000
#: Dead letters older than this are deleted.
KEEP_DAYS = 90
ENFORCE_EVERY_S = 1.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


def keepable(raw: bytes) -> bytes:
    """What of ``raw`` may be stored: all of it when small and free of ID numbers, else nothing."""
    if len(raw) > KEEP_BYTES:
        return b""
    try:
        private = holds_id_number(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError):
        private = holds_id_number(raw.decode("utf-8", "replace"))
    return b"" if private else raw


def add(conn: Connection, topic: str, station: str | None, reason: str, raw: bytes, *,
        record_id: str | None = None, keep: bool = True) -> int:
    """Store (or count again) one dead letter; returns its row id.

    Args:
        raw: what arrived (its digest and size are kept; the bytes only if :func:`keepable`).
        keep: False never stores the bytes (the record carried an ID number).
    """
    now = _now()
    digest = hashlib.sha256(raw).hexdigest()
    station = (station or "")[:64] or None
    dl = m.dead_letters
    row = conn.execute(select(dl.c.id).where((dl.c.station == station) if station else dl.c.station.is_(None))
                       .where(dl.c.digest == digest).where(dl.c.replayed_at.is_(None)).limit(1)).first()
    if row:
        conn.execute(update(dl).where(dl.c.id == row[0]).values(count=dl.c.count + 1, last_at=now))
        return row[0]
    result = conn.execute(dl.insert().values(
        received_at=now, last_at=now, topic=redact(topic)[:512], station=station, record_id=record_id,
        reason=redact(reason)[:2000], size=len(raw), payload=keepable(raw) if keep else b"", digest=digest, count=1))
    _cap_station(conn, station)
    return result.inserted_primary_key[0]


def _cap_station(conn: Connection, station: str | None) -> None:
    """Keep one station's dead letters within :data:`STATION_ROWS` and :data:`STATION_BYTES`."""
    dl = m.dead_letters
    where = (dl.c.station == station) if station is not None else dl.c.station.is_(None)
    rows, kept = conn.execute(select(func.count(), func.coalesce(func.sum(func.length(dl.c.payload)), 0))
                              .where(where)).one()
    if rows > STATION_ROWS:
        cutoff = conn.execute(select(dl.c.id).where(where).order_by(dl.c.id.desc()).offset(STATION_ROWS)
                              .limit(1)).scalar()
        conn.execute(delete(dl).where(where).where(dl.c.id <= cutoff))
    if kept > STATION_BYTES:
        _empty_oldest(conn, where, kept - STATION_BYTES)


#: Conflicts kept per station (the newest); their payloads are emptied beyond :data:`STATION_BYTES`.
CONFLICT_ROWS = 1000


def cap_conflicts(conn: Connection, station: str) -> None:
    """Keep one station's conflicts within :data:`CONFLICT_ROWS` rows and :data:`STATION_BYTES` of
    payload (the oldest go first), like its dead letters."""
    c = m.conflicts
    rows, kept = conn.execute(select(func.count(), func.coalesce(func.sum(func.length(c.c.payload)), 0))
                              .where(c.c.station == station)).one()
    if rows > CONFLICT_ROWS:
        cutoff = conn.execute(select(c.c.id).where(c.c.station == station).order_by(c.c.id.desc())
                              .offset(CONFLICT_ROWS).limit(1)).scalar()
        conn.execute(delete(c).where((c.c.station == station) & (c.c.id <= cutoff)))
    if kept > STATION_BYTES:
        freed, ids = 0, []
        for rid, size in conn.execute(select(c.c.id, func.length(c.c.payload)).where(
                (c.c.station == station) & (func.length(c.c.payload) > 0)).order_by(c.c.id)):
            ids.append(rid)
            freed += size
            if freed >= kept - STATION_BYTES:
                break
        for i in range(0, len(ids), 500):
            conn.execute(update(c).where(c.c.id.in_(ids[i:i + 500])).values(payload=""))


def enforce_limits(conn: Connection, now: datetime | None = None) -> dict[str, int]:
    """Expire old rows, then empty the oldest payloads while all stations together keep more than
    :data:`TOTAL_BYTES` (the per-station caps are kept at every :func:`add`).

    Returns:
        counts of what was done: ``expired``, ``emptied``.
    """
    now = now or _now()
    dl = m.dead_letters
    done = {"expired": 0, "emptied": 0}
    done["expired"] = conn.execute(delete(dl).where(dl.c.received_at < now - timedelta(days=KEEP_DAYS))).rowcount
    done["expired"] += conn.execute(delete(m.conflicts).where(
        m.conflicts.c.received_at < now - timedelta(days=KEEP_DAYS))).rowcount
    total = conn.execute(select(func.coalesce(func.sum(func.length(dl.c.payload)), 0))).scalar_one()
    if total > TOTAL_BYTES:
        done["emptied"] += _empty_oldest(conn, dl.c.id.isnot(None), total - TOTAL_BYTES)
    if any(done.values()):
        log.warning("dead letters trimmed: %s", done)
    return done


def _empty_oldest(conn: Connection, where, excess: int) -> int:
    """Empty the payloads of the oldest rows matching ``where`` until ``excess`` bytes are freed."""
    dl = m.dead_letters
    emptied, ids = 0, []
    for rid, size in conn.execute(select(dl.c.id, func.length(dl.c.payload)).where(where)
                                  .where(func.length(dl.c.payload) > 0).order_by(dl.c.id)):
        ids.append(rid)
        emptied += size
        if emptied >= excess:
            break
    for i in range(0, len(ids), 500):
        conn.execute(update(dl).where(dl.c.id.in_(ids[i:i + 500])).values(payload=b""))
    return len(ids)


def listing(conn: Connection, station: str | None = None, limit: int = 1000) -> list[dict]:
    """Dead letters, oldest first: id, time, topic, station, record id, reason, size, count, whether
    the payload is kept, digest, replay time."""
    dl = m.dead_letters
    q = (select(dl.c.id, dl.c.received_at, dl.c.topic, dl.c.station, dl.c.record_id, dl.c.reason, dl.c.size,
                dl.c.count, (func.length(dl.c.payload) > 0).label("kept"), dl.c.digest, dl.c.replayed_at)
         .order_by(dl.c.id).limit(limit))
    if station:
        q = q.where(dl.c.station == station)
    return [dict(r) for r in conn.execute(q).mappings()]


def stored_bytes(conn: Connection) -> int:
    """Payload bytes all dead letters keep."""
    return conn.execute(select(func.coalesce(func.sum(func.length(m.dead_letters.c.payload)), 0))).scalar_one()


def conflict_listing(conn: Connection, station: str | None = None) -> list[dict]:
    """Conflicts, oldest first: id, time, station, record id, kind, ts, batch, both digests."""
    c = m.conflicts
    q = select(c.c.id, c.c.received_at, c.c.station, c.c.record_id, c.c.kind, c.c.ts, c.c.batch_id, c.c.digest,
               c.c.stored_digest).order_by(c.c.id)
    if station:
        q = q.where(c.c.station == station)
    return [dict(r) for r in conn.execute(q).mappings()]


def replay(store, dead_letter_id: int) -> str:
    """Run a dead letter through the door again, now that its cause is fixed.

    A record dead letter is stored as a one-record batch of the station it names (what the
    station meant it to be); a whole message goes through as it came. Nothing is acknowledged:
    the station, which kept the record, is answered "duplicate" the next time it offers it.

    Args:
        store: the :class:`hub.store.HubStore` whose door it goes through.

    Returns:
        what happened, in words.

    Raises:
        HubError: unknown id, payload not kept, or already replayed.
    """
    dl = m.dead_letters
    with store.engine.connect() as conn:
        row = conn.execute(select(dl.c.topic, dl.c.station, dl.c.record_id, dl.c.payload, dl.c.replayed_at, dl.c.reason)
                           .where(dl.c.id == dead_letter_id)).first()
    if row is None:
        raise HubError(f"dead letter {dead_letter_id}: no such dead letter")
    topic, station, record_id, payload, replayed_at, reason = row
    if replayed_at is not None:
        raise HubError(f"dead letter {dead_letter_id}: already replayed at {replayed_at:%Y-%m-%d %H:%M}")
    if not payload:
        raise HubError(f"dead letter {dead_letter_id}: its content was not kept ({reason[:120]}); "
                       "the station still holds the record and offers it again at its next start")
    raw, suffix_station = bytes(payload), station
    if reason.startswith("record "):
        try:
            item = json.loads(raw)
            suffix_station = item["station"] if valid_station_id(item.get("station")) else station
        except (ValueError, TypeError, AttributeError):
            raise HubError(f"dead letter {dead_letter_id}: the kept record is not JSON") from None
        raw = dumps({"v": 1, "station": suffix_station, "batch": f"replay-{dead_letter_id}", "records": [item]})
    reply = store.handle_records(f"replay/{suffix_station}/records", suffix_station or "", raw)
    ack = decode_ack(reply.payload) if reply is not None else None
    if ack is None or ack.rejected:
        why = ", ".join(code for _, code in ack.refused) if ack else "the message is still refused"
        raise HubError(f"dead letter {dead_letter_id}: still refused ({why}); see the newest dead letter "
                       "or `yizhan hub conflicts`")
    with store.engine.begin() as conn:
        conn.execute(update(dl).where(dl.c.id == dead_letter_id).values(replayed_at=_now()))
    return f"dead letter {dead_letter_id}: replayed for station {suffix_station}"
