"""Person-key links at the hub: a kiosk that reads a card whose records were journaled under the
person key of an earlier Yizhan (HMAC-SHA256) journals ``person_key_linked`` (old -> new). The hub
follows those links wherever it hands a person key back to the stations (the roster), so a
volunteer registered under the old key is recognised under the new one at every station.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
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
