"""Records keyed by (station, id); conflicts kept aside; dead letters with digest, count, replay mark.

- ``hub_records``: the primary key becomes (station, id), so a station can no longer pre-store a
  record under an id another station will use. The table is rebuilt (SQLite cannot change a
  primary key in place) and every row copied.
- ``hub_conflicts``: new; same key, different content.
- ``hub_dead_letters``: ``digest`` (SHA-256 of what arrived), ``count`` (repeats), ``last_at``,
  ``replayed_at``. Payloads that hold an ID number in any disguise (the check before this revision
  scanned raw bytes, so escaped or split numbers were stored) and payloads over 64 KiB are emptied:
  only the reason, size and digest stay.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

from sync.screening import holds_id_number

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KEEP_LIMIT = 64 * 1024
RECORD_COLUMNS = ("station", "id", "seq", "kind", "ts", "payload", "batch_id", "hub", "received_at")

#: The workbench's partial indexes (revision 0003) on hub_records, rebuilt with the table.
PARTIAL_INDEXES = (("hub_records_alerts", "health_alert"), ("hub_records_follow_ups", "service_follow_up"))


def _drop_record_indexes() -> None:
    for name, _kind in PARTIAL_INDEXES:
        op.drop_index(name, table_name="hub_records")
    op.drop_index("hub_records_kind_ts", table_name="hub_records")
    op.drop_index("hub_records_station_seq", table_name="hub_records")


def _create_record_indexes() -> None:
    op.create_index("hub_records_station_seq", "hub_records", ["station", "seq"])
    op.create_index("hub_records_kind_ts", "hub_records", ["kind", "ts"])
    for name, kind in PARTIAL_INDEXES:
        where = sa.text(f"kind = '{kind}'")
        op.create_index(name, "hub_records", ["station", "ts"], sqlite_where=where, postgresql_where=where)


def _record_columns():
    return [
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("hub", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _payload_is_private(payload: bytes) -> bool:
    try:
        return holds_id_number(json.loads(payload.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return holds_id_number(payload.decode("utf-8", "replace"))


def upgrade() -> None:
    """Rebuild hub_records with the (station, id) key; add hub_conflicts; extend and scrub dead letters."""
    op.create_table("hub_records_v2", *_record_columns(),
                    sa.PrimaryKeyConstraint("station", "id", name="hub_records_station_id_pkey"))
    cols = ", ".join(RECORD_COLUMNS)
    op.execute(f"INSERT INTO hub_records_v2 ({cols}) SELECT {cols} FROM hub_records")
    _drop_record_indexes()
    op.drop_table("hub_records")
    op.rename_table("hub_records_v2", "hub_records")
    _create_record_indexes()

    op.create_table(
        "hub_conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("stored_digest", sa.String(64), nullable=False),
        sa.Column("hub", sa.String(64)),
    )
    op.create_index("hub_conflicts_station_record", "hub_conflicts", ["station", "record_id"])

    with op.batch_alter_table("hub_dead_letters") as batch:
        batch.add_column(sa.Column("digest", sa.String(64)))
        batch.add_column(sa.Column("count", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("replayed_at", sa.DateTime(timezone=True)))
    op.create_index("hub_dead_letters_station_digest", "hub_dead_letters", ["station", "digest"])
    op.create_index("hub_dead_letters_received", "hub_dead_letters", ["received_at"])

    conn = op.get_bind()
    table = sa.table("hub_dead_letters", sa.column("id", sa.Integer), sa.column("payload", sa.LargeBinary),
                     sa.column("digest", sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(table.c.id, table.c.payload).where(table.c.id > last)
                            .order_by(table.c.id).limit(500)).all()
        if not rows:
            break
        for rid, payload in rows:
            payload = bytes(payload or b"")
            values = {"digest": hashlib.sha256(payload).hexdigest()}
            if len(payload) > KEEP_LIMIT or _payload_is_private(payload):
                values["payload"] = b""
            conn.execute(table.update().where(table.c.id == rid).values(**values))
        last = rows[-1][0]


def downgrade() -> None:
    """Back to one global id key (records of the same id at two stations keep the first)."""
    op.drop_index("hub_dead_letters_received", table_name="hub_dead_letters")
    op.drop_index("hub_dead_letters_station_digest", table_name="hub_dead_letters")
    with op.batch_alter_table("hub_dead_letters") as batch:
        batch.drop_column("replayed_at")
        batch.drop_column("last_at")
        batch.drop_column("count")
        batch.drop_column("digest")
    op.drop_index("hub_conflicts_station_record", table_name="hub_conflicts")
    op.drop_table("hub_conflicts")
    op.create_table("hub_records_v1", *[sa.Column(c.name, c.type, nullable=c.nullable) for c in _record_columns()],
                    sa.PrimaryKeyConstraint("id", name="hub_records_id_pkey"))
    cols = ", ".join(RECORD_COLUMNS)
    op.execute(f"INSERT INTO hub_records_v1 ({cols}) SELECT {cols} FROM hub_records r WHERE NOT EXISTS "
               "(SELECT 1 FROM hub_records o WHERE o.id = r.id AND o.station < r.station)")
    _drop_record_indexes()
    op.drop_table("hub_records")
    op.rename_table("hub_records_v1", "hub_records")
    _create_record_indexes()
