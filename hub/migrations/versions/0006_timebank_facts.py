"""Time-bank facts kept beside the records: movements, balances, services, volunteers, shifts, reviews, station counts.

The hub reads reports, balances and rosters from these tables by indexed columns instead of parsing
every record it ever stored (``hub/ledger.py`` keeps them up to date as records arrive). Upgrading a
hub that already holds records fills them from those records, in the migration's transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

from hub.ledger import rebuild_in

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and their indexes, then fill them from the stored records."""
    op.create_table(
        "hub_movements",
        sa.Column("movement_id", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("debit", sa.String(160), nullable=False),
        sa.Column("credit", sa.String(160), nullable=False),
        sa.Column("micro_hours", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("at_station", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
    )
    op.create_index("hub_movements_credit", "hub_movements", ["credit", "ts"])
    op.create_index("hub_movements_debit", "hub_movements", ["debit"])
    op.create_index("hub_movements_reference", "hub_movements", ["reference"])
    op.create_index("hub_movements_station_seq", "hub_movements", ["station", "seq"])
    op.create_index("hub_movements_ts", "hub_movements", ["ts"])
    op.create_table(
        "hub_accounts",
        sa.Column("account", sa.String(160), primary_key=True),
        sa.Column("micro_hours", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "hub_account_stations",
        sa.Column("account", sa.String(160), primary_key=True),
        sa.Column("station", sa.String(64), primary_key=True),
    )
    op.create_table(
        "hub_services",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64)),
        sa.Column("station", sa.String(64)),
        sa.Column("ts", sa.String(40)),
        sa.Column("volunteer_id", sa.String(64)),
        sa.Column("team", sa.String(64)),
        sa.Column("service_type", sa.String(64)),
        sa.Column("service_name", sa.String(200)),
        sa.Column("micro_hours", sa.BigInteger),
        sa.Column("confirmed_record_id", sa.String(64)),
        sa.Column("confirmed_station", sa.String(64)),
        sa.Column("confirmed_ts", sa.String(40)),
        sa.Column("confirmed_volunteer_id", sa.String(64)),
        sa.Column("rating", sa.Integer),
        sa.Column("confirmed_micro_hours", sa.BigInteger),
    )
    op.create_index("hub_services_confirmed_ts", "hub_services", ["confirmed_ts"])
    op.create_index("hub_services_ts", "hub_services", ["ts"])
    op.create_table(
        "hub_volunteers",
        sa.Column("volunteer_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("team", sa.String(64)),
        sa.Column("card_uid", sa.String(64)),
        sa.Column("person_key", sa.String(128)),
        sa.Column("registered_ts", sa.String(40)),
        sa.Column("registered_record_id", sa.String(64)),
        sa.Column("rebound_ts", sa.String(40)),
        sa.Column("rebound_card_uid", sa.String(64)),
        sa.Column("rebound_person_key", sa.String(128)),
    )
    op.create_table(
        "hub_shifts",
        sa.Column("shift_id", sa.String(64), primary_key=True),
        sa.Column("volunteer_id", sa.String(64)),
        sa.Column("station", sa.String(64)),
        sa.Column("ts", sa.String(40)),
        sa.Column("record_id", sa.String(64)),
        sa.Column("since", sa.String(40)),
        sa.Column("team", sa.String(64)),
        sa.Column("activity", sa.String(64)),
        sa.Column("closed", sa.Boolean, nullable=False),
    )
    op.create_index("hub_shifts_open", "hub_shifts", ["closed", "ts"])
    op.create_table(
        "hub_reviews",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("shift_id", sa.String(64), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("since", sa.String(40), nullable=False),
        sa.Column("until", sa.String(40), nullable=False),
        sa.Column("proposed_hours", sa.String(20), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("activity", sa.String(64), nullable=False),
    )
    op.create_index("hub_reviews_shift", "hub_reviews", ["shift_id"])
    op.create_table(
        "hub_station_counts",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100)),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("through", sa.BigInteger, nullable=False),
    )
    rebuild_in(op.get_bind())


def downgrade() -> None:
    """Drop the maintained tables (the records they were built from stay)."""
    op.drop_table("hub_station_counts")
    op.drop_index("hub_reviews_shift", table_name="hub_reviews")
    op.drop_table("hub_reviews")
    op.drop_index("hub_shifts_open", table_name="hub_shifts")
    op.drop_table("hub_shifts")
    op.drop_table("hub_volunteers")
    op.drop_index("hub_services_confirmed_ts", table_name="hub_services")
    op.drop_index("hub_services_ts", table_name="hub_services")
    op.drop_table("hub_services")
    op.drop_table("hub_account_stations")
    op.drop_table("hub_accounts")
    op.drop_index("hub_movements_credit", table_name="hub_movements")
    op.drop_index("hub_movements_debit", table_name="hub_movements")
    op.drop_index("hub_movements_reference", table_name="hub_movements")
    op.drop_index("hub_movements_station_seq", table_name="hub_movements")
    op.drop_index("hub_movements_ts", table_name="hub_movements")
    op.drop_table("hub_movements")
