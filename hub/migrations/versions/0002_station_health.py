"""Station health: each station's latest ``yizhan doctor`` summary and the clock offset seen with its status.

A new table only, so hubs at 0001 upgrade without touching their data.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``hub_station_health``."""
    op.create_table(
        "hub_station_health",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_ts", sa.String(40), nullable=False),
        sa.Column("clock_offset_s", sa.Float, nullable=False),
        sa.Column("healthy", sa.Boolean),
        sa.Column("health", sa.Text),
    )


def downgrade() -> None:
    """Drop ``hub_station_health`` (the summaries come back with the next status messages)."""
    op.drop_table("hub_station_health")
