"""Screening to care: ``hub_care_status``, ``hub_care_steps`` and ``hub_care_events`` (``hub/care.py``).

Upgrading a hub that already holds readings folds every resident's status from them, in the
migration's transaction.

Revision ID: 0010
revises: 0009
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

from hub.care import rebuild_in

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and their indexes, then fold the stored readings."""
    op.create_table(
        "hub_care_status",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("track", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("since", sa.String(10)),
        sa.Column("due", sa.String(10)),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("consent", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("hub_care_status_worklist", "hub_care_status", ["status", "since"])
    op.create_index("hub_care_status_station", "hub_care_status", ["station", "status"])
    op.create_table(
        "hub_care_steps",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("track", sa.String(16), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("step", sa.String(24), primary_key=True),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
    )
    op.create_index("hub_care_steps_day", "hub_care_steps", ["day", "station"])
    op.create_table(
        "hub_care_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("track", sa.String(16), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
    )
    op.create_index("hub_care_events_person", "hub_care_events", ["person_key", "track"])
    rebuild_in(op.get_bind())


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("hub_care_events")
    op.drop_table("hub_care_steps")
    op.drop_table("hub_care_status")
