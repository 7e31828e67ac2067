"""Every derived table keyed by (station, id): ``hub_request_events``, ``hub_activity_events``,
``hub_family_events`` and ``hub_movements`` were keyed by the record (or movement) id alone, so an
id one station stored first hid another station's own (issue 22). Each table is rebuilt with the
station in its primary key, keeping every row and index. ``hub_station_quota`` counts each
station's records per day against its quotas (``hub/quotas.py``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = sa.String


def _tables(key: str) -> dict[str, tuple[list[sa.Column], list[tuple[str, list[str]]]]]:
    """table -> (columns, indexes); ``key`` is "station" (new) or "" (old: the id alone)."""
    new = key == "station"
    return {
        "hub_request_events": ([
            sa.Column("id", S(64), primary_key=True), sa.Column("request_id", S(64), nullable=False),
            sa.Column("event", S(16), nullable=False), sa.Column("actor", S(64), nullable=False),
            sa.Column("station", S(64), nullable=False, primary_key=new), sa.Column("at", S(40), nullable=False),
            sa.Column("detail", sa.Text, nullable=False)],
            [("hub_request_events_request", ["request_id"])]),
        "hub_activity_events": ([
            sa.Column("id", S(64), primary_key=True), sa.Column("activity_id", S(64), nullable=False),
            sa.Column("station", S(64), nullable=False, primary_key=new),
            sa.Column("person_key", S(64), nullable=False), sa.Column("event", S(16), nullable=False),
            sa.Column("at", S(40), nullable=False)],
            [("hub_activity_events_activity", ["activity_id", "event"])]),
        "hub_family_events": ([
            sa.Column("id", S(64), primary_key=True), sa.Column("volunteer_id", S(64), nullable=False),
            sa.Column("family_key", S(64), nullable=False), sa.Column("display_name", S(32), nullable=False),
            sa.Column("linked", sa.Boolean, nullable=False),
            sa.Column("station", S(64), nullable=False, primary_key=new), sa.Column("at", S(40), nullable=False)],
            [("hub_family_events_family", ["family_key"]), ("hub_family_events_volunteer", ["volunteer_id"])]),
        "hub_movements": ([
            sa.Column("movement_id", S(64), primary_key=True), sa.Column("record_id", S(64), nullable=False),
            sa.Column("station", S(64), nullable=False, primary_key=new), sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("ts", S(40), nullable=False), sa.Column("kind", S(16), nullable=False),
            sa.Column("debit", S(160), nullable=False), sa.Column("credit", S(160), nullable=False),
            sa.Column("micro_hours", sa.BigInteger, nullable=False), sa.Column("source", S(16), nullable=False),
            sa.Column("team", S(64), nullable=False), sa.Column("at_station", S(64), nullable=False),
            sa.Column("reference", S(200), nullable=False)],
            [("hub_movements_ts", ["ts"]), ("hub_movements_credit", ["credit", "ts"]),
             ("hub_movements_debit", ["debit"]), ("hub_movements_station_seq", ["station", "seq"]),
             ("hub_movements_reference", ["reference"])]),
    }


def _rebuild(key: str) -> None:
    for table, (columns, indexes) in _tables(key).items():
        names = ", ".join(c.name for c in columns)
        op.create_table(f"{table}__new", *columns)
        op.execute(f"INSERT INTO {table}__new ({names}) SELECT {names} FROM {table}")
        op.drop_table(table)
        op.rename_table(f"{table}__new", table)
        for name, cols in indexes:
            op.create_index(name, table, cols)


def upgrade() -> None:
    """Rebuild the four tables with (station, id) primary keys; add the per-station quota counters."""
    _rebuild("station")
    op.create_table(
        "hub_station_quota",
        sa.Column("station", S(64), primary_key=True),
        sa.Column("day", S(10), primary_key=True),
        sa.Column("kind", S(64), primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Back to id-only keys (fails if two stations now hold the same id, as it should)."""
    op.drop_table("hub_station_quota")
    _rebuild("")
