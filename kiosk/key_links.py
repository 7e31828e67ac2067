"""Erasing an earlier person key once the hub holds its link (``person_key_linked``).

A resident journaled under a person key of an earlier Yizhan (HMAC, or scrypt at a lower cost) is
linked to their current key on the next card read (``kiosk.identity``). The old key is cheaper to
search (one HMAC, or a cheaper scrypt, per guessed number), so it may not stay on the disk: as
soon as the hub has acknowledged the link record, every record of this journal that names the old
key is relabelled in place to the new key and the link
keeps only its new key (``old_key`` becomes ""). The journal's immutability trigger allows exactly
these two changes (schema version 5, ``kiosk.journal``). Pages are overwritten (``secure_delete``)
and the write-ahead log is checkpointed and truncated afterwards by the caller, so the old key
leaves the data directory. The hub relabels its own copies when the link arrives (``hub.person_links``).
"""
from __future__ import annotations

import sqlite3

LINK_KIND = "person_key_linked"
#: Journal meta key counting the links erased: caches of person keys (the roster) watch it.
META_RELABELLED = "person_keys.relabelled"

#: Schema version 5 of the journal: the immutability trigger of version 2 plus the two changes
#: that erase an earlier person key (a record's text with the old key replaced by the new key of a
#: link; a link's ``old_key`` emptied once no record is relabelled by it any more).
TRIGGER_V5 = """
DROP TRIGGER records_immutable;
CREATE TRIGGER records_immutable BEFORE UPDATE ON records
WHEN NOT (NEW.id = OLD.id AND NEW.station_id = OLD.station_id AND NEW.seq = OLD.seq
          AND NEW.kind = OLD.kind AND NEW.created_at = OLD.created_at AND (
    (OLD.kind IN ({erasable})
     AND json_extract(OLD.payload, '$.erased') IS NULL
     AND json_extract(NEW.payload, '$.erased') IS NOT NULL
     AND NEW.payload = json_object('erased', json_extract(NEW.payload, '$.erased')))
    OR (OLD.kind <> 'person_key_linked' AND EXISTS (
        SELECT 1 FROM records l WHERE l.kind = 'person_key_linked'
        AND length(json_extract(l.payload, '$.old_key')) >= 32
        AND instr(OLD.payload, json_extract(l.payload, '$.old_key')) > 0
        AND NEW.payload = replace(OLD.payload, json_extract(l.payload, '$.old_key'),
                                  json_extract(l.payload, '$.new_key'))))
    OR (OLD.kind = 'person_key_linked'
        AND NEW.payload = json_set(OLD.payload, '$.old_key', ''))))
BEGIN SELECT RAISE(ABORT, 'journal records are immutable (only health data or an old key can be erased)'); END;
"""


def erase_acknowledged_links(db: sqlite3.Connection, record_ids: list[str]) -> int:
    """Inside the caller's transaction: for each of ``record_ids`` that is a link record still
    holding its old key, relabel every record naming the old key to the new key, then empty the
    link's ``old_key``. Returns how many links were erased.

    Cost: one pass over the journal's payloads per batch holding links (a link is journaled once
    per migrated resident and station), nothing for a batch without one.
    """
    if not record_ids:
        return 0
    marks = ", ".join("?" * len(record_ids))
    links = db.execute(f"SELECT id, json_extract(payload, '$.old_key'), json_extract(payload, '$.new_key') "
                       f"FROM records WHERE kind = ? AND id IN ({marks}) ORDER BY seq",
                       (LINK_KIND, *record_ids)).fetchall()
    erased = 0
    for link_id, old, new in links:
        if not old or not new or len(old) < 32:
            continue
        db.execute("UPDATE records SET payload = replace(payload, ?, ?) WHERE kind <> ? AND instr(payload, ?) > 0",
                   (old, new, LINK_KIND, old))
        db.execute("UPDATE records SET payload = json_set(payload, '$.old_key', '') WHERE id = ?", (link_id,))
        erased += 1
    if erased:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                   "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)",
                   (META_RELABELLED, str(erased), erased))
    return erased
