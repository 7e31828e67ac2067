"""家属优先: ``hub_family_events``, every link and unlink of a volunteer's family member.

A new table only; links journaled before this revision (none: the kinds are new with it) would
not be in it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and its indexes."""
    op.create_table(
        "hub_family_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("family_key", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(32), nullable=False),
        sa.Column("linked", sa.Boolean, nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("hub_family_events_family", "hub_family_events", ["family_key"])
    op.create_index("hub_family_events_volunteer", "hub_family_events", ["volunteer_id"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("hub_family_events")
