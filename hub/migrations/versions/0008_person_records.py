"""``hub_person_records``: which person each health, service and consent record names.

The workbench's resident search and page, and a consent withdrawal, read the person from the
payload of every such record the hub ever stored; with this table (kept by ``hub/ledger.py`` as
records arrive) a key or a key prefix is a range of its primary key. Upgrading a hub that already
holds records fills it from them, in the migration's transaction. Health records erased before
this revision were deleted then, so nothing of them is here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

from hub.ledger import index_people_in

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and its index, then fill it from the stored records."""
    op.create_table(
        "hub_person_records",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
    )
    op.create_index("hub_person_records_record", "hub_person_records", ["station", "record_id"])
    index_people_in(op.get_bind())


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("hub_person_records")
