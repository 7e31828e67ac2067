"""Person-key links at the hub: a kiosk that reads a card whose records were journaled under the
person key of an earlier Yizhan (HMAC-SHA256) journals ``person_key_linked`` (old -> new). When such
a link arrives, the hub relabels everything it holds under the old key to the new one and keeps the
link without its old key (:func:`relabel_links`): the old key, cheap to search with the district
key, is kept nowhere. The roster therefore hands the new key back to the stations, so a volunteer
registered under the old key is recognised under the new one at every station; :func:`key_links`
still follows links stored before this relabelling existed.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, Text, func, select, update
from sqlalchemy.engine import Connection

from hub import models as m

LINK_KIND = "person_key_linked"


def key_links(conn: Connection) -> dict[str, str]:
    """Old person key -> newest person key, from every ``person_key_linked`` record the hub holds."""
    links: dict[str, str] = {}
    rows = conn.execute(select(m.records.c.payload).where(m.records.c.kind == LINK_KIND)
                        .order_by(m.records.c.ts, m.records.c.id))
    for (payload,) in rows:
        try:
            doc = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        old, new = doc.get("old_key"), doc.get("new_key")
        if isinstance(old, str) and isinstance(new, str) and old and new:
            links[old] = new
    return links


def current_key(links: dict[str, str], key: str) -> str:
    """``key`` after following its links (a chain of derivations ends at the newest key)."""
    seen = {key}
    while key in links and links[key] not in seen:
        key = links[key]
        seen.add(key)
    return key


def relink_roster(volunteers: list[Any], links: dict[str, str]) -> None:
    """Replace, in place, each roster entry's person key by its current key."""
    for entry in volunteers:
        if isinstance(entry, dict) and entry.get("person_key"):
            entry["person_key"] = current_key(links, str(entry["person_key"]))


def erased_link(payload_json: str) -> str:
    """A link record's payload as the hub keeps it: the same JSON with ``old_key`` emptied, written
    as the kiosk's journal writes it once the hub acknowledged the link (``kiosk.key_links``)."""
    doc = json.loads(payload_json)
    doc["old_key"] = ""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def same_link(kind: str, sent: str, stored: str) -> bool:
    """Whether a link record sent again equals the one stored (and relabelled) here."""
    if kind != LINK_KIND:
        return False
    try:
        return erased_link(sent) == stored or erased_link(sent) == erased_link(stored)
    except (ValueError, TypeError, AttributeError):
        return False


#: Columns that may hold a person key, outside ``hub_records.payload`` (found by name: ``*key``).
def _key_columns() -> list[tuple[Any, Any]]:
    return [(t, c) for t in m.metadata.sorted_tables if t.name not in ("hub_records", "hub_conflicts")
            for c in t.columns if isinstance(c.type, (String, Text)) and c.name.endswith("key")]


def relabel_links(conn: Connection, stored: list[Any]) -> int:
    """For each ``person_key_linked`` record among ``stored`` (records just added, with ``station``,
    ``id``, ``kind``, ``payload_json``), in ``conn``'s transaction: relabel every record and every
    table row naming the old key to the new key, and keep the link with ``old_key`` emptied.
    Records are found through ``hub_person_records`` (any station) and by a scan of the link's own
    station's records (the kinds that index leaves out); other tables by their ``*key`` columns.
    Returns how many links were applied.
    """
    r, p = m.records.c, m.person_records.c
    applied = 0
    for rec in stored:
        if rec.kind != LINK_KIND:
            continue
        try:
            doc = json.loads(rec.payload_json)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        old, new = doc.get("old_key"), doc.get("new_key")
        if not (isinstance(old, str) and isinstance(new, str) and len(old) >= 32 and new):
            continue
        named = conn.execute(select(p.station, p.record_id).where(p.person_key == old)).all()
        for station, record_id in named:
            conn.execute(update(m.records).where((r.station == station) & (r.id == record_id))
                         .values(payload=func.replace(r.payload, old, new)))
        conn.execute(update(m.records).where((r.station == rec.station) & (r.kind != LINK_KIND)
                                             & r.payload.contains(old, autoescape=True))
                     .values(payload=func.replace(r.payload, old, new)))
        for table, column in _key_columns():
            conn.execute(update(table).where(column == old).values({column.name: new}))
        conn.execute(update(m.records).where((r.station == rec.station) & (r.id == rec.id))
                     .values(payload=erased_link(rec.payload_json)))
        applied += 1
    return applied
