"""The two-way station: ``hub_service_requests`` (state of each request), ``hub_request_events``,
``hub_wishes`` (微心愿 and suggestions) and ``hub_activity_events`` (sign-ups and attendance).

New tables only, so hubs at 0003 upgrade without touching their data. Requests journaled before
this revision (none: the kinds are new with it) would not be in the tables.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two tables and their indexes."""
    op.create_table(
        "hub_service_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(32), nullable=False),
        sa.Column("service_type", sa.String(64), nullable=False),
        sa.Column("service_name", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("when_label", sa.String(40), nullable=False),
        sa.Column("slot_start", sa.String(40), nullable=False),
        sa.Column("note", sa.String(32), nullable=False),
        sa.Column("priority", sa.Boolean, nullable=False),
        sa.Column("priority_account", sa.String(96), nullable=False),
        sa.Column("hours", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("volunteer_id", sa.String(64)),
        sa.Column("rating", sa.Integer),
        sa.Column("cancel_reason", sa.String(32)),
        sa.Column("cancelled_by", sa.String(64)),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("assigned_at", sa.String(40)),
        sa.Column("done_at", sa.String(40)),
        sa.Column("closed_at", sa.String(40)),
    )
    op.create_index("hub_service_requests_station_state", "hub_service_requests", ["station", "state"])
    op.create_index("hub_service_requests_service_id", "hub_service_requests", ["service_id"], unique=True)
    op.create_table(
        "hub_request_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("hub_request_events_request", "hub_request_events", ["request_id"])
    op.create_table(
        "hub_wishes",
        sa.Column("wish_id", sa.String(64), primary_key=True),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("phrase", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimer_kind", sa.String(16)),
        sa.Column("note", sa.String(200)),
        sa.Column("posted_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("updated_by", sa.String(64)),
    )
    op.create_index("hub_wishes_station_state", "hub_wishes", ["station", "state"])
    op.create_table(
        "hub_activity_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("activity_id", sa.String(64), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("hub_activity_events_activity", "hub_activity_events", ["activity_id", "event"])


def downgrade() -> None:
    """Drop the tables (the kiosk records stay in ``hub_records``)."""
    op.drop_table("hub_activity_events")
    op.drop_table("hub_wishes")
    op.drop_table("hub_request_events")
    op.drop_table("hub_service_requests")
