"""Baseline: the hub's schema as `create_all` made it before migrations (records, dead letters, stations, documents).

A database made by that code has exactly these tables and no ``alembic_version``; :mod:`hub.schema`
recognises it and stamps it at this revision instead of creating anything.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the four tables and the two record indexes."""
    op.create_table(
        "hub_records",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("hub", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("hub_records_station_seq", "hub_records", ["station", "seq"])
    op.create_index("hub_records_kind_ts", "hub_records", ["kind", "ts"])
    op.create_table(
        "hub_dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(512), nullable=False),
        sa.Column("station", sa.String(64)),
        sa.Column("record_id", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "hub_stations",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True)),
        sa.Column("status_ts", sa.String(40)),
        sa.Column("app", sa.String(40)),
        sa.Column("queue_depth", sa.Integer),
        sa.Column("oldest_unsynced", sa.String(40)),
        sa.Column("last_ack", sa.String(40)),
        sa.Column("warn", sa.Boolean),
        sa.Column("documents", sa.Text),
        sa.Column("last_batch_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "hub_documents",
        sa.Column("doc_type", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("issued", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop everything the baseline created (all hub data)."""
    op.drop_table("hub_documents")
    op.drop_table("hub_stations")
    op.drop_table("hub_dead_letters")
    op.drop_index("hub_records_kind_ts", table_name="hub_records")
    op.drop_index("hub_records_station_seq", table_name="hub_records")
    op.drop_table("hub_records")
